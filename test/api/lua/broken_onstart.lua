-- broken_onstart: onStart raises, so the server does not start.
local m = {}
m.onStart = function() error("onStart refuses") end
m.onMessage = function() return true end
m.onDisconnect = function() end
m.onShutdown = function() end
return m
