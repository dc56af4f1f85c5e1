/* modules.c — the LAppS Lua modules `time`, `murmur` and `nap`, in C for LuaJIT (Lua 5.1 API).
 *
 * time.now() returns milliseconds since the Unix epoch from CLOCK_REALTIME, truncated,
 * as LAppS's std::chrono::system_clock did. Any arguments are ignored, as in LAppS.
 *
 * murmur.hashstr(x) / murmur.hashnum(x) return what LAppS's std::hash gave on x86-64
 * with libstdc++, so digests that applications stored stay valid:
 *  - a string hashes with std::_Hash_bytes(data, len, 0xc70f6907), libstdc++'s 64-bit
 *    MurmurHash2 variant, reimplemented below. Its 8-byte loads are little-endian here
 *    on every host: LAppS ran on x86-64 only, and the digest must not depend on the
 *    byte order of the machine that computes it;
 *  - a number n hashes to (size_t)n, since std::hash<size_t> is the identity.
 * hashstr formats the 64-bit digest as 16 lowercase hex digits. hashnum returns it as a
 * Lua number (a double), exact below 2^53 only: hashstr is the exact form.
 *
 * Two LAppS defects are fixed:
 *  - LAppS copied the string through lua_tostring into a std::string, which stopped at
 *    the first NUL byte. The whole Lua string is hashed here; strings without NUL give
 *    the same digest as before.
 *  - LAppS's hashnum pushed the digest through lua_pushinteger (signed ptrdiff_t), so
 *    digests of 2^63 and above came out negative. Here hashnum returns the unsigned
 *    value: those results are now positive, and the others are unchanged.
 *
 * Numbers (LAppS converted with static_cast<size_t>, undefined for negatives and values
 * out of range) are converted as follows: fractions are truncated toward zero;
 * negatives from -2^63 on wrap as C's (uint64_t)(int64_t)n does, which is what LAppS's
 * cast did on x86-64 (hashstr(-1) is "ffffffffffffffff"); NaN, infinities and values
 * below -2^63 or at or above 2^64 raise a Lua error. A numeric string ("42") is a
 * string and is hashed as bytes, as in LAppS.
 *
 * A call with other than exactly one argument, or with an argument that is neither a
 * string nor a number, raises a Lua error with a usage message, as LAppS did.
 *
 * nap: `local n = nap:new()` (or `nap.new()`), then n:sleep(seconds),
 * n:usleep(microseconds) or n:nsleep(nanoseconds) block the calling thread for that long
 * and return nothing. LAppS's nap objects were userdata wrapping itc::sys::Nap, a
 * nanosleep() loop; here the sleep is nanosleep(), restarted with the remaining time when
 * a signal interrupts it, and an object is a plain table whose metatable (kept in the
 * registry) gives it the module's functions, so n.new also works as in LAppS. Calling
 * the functions on the `nap` table itself (nap:sleep(1)) works too; LAppS raised there.
 * Differences from LAppS, which checked little:
 *  - LAppS converted the argument with lua_tointeger, so sleep(0.25) did not sleep at
 *    all. sleep takes fractions here (rounded up to a whole nanosecond); usleep and
 *    nsleep truncate fractions, as LAppS did.
 *  - LAppS returned its usage message as a string for a wrong argument count, silently
 *    ignored arguments that were not numbers, and cast negatives to size_t, which slept
 *    for centuries. Here anything but one non-negative finite number (after self)
 *    raises a Lua error with a usage message: a wrong count, a non-number (a numeric
 *    string is converted, as LAppS did), NaN, infinities, negatives.
 *  - One call sleeps at most 1 day (86400 s): more raises "too long", so a typo cannot
 *    hang a thread for years.
 *  - A call with '.' instead of ':' (n.sleep(1)) raises an error saying so; in LAppS
 *    luaL_checkudata raised on the number given as self (or the count check fired).
 *  - A stop hook (lapps__lua_nap_set_stop) is new: with one set, a sleep runs in slices
 *    of at most 10 ms and returns early as soon as the hook reports that the service
 *    must stop. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/modules.h"
#include "lua/mqr.h"
#include "lua/pam.h"

/* The seed libstdc++ passes to _Hash_bytes for std::hash<std::string>. */
#define STD_HASH_SEED UINT64_C(0xc70f6907)

