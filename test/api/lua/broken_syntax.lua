-- broken_syntax: a module that does not parse.
local m = {
return m
