-- echo_lapps: a LAppS-protocol service (CBOR requests in binary frames).
--   login [{user, password}]  → [{authkey}] or error 10 and close
--   echo [authkey, ...]       → the params after the key, once logged in
--   logout (a notification)   → closes the connection with 1000
--   subscribe [authkey] (a notification) → the server's time every second, as
--                               {cid: 5, message: ["Server time: ..."]} (time_broadcast);
--                               without a valid key the connection is closed with 1008
-- ws://127.0.0.1:5083/echo_lapps with `lappsd -c examples/lua`.
local echo_lapps = {}

local TIME_FEED = 1000 -- the channel of time_broadcast

local users = {admin = "admin", guest = "guest"} -- an example, not a user database
local sessions = {} -- handler → authkey

-- Messages are built once and reused: assigning into an nljson value copies the data.
local response = nljson.decode('{"cid":0,"status":1,"result":[]}')
local function fail(handler, code, text)
  local e = nljson.decode('{"cid":0,"status":0,"error":{"code":0,"message":""}}')
  e.error.code = code
  e.error.message = text
  return ws:send(handler, e)
end

local methods = {}

methods.login = function(handler, params)
  local who = params and params[1]
  if who == nil or nljson.typename(who) ~= "object" or type(who.user) ~= "string" or
     type(who.password) ~= "string" then
    return fail(handler, -32602, "login takes one object: {user, password}")
  end
  if users[who.user] == nil or users[who.user] ~= who.password then
    fail(handler, 10, "authentication failed")
    return ws:close(handler, 1000, "authentication failed")
  end
  local key = math.random(1, 2 ^ 31)
  sessions[handler] = key
  response.result = {{authkey = key}}
  return ws:send(handler, response)
end

methods.echo = function(handler, params)
  if params == nil or sessions[handler] == nil or params[1] ~= sessions[handler] then
    return fail(handler, -32000, "not logged in: call login first")
  end
  local out = {}
  for i = 2, #params do
    out[i - 1] = params[i]
  end
  response.result = out
  return ws:send(handler, response)
end

echo_lapps.onStart = function()
  math.randomseed(time.now())
end

-- msg_type: 1 a notification, 2 one with params, 3 a request, 4 one with params.
echo_lapps.onMessage = function(handler, msg_type, message)
  if msg_type <= 2 then
    if message.method == "logout" then
      sessions[handler] = nil
      ws:close(handler, 1000)
    elseif message.method == "subscribe" then
      local params = message.params
      if params == nil or sessions[handler] == nil or params[1] ~= sessions[handler] then
        ws:close(handler, 1008, "subscribe: not logged in")
      elseif not bcast:subscribe(TIME_FEED, handler) then
        ws:close(handler, 1011, "the time feed is not running")
      end
    end
    return true
  end
  local method = methods[message.method]
  if method == nil then
    fail(handler, -32601, "no such method")
  else
    method(handler, message.params)
  end
  return true
end

echo_lapps.onDisconnect = function(handler)
  sessions[handler] = nil
end

echo_lapps.onShutdown = function()
end

return echo_lapps
