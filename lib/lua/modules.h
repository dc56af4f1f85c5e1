/* modules.h — the small LAppS Lua modules a service loads by name (lapps_lua_service's
 * `preload`): `time` and `murmur`. Each opener behaves like LAppS's luaopen_*: it sets
 * the global table of that name and package.loaded[name], so `require "time"` finds it
 * too. Compatible with LAppS's results; the differences are documented in modules.c. */
#ifndef LAPPS_LUA_MODULES_H
#define LAPPS_LUA_MODULES_H

#include <lua.h>

/* Opens one module into @p L. The stack is left as it was. Raises a Lua error when out
 * of memory, or when the global of that name exists and is not a table (call it
 * protected, e.g. through lua_cpcall). */
typedef void (*lapps__lua_opener)(lua_State *L);

/* `time.now()`: milliseconds since the Unix epoch (CLOCK_REALTIME), as a Lua number. */
void lapps__lua_open_time(lua_State *L);

/* `murmur.hashstr(x)` and `murmur.hashnum(x)`: std::hash of a string or number, as
 * LAppS computed it (64-bit MurmurHash2 of libstdc++). hashstr returns the digest as 16
 * lowercase hex digits; hashnum returns it as a Lua number, exact only below 2^53. */
void lapps__lua_open_murmur(lua_State *L);

/* The opener of the module called @p name ("time" or "murmur"), or NULL when liblapps
 * has no module of that name. @p name is only read during the call. */
lapps__lua_opener lapps__lua_preload_find(const char *name);

#endif /* LAPPS_LUA_MODULES_H */
