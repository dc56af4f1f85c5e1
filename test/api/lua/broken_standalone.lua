-- broken_standalone: a standalone module without run(); registration must name it.
local m = {}
m.init = function() end
return m
