-- ticker: the standalone test service of test/api/test-lua.c (preload: nap). init() and
-- run() log what they see; run() sleeps an hour at a time until must_stop(): the stop
-- must cut the sleep short.
local ticker = {}

ticker.init = function()
  print("ticker: init " .. instance_id .. " " .. type(instance_id))
end

ticker.run = function()
  print("ticker: run " .. instance_id)
  local n = nap:new()
  while not must_stop() do
    n:sleep(3600)
  end
  print("ticker: run ends " .. instance_id)
end

return ticker
