-- echo: a raw WebSocket service. Every message goes back as it came, text as text and
-- binary as binary. Run it with `lappsd -c examples/lua` (ws://127.0.0.1:5083/echo).
local echo = {}

echo.onStart = function()
  print("started") -- the log line says which service
end

echo.onMessage = function(handler, opcode, message)
  local ok, err = ws:send(handler, opcode, message)
  if not ok then
    print(err)
  end
  -- Anything but true closes this connection with 1011.
  return ok
end

echo.onDisconnect = function(handler)
end

echo.onShutdown = function()
  print("stopped")
end

return echo
