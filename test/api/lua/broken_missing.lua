-- broken_missing: a module without onDisconnect; registration must name it.
local m = {}
m.onStart = function() end
m.onMessage = function() return true end
m.onShutdown = function() end
return m
