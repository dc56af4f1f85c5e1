-- cws_echo_client: a standalone service that talks to the local /echo service (the
-- `echo` example) with the cws module, as a LAppS app would: it sends a greeting every
-- second and logs what comes back. Not enabled in ../../lapps.json; to try it, add
--
--   "cws_echo_client": { "auto_start": true, "instances": 1, "standalone": true,
--                        "preload": [ "cws", "nap" ] }
--
-- and set CWS_ECHO_URI if lappsd does not listen on ws://127.0.0.1:5083 (lappsd's
-- default port). For a wss:// server with a private CA, pass a third argument to
-- cws:new: { ca_file = "/path/ca.pem" } (or { verify = false } to skip the check, as
-- LAppS did).
local cws_echo_client = {}

cws_echo_client.init = function()
end

cws_echo_client.run = function()
  local uri = os.getenv("CWS_ECHO_URI") or "ws://127.0.0.1:5083/echo"
  local open, count, last = nil, 0, 0
  local sock, err = cws:new(uri, {
    onopen = function(handler)
      print("connected to " .. uri .. " as handler " .. handler)
      open = handler
    end,
    onmessage = function(handler, message, opcode)
      print("echo (opcode " .. opcode .. "): " .. message)
    end,
    onerror = function(handler, message)
      print("error on handler " .. handler .. ": " .. message)
      open = nil
    end,
    onclose = function(handler, payload, code, reason)
      print("closed, code " .. code .. " " .. reason)
      open = nil
    end,
  })
  if not sock then
    print(err)
    return
  end
  while not must_stop() do
    cws:eventLoop()
    if open and os.time() ~= last then
      last = os.time()
      count = count + 1
      cws:send(open, "hello #" .. count .. " from cws_echo_client", 1)
    end
  end
  sock:close(1001, "service stopping")
  -- Give the server a moment to answer the close (bounded: at most 50 passes).
  for _ = 1, 50 do
    if not open then break end
    cws:eventLoop()
  end
end

return cws_echo_client