#define MURMUR_MUL   UINT64_C(0xc6a4a7935bd1e995)
#define MURMUR_SHIFT 47

static int
time_now(lua_State *L)
{
    struct timespec ts;
    int64_t ms;

    /* CLOCK_REALTIME is always available, and &ts is valid: the call cannot fail. */
    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* Exact: a double holds milliseconds exactly for the next 285,000 years. */
    lua_pushnumber(L, (lua_Number)ms);
    return 1;
}

static uint64_t
load_le64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t
shift_mix(uint64_t v)
{
    return v ^ (v >> MURMUR_SHIFT);
}

/* libstdc++'s std::_Hash_bytes for a 64-bit size_t (libsupc++/hash_bytes.cc). It is not
 * the reference MurmurHash64A: each block is mixed as shift_mix(k * m) * m, the 1 to 7
 * tail bytes form one little-endian word mixed in with a multiply only, and the
 * finalisation is shift_mix(shift_mix(h) * m). */
static uint64_t
std_hash_bytes(const unsigned char *buf, size_t len, uint64_t seed)
{
    const size_t len_aligned = len & ~(size_t)7;
    uint64_t hash = seed ^ ((uint64_t)len * MURMUR_MUL);

    for (size_t i = 0; i < len_aligned; i += 8) {
        hash ^= shift_mix(load_le64(buf + i) * MURMUR_MUL) * MURMUR_MUL;
        hash *= MURMUR_MUL;
    }
    if ((len & 7) != 0) {
        uint64_t tail = 0;

        for (size_t i = len; i > len_aligned; i--)
            tail = (tail << 8) | buf[i - 1];
        hash ^= tail;
        hash *= MURMUR_MUL;
    }
    return shift_mix(shift_mix(hash) * MURMUR_MUL);
}

/* The digest of the single argument of murmur.<fname>, or a Lua error with @p usage. */
static uint64_t
murmur_digest(lua_State *L, const char *usage)
{
    int argc = lua_gettop(L);

    if (argc != 1)
        luaL_error(L, "%s; got %d arguments", usage, argc);
    switch (lua_type(L, 1)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, 1, &len);

        return std_hash_bytes((const unsigned char *)s, len, STD_HASH_SEED);
    }
    case LUA_TNUMBER: {
        lua_Number n = lua_tonumber(L, 1);

        /* Written so that NaN fails the test. Both casts below are then defined: the
         * truncated value fits the type converted to. */
        if (!(n >= -0x1p63 && n < 0x1p64))
            luaL_error(L, "%s; number out of range", usage);
        if (n < 0x1p63)
            return (uint64_t)(int64_t)n;
        return (uint64_t)n;
    }
    default:
        luaL_error(L, "%s; got %s", usage, luaL_typename(L, 1));
    }
    return 0; /* not reached: luaL_error does not return */
}

static int
murmur_hashstr(lua_State *L)
{
    uint64_t digest = murmur_digest(L, "Usage: murmur.hashstr(number|string); returns string");
    char hex[17];

    snprintf(hex, sizeof hex, "%016" PRIx64, digest);
    lua_pushlstring(L, hex, 16);
    return 1;
}

static int
murmur_hashnum(lua_State *L)
{
    uint64_t digest = murmur_digest(L, "Usage: murmur.hashnum(number|string); returns number");

    lua_pushnumber(L, (lua_Number)digest);
    return 1;
}

/* nap: the registry keys of the nap objects' metatable and of the stop hook. Only their
 * addresses matter. */
static const char nap_mt_key;
static const char nap_stop_key;

#define NS_PER_SEC   INT64_C(1000000000)
#define NAP_MAX_SEC  86400 /* one call sleeps at most 1 day */
#define NAP_SLICE_NS (10 * INT64_C(1000000))

/* The stop hook of a state, a full userdata in its registry under &nap_stop_key. */
struct nap_stop {
    lapps__lua_stop_fn fn;
    void *ctx;
};

