-- rawecho: the raw test service of test/api/test-lua.c. Echoes every message with its
-- opcode; a text message starting with "!" is a command instead:
--   !fail          raises an error (the connection closes with 1011)
--   !false         returns false (the connection closes with 1011)
--   !loop          runs forever (the instruction budget interrupts it: 1011)
--   !pcall-loop    runs forever inside pcall, which must not catch the budget for good
--   !close C R     ws:close(handler, C, R); when that fails, answers "close: <results>"
--   !stale         ws:send and ws:close on a connection id that cannot be open (another
--                  worker's bits): answers the results
--   !sendto ID     ws:send(ID, 1, "hello") and ws:close(ID, 1000): answers the results
--   !badsend       bad ws:send calls: answers each result
--   !print         print()s a line with several values
--   !id            answers the handler as text (tostring)
--   !waitfile P    blocks (sleeping in os.execute) until the file P exists, then answers
--                  "released"; gives up after 20 s with "gave up"
local rawecho = {}

local function results(...)
  local t = {}
  for i = 1, select("#", ...) do t[#t + 1] = tostring((select(i, ...))) end
  return table.concat(t, " ")
end

rawecho.onStart = function()
  print("rawecho: onStart")
end

rawecho.onDisconnect = function(handler)
  print("rawecho: onDisconnect " .. tostring(handler))
end

rawecho.onShutdown = function()
  print("rawecho: onShutdown")
end

local commands = {}

commands["!fail"] = function() error("failing on purpose") end
commands["!false"] = function() return false end
commands["!loop"] = function() while true do end end
commands["!pcall-loop"] = function()
  while true do pcall(function() while true do end end) end
end
commands["!stale"] = function(h)
  local other = h + 2 ^ 46
  return ws:send(h, 1, results(ws:send(other, 1, "x")) .. " " .. results(ws:close(other, 1000)))
end
commands["!badsend"] = function(h)
  local r = {}
  r[#r + 1] = results(ws:send(h, 3, "bad opcode"))
  r[#r + 1] = results(ws:send(h, 1, "\255\254"))
  r[#r + 1] = results(ws:send(h, 1, {}))
  r[#r + 1] = results(ws:send(h, nljson.decode('{"cid":0,"status":1,"result":[]}')))
  r[#r + 1] = results(ws:send("h", 1, "x"))
  r[#r + 1] = results(ws:close(h, 1005))
  r[#r + 1] = results(ws:close(h, 999))
  return ws:send(h, 1, table.concat(r, "\n"))
end
commands["!print"] = function()
  print("printed", 1, nil, true)
  return true
end
commands["!id"] = function(h) return ws:send(h, 1, tostring(h)) end

rawecho.onMessage = function(handler, opcode, message)
  if opcode == 1 and message:sub(1, 1) == "!" then
    local cmd, a, b = message:match("^(%S+)%s*(%S*)%s*(.*)$")
    if cmd == "!waitfile" then
      print("rawecho: waiting for " .. a)
      for _ = 1, 2000 do
        local f = io.open(a)
        if f then
          f:close()
          return ws:send(handler, 1, "released")
        end
        os.execute("sleep 0.01")
      end
      return ws:send(handler, 1, "gave up")
    end
    if cmd == "!sendto" then
      local id = tonumber(a)
      return ws:send(handler, 1, results(ws:send(id, 1, "hello")) .. " " ..
                                 results(ws:close(id, 1000)))
    end
    if cmd == "!close" then
      local ok, why = ws:close(handler, tonumber(a), b ~= "" and b or nil)
      if not ok then ws:send(handler, 1, "close: " .. results(ok, why)) end
      return true
    end
    local f = commands[cmd]
    if f then
      local r = f(handler)
      if r == nil then return true end
      return r
    end
  end
  local ok, err = ws:send(handler, opcode, message)
  if not ok then print("rawecho: send failed: " .. err) end
  return ok
end

return rawecho
