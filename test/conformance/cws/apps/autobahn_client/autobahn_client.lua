-- autobahn_client: drives the Autobahn TestSuite's fuzzing server with the cws module, so
-- the client side of liblapps is held to the same conformance suite as the server. A
-- standalone service: it asks the server how many cases there are, runs each one as an
-- echo client (every message comes back with its opcode), asks for the report, logs
-- "all done" and idles until lappsd stops. The server's address: AUTOBAHN_URI (default
-- ws://127.0.0.1:9031).
local autobahn_client = {}

local function run_case(uri, echo)
  local done, text = false, nil
  local sock, err = cws:new(uri, {
    onmessage = function(h, message, opcode)
      if echo then cws:send(h, message, opcode) else text = message end
    end,
    onerror = function() done = true end, -- a connection that never opened
    onclose = function() done = true end,
  }, {max_message = 64 * 1024 * 1024, timeout = 60}) -- 9.* sends up to 16 MiB
  if not sock then
    print(err)
    return nil
  end
  while not done and not must_stop() do cws:eventLoop() end
  return text
end

autobahn_client.init = function()
end

autobahn_client.run = function()
  local base = os.getenv("AUTOBAHN_URI") or "ws://127.0.0.1:9031"
  local n = tonumber(run_case(base .. "/getCaseCount", false))
  print("cases: " .. tostring(n))
  for i = 1, n or 0 do run_case(base .. "/runCase?case=" .. i .. "&agent=cws", true) end
  run_case(base .. "/updateReports?agent=cws", false)
  print("all done")
  local z = nap:new()
  while not must_stop() do z:sleep(1) end
end

return autobahn_client