/* One of the sleep functions: its usage message, its largest argument (1 day in its
 * unit) and its conversion to nanoseconds. */
struct nap_unit {
    const char *usage;
    lua_Number max;
    int64_t (*to_ns)(lua_Number n);
};

static int64_t
sec_to_ns(lua_Number n)
{
    /* At most 86400e9 < 2^53, so exact. Rounded up: never shorter than asked. */
    return (int64_t)ceil(n * (lua_Number)NS_PER_SEC);
}

static int64_t
usec_to_ns(lua_Number n)
{
    return (int64_t)n * 1000;
}

static int64_t
nsec_to_ns(lua_Number n)
{
    return (int64_t)n;
}

static const struct nap_unit nap_sec = {
    "Usage: nap:sleep(seconds) - seconds to sleep, a number from 0 to 86400 (1 day)", NAP_MAX_SEC,
    sec_to_ns};
static const struct nap_unit nap_usec = {
    "Usage: nap:usleep(microseconds) - microseconds to sleep, a number from 0 to "
    "86400000000 (1 day); fractions are truncated",
    NAP_MAX_SEC * 1e6, usec_to_ns};
static const struct nap_unit nap_nsec = {
    "Usage: nap:nsleep(nanoseconds) - nanoseconds to sleep, a number from 0 to "
    "86400000000000 (1 day); fractions are truncated",
    NAP_MAX_SEC * 1e9, nsec_to_ns};

static int64_t
monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* nanosleep() for @p ns > 0 nanoseconds, resumed with the time left after a signal. */
static void
sleep_ns(int64_t ns)
{
    struct timespec req = {.tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC)};
    struct timespec rem;

    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* Sleeps @p ns nanoseconds; with a stop hook, in slices of at most NAP_SLICE_NS, until
 * the time is up or the hook returns non-zero. */
static void
nap_for(int64_t ns, struct nap_stop stop)
{
    int64_t deadline;

    if (ns <= 0)
        return;
    if (stop.fn == NULL) {
        sleep_ns(ns);
        return;
    }
    deadline = monotonic_ns() + ns;
    for (;;) {
        int64_t left = deadline - monotonic_ns();

        if (left <= 0 || stop.fn(stop.ctx) != 0)
            return;
        sleep_ns(left < NAP_SLICE_NS ? left : NAP_SLICE_NS);
    }
}

