/* modules.c — the LAppS Lua modules `time` and `murmur`, in C for LuaJIT (Lua 5.1 API).
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
 * string nor a number, raises a Lua error with a usage message, as LAppS did. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/modules.h"

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

lapps__lua_opener
lapps__lua_preload_find(const char *name)
{
    static const struct {
        const char *name;
        lapps__lua_opener open;
    } modules[] = {
        {"time", lapps__lua_open_time},
        {"murmur", lapps__lua_open_murmur},
    };

    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
        if (strcmp(name, modules[i].name) == 0)
            return modules[i].open;
    return NULL;
}
