-- clock: a standalone service echo depends on (so it is registered first); it sleeps
-- with nap (a preload) until the server stops.
local clock = {}
clock.init = function() print("clock: init") end
clock.run = function()
  local n = nap:new()
  while not must_stop() do n:sleep(1) end
  print("clock: stopped")
end
return clock
