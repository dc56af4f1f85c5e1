-- mqr_producer: a standalone service of test/api/test-mqr.c (preload: mqr). It posts
-- 2000 messages {"i": 1..2000} to the queue "api_work", which holds 64: the posts wait
-- for the consumers (mqr_consumer.lua) to make room.
local mqr_producer = {}

mqr_producer.init = function()
end

mqr_producer.run = function()
  local q = mqr.create("api_work", 64)
  for i = 1, 2000 do
    local ok, why = q:post(nljson.decode('{"i":' .. i .. '}'))
    if not ok then
      print("post " .. i .. " failed: " .. tostring(why))
      return
    end
  end
  print("posted 2000")
end

return mqr_producer
