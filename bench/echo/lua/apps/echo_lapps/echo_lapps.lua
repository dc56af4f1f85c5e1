-- echo_lapps: the LAppS-protocol Lua echo of bench/echo/run.sh --lua and callgrind.sh --lua,
-- the same service as lappsd's built-in C /echo_lapps: every request is answered with its
-- own params, {"cid": 0, "status": 1, "result": <params>}; notifications get no answer.
-- loadgen --lapps sends {"lapps": 1, "method": "echo", "params": [h'...']} and checks the
-- answer byte for byte.
local echo_lapps = {}

-- Built once: assigning into an nljson value copies the data, so the response is reused.
local response = nljson.decode('{"cid":0,"status":1,"result":[]}')
local empty = nljson.decode('{"cid":0,"status":1,"result":[]}')

echo_lapps.onStart = function()
end

-- msg_type: 1 a notification, 2 one with params, 3 a request, 4 one with params.
echo_lapps.onMessage = function(handler, msg_type, message)
  if msg_type == 4 then
    response.result = message.params
    return ws:send(handler, response)
  elseif msg_type == 3 then
    return ws:send(handler, empty)
  end
  return true
end

echo_lapps.onDisconnect = function(handler)
end

echo_lapps.onShutdown = function()
end

return echo_lapps
