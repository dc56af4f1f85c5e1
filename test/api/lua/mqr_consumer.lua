-- mqr_consumer: a standalone service of test/api/test-mqr.c (preload: mqr), run as two
-- instances. Each receives from "api_work" until recv returns nil, which happens only
-- when the server stops, and logs every message it got and, at the end, how many.
local mqr_consumer = {}

mqr_consumer.init = function()
end

mqr_consumer.run = function()
  local q = mqr.create("api_work", 64)
  local n = 0
  while true do
    local m = q:recv()
    if m == nil then
      break
    end
    n = n + 1
    print("got " .. m.i)
  end
  print("stopped " .. instance_id .. " after " .. n)
end

return mqr_consumer
