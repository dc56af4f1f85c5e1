-- rpc: the LAppS-protocol test service of test/api/test-lua.c.
--   echo [..]           result = params ([] when there are none)
--   fail                raises an error: the request is answered -32603
--   answer_then_fail    answers ["answered"], then raises: nothing more is sent
--   hold                answers nothing: the next response on the connection answers it
--   release             sends two responses: the first answers the oldest held request
--   false               returns false: the connection closes with 1011
--   loop                runs forever: the budget interrupts it, answered -32603
--   notify [cid, x]     the notification {cid, message: [x]}, then result []
--   notify_error [cid, code, text]  an error notification on cid, then result []
--   invalid             result: what ws:send said about each invalid message
--   twice               answers ["one"], then the second answer's refusal comes back as
--                       the notification {cid: 9, message: [ok, reason]}
--   stale               result: ws:send and ws:close on ids that are not open
--   sendto [id]         result: ws:send of a notification to id
--   types               result: the message types onMessage saw so far, in order
--   nljson              result: every nljson function at work (see nljson_tour)
-- Client notifications (any method) are recorded for `types`.
local rpc = {}

local types = {}

local function results(...)
  local t = {}
  for i = 1, select("#", ...) do t[#t + 1] = tostring((select(i, ...))) end
  return table.concat(t, " ")
end

local function reply(h, result)
  local r = nljson.decode('{"cid":0,"status":1,"result":[]}')
  r.result = result
  return ws:send(h, r)
end

local function nljson_tour()
  local r = {}
  local v = nljson.decode('{"a":[1,2,{"b":"c"}],"n":null,"t":true,"f":1.5}')
  r[#r + 1] = nljson.encode(v)
  r[#r + 1] = nljson.typename(v) .. " " .. nljson.typename(v.a) .. " " .. nljson.typename(v.t)
  r[#r + 1] = v.a[3].b
  v.a[3].b = "d"
  v.x = {1, 2, 3}
  v.y = {k = "v"}
  r[#r + 1] = nljson.encode(v)
  r[#r + 1] = tostring(nljson.erase(v, "n")) .. " " .. tostring(nljson.erase(v.a, 1)) ..
              " " .. tostring(nljson.erase(v, "missing"))
  r[#r + 1] = tostring(v)
  r[#r + 1] = tostring(nljson.empty(v.a)) .. " " .. tostring(nljson.empty(nljson.decode("[]")))
  r[#r + 1] = tostring(nljson.find(v, "t")) .. " " .. tostring(nljson.find(v, "none"))
  local keys = {}
  nljson.foreach(v, function(k, _) keys[#keys + 1] = tostring(k) end)
  r[#r + 1] = table.concat(keys, ",")
  local seen = {}
  nljson.traverse(nljson.decode('{"p":[10,20],"q":{"r":1}}'),
                  function(k, val) seen[#seen + 1] = tostring(k) .. "=" .. tostring(val) end)
  r[#r + 1] = table.concat(seen, ",")
  local cbor = nljson.to_cbor(v)
  r[#r + 1] = nljson.encode(nljson.from_cbor(cbor)) == nljson.encode(v) and "cbor round trip"
              or "cbor differs"
  r[#r + 1] = nljson.encode_pretty(nljson.decode('{"k":[1]}'))
  local name = os.tmpname()
  local f = io.open(name, "w")
  f:write('{"from":"file"}')
  f:close()
  r[#r + 1] = nljson.encode(nljson.decode_file(name))
  os.remove(name)
  local ok, err = pcall(nljson.decode, '{"a":')
  r[#r + 1] = tostring(ok) .. " " .. (err:match("line %d+") or err)
  return r
end

local methods = {}

methods.echo = function(h, m)
  local params = nljson.find(m, "params")
  if params == nil then return reply(h, {}) end
  return reply(h, params)
end
methods.fail = function() error("failing on purpose") end
methods.answer_then_fail = function(h)
  reply(h, {"answered"})
  error("failing after the answer")
end
methods.hold = function() return true end
methods.release = function(h)
  reply(h, {"first"})
  return reply(h, {"second"})
end
methods["false"] = function() return false end
methods.loop = function() while true do end end
methods.notify = function(h, m)
  local n = nljson.decode('{"status":1,"message":[]}')
  n.cid = m.params[1]
  n.message[1] = m.params[2]
  local ok = ws:send(h, n)
  return ok and reply(h, {})
end
methods.notify_error = function(h, m)
  local n = nljson.decode('{"status":0,"error":{}}')
  n.cid = m.params[1]
  n.error.code = m.params[2]
  n.error.message = m.params[3]
  local ok = ws:send(h, n)
  return ok and reply(h, {})
end
methods.invalid = function(h)
  local r = {}
  for _, text in ipairs({
    '[]',
    '{"status":1,"result":[]}',
    '{"cid":-1,"status":1,"result":[]}',
    '{"cid":0,"status":2,"result":[]}',
    '{"cid":0,"status":1}',
    '{"cid":0,"status":1,"result":{}}',
    '{"cid":4,"status":1,"result":[]}',
    '{"cid":0,"status":0}',
    '{"cid":0,"status":0,"error":{"message":"m"}}',
    '{"cid":0,"status":0,"error":{"code":1}}',
  }) do
    r[#r + 1] = results(ws:send(h, nljson.decode(text)))
  end
  r[#r + 1] = results(ws:send(h, 2, "raw"))
  r[#r + 1] = results(ws:send(h, "not a table"))
  return reply(h, r)
end
methods.twice = function(h)
  reply(h, {"one"})
  local ok, why = reply(h, {"two"})
  local n = nljson.decode('{"cid":9,"status":1,"message":[]}')
  n.message = {ok, why}
  return ws:send(h, n)
end
methods.stale = function(h)
  local other = h + 2 ^ 46
  local n = nljson.decode('{"cid":5,"status":1,"message":[]}')
  return reply(h, {results(ws:send(other, n)), results(ws:close(other, 1000))})
end
methods.sendto = function(h, m)
  local n = nljson.decode('{"cid":5,"status":1,"message":["hello"]}')
  return reply(h, {results(ws:send(m.params[1], n))})
end
methods.types = function(h) return reply(h, types) end
methods.nljson = function(h) return reply(h, nljson_tour()) end

rpc.onStart = function() print("rpc: onStart") end
rpc.onShutdown = function() print("rpc: onShutdown") end
rpc.onDisconnect = function(h) print("rpc: onDisconnect " .. tostring(h)) end

rpc.onMessage = function(handler, msg_type, message)
  types[#types + 1] = msg_type
  if msg_type <= 2 then return true end -- client notifications: recorded only
  local f = methods[message.method]
  if not f then
    local e = nljson.decode('{"cid":0,"status":0,"error":{"code":-32601,"message":"no such method"}}')
    return ws:send(handler, e)
  end
  local r = f(handler, message)
  if r == nil then return true end
  return r
end

return rpc