/* Whether the value at @p idx is a nap object or the nap module table itself. */
static int
nap_is_self(lua_State *L, int idx)
{
    int ok = 0;

    if (!lua_istable(L, idx))
        return 0;
    lua_pushlightuserdata(L, (void *)&nap_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_istable(L, -1)) {
        /* An object has that metatable; the module table is its __index. */
        if (lua_getmetatable(L, idx)) {
            ok = lua_rawequal(L, -1, -2);
            lua_pop(L, 1);
        }
        if (!ok) {
            lua_pushliteral(L, "__index");
            lua_rawget(L, -2);
            ok = lua_rawequal(L, -1, idx);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return ok;
}

/* The body of nap:sleep, nap:usleep and nap:nsleep. */
static int
nap_call(lua_State *L, const struct nap_unit *u)
{
    int argc = lua_gettop(L);
    struct nap_stop stop = {NULL, NULL};
    lua_Number n;

    if (argc < 1 || !nap_is_self(L, 1))
        return luaL_error(L,
                          "%s; not called on a nap object: call it with ':', as in "
                          "n:sleep(x), not with '.'",
                          u->usage);
    if (argc != 2)
        return luaL_error(L, "%s; got %d arguments", u->usage, argc - 1);
    /* A numeric string counts, as in LAppS (lua_tonumber converted it): "5" is 5. */
    if (lua_type(L, 2) != LUA_TNUMBER && !(lua_type(L, 2) == LUA_TSTRING && lua_isnumber(L, 2)))
        return luaL_error(L, "%s; got %s", u->usage, luaL_typename(L, 2));
    n = lua_tonumber(L, 2);
    if (isnan(n))
        return luaL_error(L, "%s; got NaN", u->usage);
    if (n < 0)
        return luaL_error(L, "%s; got a negative number", u->usage);
    if (isinf(n))
        return luaL_error(L, "%s; got infinity", u->usage);
    if (n > u->max)
        return luaL_error(L, "%s; too long: more than 1 day", u->usage);

    lua_pushlightuserdata(L, (void *)&nap_stop_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isuserdata(L, -1))
        stop = *(struct nap_stop *)lua_touserdata(L, -1);
    lua_pop(L, 1);

    nap_for(u->to_ns(n), stop);
    return 0;
}

static int
nap_sleep(lua_State *L)
{
    return nap_call(L, &nap_sec);
}

static int
nap_usleep(lua_State *L)
{
    return nap_call(L, &nap_usec);
}

static int
nap_nsleep(lua_State *L)
{
    return nap_call(L, &nap_nsec);
}

/* nap:new() or nap.new(): a new nap object. Arguments are ignored, as in LAppS. */
static int
nap_new(lua_State *L)
{
    lua_createtable(L, 0, 0);
    lua_pushlightuserdata(L, (void *)&nap_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    return 1;
}

void
lapps__lua_open_time(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"now", time_now}, {NULL, NULL}};

    /* luaL_register also sets package.loaded.time, so require "time" works as well. */
    luaL_register(L, "time", funcs);
    lua_pop(L, 1);
}

void
lapps__lua_open_murmur(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"hashstr", murmur_hashstr}, {"hashnum", murmur_hashnum}, {NULL, NULL}};

    luaL_register(L, "murmur", funcs);
    lua_pop(L, 1);
}

void
lapps__lua_open_nap(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"new", nap_new},
                                     {"sleep", nap_sleep},
                                     {"usleep", nap_usleep},
                                     {"nsleep", nap_nsleep},
                                     {NULL, NULL}};

    luaL_register(L, "nap", funcs);
    /* The objects' metatable, created once per state so that objects made before a
     * second opening stay valid. */
    lua_pushlightuserdata(L, (void *)&nap_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushlightuserdata(L, (void *)&nap_mt_key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
}

void
lapps__lua_nap_set_stop(lua_State *L, lapps__lua_stop_fn fn, void *ctx)
{
    struct nap_stop *stop;

    lua_pushlightuserdata(L, (void *)&nap_stop_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    stop = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (stop == NULL) {
        /* Nothing to clear: clearing never allocates. */
        if (fn == NULL)
            return;
        lua_pushlightuserdata(L, (void *)&nap_stop_key);
        stop = lua_newuserdata(L, sizeof *stop);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    stop->fn = fn;
    stop->ctx = fn != NULL ? ctx : NULL;
}

/* Modules every state has open (nljson, bcast): LAppS configurations list them in
 * preload, which changes nothing here. */
static void
open_always_open(lua_State *L)
{
    (void)L;
}

bool
lapps__lua_stop_hook(lua_State *L, lapps__lua_stop_fn *fn, void **ctx)
{
    const struct nap_stop *stop;

    lua_pushlightuserdata(L, (void *)&nap_stop_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    stop = lua_touserdata(L, -1);
    lua_pop(L, 1);
    /* A removed hook leaves its userdata behind with fn NULL. */
    if (stop == NULL || stop->fn == NULL)
        return false;
    *fn = stop->fn;
    *ctx = stop->ctx;
    return true;
}

lapps__lua_opener
lapps__lua_preload_find(const char *name)
{
    static const struct {
        const char *name;
        lapps__lua_opener open;
    } modules[] = {
        {"time", lapps__lua_open_time}, {"murmur", lapps__lua_open_murmur},
        {"nap", lapps__lua_open_nap},   {"cws", lapps__lua_open_cws},
        {"mqr", lapps__lua_open_mqr},   {"pam_auth", lapps__lua_open_pam},
        {"nljson", open_always_open},   {"bcast", open_always_open},
    };

    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
        if (strcmp(name, modules[i].name) == 0)
            return modules[i].open;
    return NULL;
}
