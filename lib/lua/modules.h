/* modules.h — the small LAppS Lua modules a service loads by name (lapps_lua_service's
 * `preload`): `time`, `murmur` and `nap` here, `cws` (cws.c), `mqr` (mqr.h) and
 * `pam_auth` (pam.h). Each opener behaves like LAppS's luaopen_*: it sets the global
 * table of that name and package.loaded[name], so `require "time"` finds it too.
 * Compatible with LAppS's results; the differences are documented in modules.c, cws.c,
 * mqr.c and pam.c. */
#ifndef LAPPS_LUA_MODULES_H
#define LAPPS_LUA_MODULES_H

#include <stdbool.h>

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

/* `nap:new()` (or `nap.new()`) makes an object n whose n:sleep(seconds),
 * n:usleep(microseconds) and n:nsleep(nanoseconds) block the calling thread for that
 * long, at most 1 day per call; fractions of seconds are allowed. Bad arguments raise a
 * Lua error. See lapps__lua_nap_set_stop for ending a sleep early. */
void lapps__lua_open_nap(lua_State *L);

/* `cws`: WebSocket client connections (ws:// and wss://) — cws:new(uri, callbacks
 * [, options]), cws:send(handler, data, opcode), cws:eventLoop([ms]), sock:close(). The
 * connections belong to @p L and are closed when it is. See cws.c. */
void lapps__lua_open_cws(lua_State *L);

/* A stop hook: returns non-zero when the service running in the state must stop. */
typedef int (*lapps__lua_stop_fn)(void *ctx);

/* Sets the stop hook of the nap sleeps of @p L and of its coroutines (any lua_State of
 * the same Lua universe), whether or not nap is open yet; @p fn NULL removes it. With a
 * hook, a sleep runs in slices of at most 10 ms and returns early as soon as fn(ctx)
 * returns non-zero; fn is called between slices, on the thread running the Lua code, so
 * it must be cheap and safe to call there (e.g. read an atomic flag), and @p ctx must
 * stay valid while the hook is set. Without one, a sleep is a plain nanosleep().
 * The first setting of a hook allocates: it raises a Lua error when out of memory (call
 * it protected, or right after creating the state); replacing or removing one does not
 * raise. Not to be called while another thread runs Lua code in @p L. */
void lapps__lua_nap_set_stop(lua_State *L, lapps__lua_stop_fn fn, void *ctx);

/* The stop hook of @p L (set by lapps__lua_nap_set_stop), for every module that may block:
 * a state with a hook belongs to a service that runs on a thread of its own (standalone
 * or isolated) and may block until the hook says stop; one without (a reactive service on a worker)
 * must not block at all. Returns true and fills *fn and *ctx when a hook is set, else
 * false. Call it from a Lua C function only: it may raise a Lua error when out of memory. */
bool lapps__lua_stop_hook(lua_State *L, lapps__lua_stop_fn *fn, void **ctx);

/* The opener of the module called @p name ("time", "murmur", "nap", "cws", "mqr",
 * "pam_auth", or "nljson" and "bcast", which every state has open anyway), or NULL when
 * liblapps
 * has no module of that name. @p name is only read during the call. */
lapps__lua_opener lapps__lua_preload_find(const char *name);

#endif /* LAPPS_LUA_MODULES_H */
