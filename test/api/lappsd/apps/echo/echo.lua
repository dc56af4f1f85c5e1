-- echo: the raw echo of test-lappsd's LAppS-style configuration (apps/echo/echo.lua).
local echo = {}
echo.onStart = function() print("echo: started, clock says " .. tostring(clock_started)) end
echo.onMessage = function(handler, opcode, message)
  return ws:send(handler, opcode, message)
end
echo.onDisconnect = function(handler) end
echo.onShutdown = function() end
return echo
