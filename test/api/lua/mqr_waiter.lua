-- mqr_waiter: an isolated raw service of test/api/test-mqr.c (preload: mqr, nap). Any
-- message makes it wait in recv on a queue nobody posts to; only the server's stop ends
-- that wait (recv returns nil), and a nap after it ends at once too.
local mqr_waiter = {}

mqr_waiter.onStart = function()
end

mqr_waiter.onMessage = function(handler, opcode, message)
  print("waiting")
  local m = mqr.create("api_nobody_posts"):recv()
  print("recv returned " .. tostring(m))
  local t = os.time()
  nap:new():sleep(60)
  print("nap ended early: " .. tostring(os.time() - t < 30))
  return true
end

mqr_waiter.onDisconnect = function(handler)
end

mqr_waiter.onShutdown = function()
  print("shutdown")
end

return mqr_waiter
