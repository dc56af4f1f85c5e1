-- time_broadcast: a standalone service (no request target) that sends the server's time
-- every second to everyone subscribed to channel 1000, as the LAppS notification
-- {cid: 5, message: ["Server time: ..."]}. Clients subscribe through echo_lapps's
-- "subscribe" notification. The send costs the same for one subscriber or a million:
-- the frame is built once and each worker writes it to its own connections.
local time_broadcast = {}

local CHANNEL = 1000
local feed = nljson.decode('{"cid": 5, "message": [""]}')
local sleeper

time_broadcast.init = function()
  assert(bcast:create(CHANNEL))
  sleeper = nap:new()
end

time_broadcast.run = function()
  while not must_stop() do
    sleeper:sleep(1) -- ends early when the server stops
    if must_stop() then break end
    feed.message[1] = "Server time: " .. os.date("%c")
    local ok, why = bcast:send(CHANNEL, feed)
    if not ok then print("broadcast failed: " .. tostring(why)) end
  end
end

return time_broadcast
