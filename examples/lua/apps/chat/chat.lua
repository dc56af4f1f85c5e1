-- chat: a chat room over the LAppS protocol (ws://127.0.0.1:5083/chat).
--   join [name]   → ["joined", members]; everyone in the room gets {cid: 6, message:
--                   ["joined", name]}
--   say [text]    → ["said"]; everyone gets {cid: 6, message: ["said", name, text]}
--   members       → the names in the room, sorted
-- Leaving is closing the connection: the others get {cid: 6, message: ["left", name]}.
-- The room is one broadcast channel. The member list lives in this Lua state, so the
-- service runs one instance (lapps.json: "instances": 1); the broadcasts themselves
-- would reach subscribers on any worker.
local chat = {}

local ROOM = 2000
local names = {} -- handler → name
local response = nljson.decode('{"cid": 0, "status": 1, "result": []}')
local event = nljson.decode('{"cid": 6, "message": []}')

local function fail(handler, code, text)
  local e = nljson.decode('{"cid": 0, "status": 0, "error": {"code": 0, "message": ""}}')
  e.error.code = code
  e.error.message = text
  return ws:send(handler, e)
end

local function reply(handler, result)
  response.result = result
  return ws:send(handler, response)
end

local function announce(...)
  event.message = {...}
  return bcast:send(ROOM, event)
end

local function member_list()
  local list = {}
  for _, name in pairs(names) do list[#list + 1] = name end
  table.sort(list)
  return list
end

local methods = {}

methods.join = function(handler, params)
  local name = params and params[1]
  if type(name) ~= "string" or #name == 0 or #name > 64 then
    return fail(handler, -32602, "join takes one name: a string of 1 to 64 bytes")
  end
  if names[handler] then
    return fail(handler, 1, "already joined as " .. names[handler])
  end
  for _, other in pairs(names) do
    if other == name then return fail(handler, 2, "name taken") end
  end
  local ok, why = bcast:subscribe(ROOM, handler)
  if not ok then return fail(handler, -32603, why) end
  names[handler] = name
  announce("joined", name)
  return reply(handler, {"joined", member_list()})
end

methods.say = function(handler, params)
  local text = params and params[1]
  if names[handler] == nil then return fail(handler, 3, "join first") end
  if type(text) ~= "string" then return fail(handler, -32602, "say takes one string") end
  announce("said", names[handler], text)
  return reply(handler, {"said"})
end

methods.members = function(handler)
  return reply(handler, member_list())
end

chat.onStart = function()
  assert(bcast:create(ROOM))
end

chat.onMessage = function(handler, msg_type, message)
  if msg_type <= 2 then return true end -- notifications: nothing to do
  local method = methods[message.method]
  if method == nil then
    fail(handler, -32601, "no such method")
  else
    method(handler, message.params)
  end
  return true
end

chat.onDisconnect = function(handler)
  local name = names[handler]
  names[handler] = nil
  if name then announce("left", name) end
end

chat.onShutdown = function()
end

return chat
