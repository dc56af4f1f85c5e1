-- room: the broadcast test service of test/api/test-lua.c (raw). Channel 7 is the room.
--   sub        bcast:subscribe(7, handler)    → "sub <results>"
--   unsub      bcast:unsubscribe(7, handler)  → "unsub <results>"
--   say TEXT   bcast:send(7, 1, TEXT)          → "said <results>"; everyone in the room
--              (on any worker, and the isolated /room_iso's subscribers) gets TEXT
-- onStart prints what bcast answers to bad calls, one "room: bad ..." line each.
local room = {}

local function results(...)
  local t = {}
  for i = 1, select("#", ...) do t[#t + 1] = tostring((select(i, ...))) end
  return table.concat(t, " ")
end

room.onStart = function()
  print("room: create " .. results(bcast:create(7)))
  print("room: bad create " .. results(bcast:create("seven")))
  print("room: bad create " .. results(bcast:create(-1)))
  print("room: bad subscribe " .. results(bcast:subscribe(99, 1)))
  print("room: bad subscribe " .. results(bcast:subscribe(7, "h")))
  print("room: bad send " .. results(bcast:send(99, 1, "x")))
  print("room: bad send " .. results(bcast:send(7, 3, "x")))
  print("room: bad send " .. results(bcast:send(7, 1, "\255")))
  print("room: bad send " .. results(bcast:send(7, nljson.decode('{"cid": 0, "message": []}'))))
  print("room: bad send " .. results(bcast:send(7, nljson.decode('{"cid": 5, "status": 0, "message": []}'))))
  print("room: bad send " .. results(bcast:send(7, nljson.decode('{"cid": 5, "message": {}}'))))
  print("room: bad send " .. results(bcast:send(7, "x")))
  print("room: good send " .. results(bcast:send(7, nljson.decode('{"cid": 5, "message": [1]}'))))
end

room.onMessage = function(handler, opcode, message)
  if message == "sub" then
    ws:send(handler, 1, "sub " .. results(bcast:subscribe(7, handler)))
  elseif message == "unsub" then
    ws:send(handler, 1, "unsub " .. results(bcast:unsubscribe(7, handler)))
  elseif message:sub(1, 4) == "say " then
    ws:send(handler, 1, "said " .. results(bcast:send(7, 1, message:sub(5))))
  end
  return true
end

room.onDisconnect = function(handler)
end

room.onShutdown = function()
end

return room
