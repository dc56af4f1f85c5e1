-- echo: the raw Lua echo of bench/echo/run.sh --lua and callgrind.sh --lua. Every message
-- goes back as it came (same opcode, same bytes), as lappsd's built-in C /echo does.
local echo = {}

echo.onStart = function()
end

echo.onMessage = function(handler, opcode, message)
  -- true, or false and a reason; anything but true closes the connection with 1011
  return ws:send(handler, opcode, message)
end

echo.onDisconnect = function(handler)
end

echo.onShutdown = function()
end

return echo
