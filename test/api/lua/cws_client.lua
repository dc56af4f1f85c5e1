-- cws_client: the standalone service of test/api/test-cws.c (preload: cws). It connects
-- to $CWS_URI (options: $CWS_CA a CA file, $CWS_NOVERIFY set: no certificate check),
-- sends a text, a binary, a 100 KiB text and an empty message, checks each echo, then
-- closes with 4000 "bye", and logs every step with print(). run() returns once the
-- connection is over (or the server stops).
local cws_client = {}

cws_client.init = function()
end

cws_client.run = function()
  local opts = nil
  if os.getenv("CWS_CA") then
    opts = { ca_file = os.getenv("CWS_CA") }
  elseif os.getenv("CWS_NOVERIFY") then
    opts = { verify = false }
  end
  local big = string.rep("0123456789abcdef", 6400) -- 100 KiB
  local expect = { { "hello", 1 }, { "\0\1\2\255", 2 }, { big, 1 }, { "", 1 } }
  local got, finished, handler = 0, false, nil
  local sock, err
  sock, err = cws:new(os.getenv("CWS_URI"), {
    onopen = function(h)
      handler = h
      print("open " .. type(h))
      for _, m in ipairs(expect) do
        local ok, e = cws:send(h, m[1], m[2])
        if not ok then
          print("send failed: " .. e)
        end
      end
      -- Bad calls answer false and a message, as in LAppS.
      local ok, e = cws:send(h, "x", 3)
      print("bad opcode " .. tostring(ok) .. " " .. (e and e:sub(1, 13) or ""))
    end,
    onmessage = function(h, msg, op)
      got = got + 1
      local want = expect[got]
      if h == handler and want and msg == want[1] and op == want[2] then
        print("echo " .. got .. " " .. op .. " " .. #msg .. " ok")
      else
        print("echo " .. got .. " differs: opcode " .. op .. ", " .. #msg .. " bytes")
      end
      if got == #expect then
        sock:close(4000, "bye")
      end
    end,
    onerror = function(h, msg)
      print("error " .. msg)
      finished = true
    end,
    onclose = function(h, payload, code, reason)
      print("close " .. code .. " '" .. reason .. "' " .. type(payload))
      finished = true
    end,
  }, opts)
  if not sock then
    print("" .. err)
  else
    while not must_stop() and not finished do
      cws:eventLoop()
    end
    print("send after close " .. tostring(cws:send(handler or 1, "x", 1)))
  end
  print("done")
end

return cws_client
