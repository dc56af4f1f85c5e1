/* Tests for lib/lua/modules.c: the LAppS `time`, `murmur` and `nap` modules. murmur is
 * checked against digests from libstdc++'s own std::hash, time.now() for its units, nap
 * for sleeping at least as long as asked (lower bounds only, plus a generous upper bound
 * so that a hang fails) and for its stop hook, all for their argument errors, and
 * lapps__lua_preload_find for its names. The Lua side runs
 * in a real LuaJIT state: checks are Lua assert()s, whose message fails the test. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua/modules.h"
#include "lua/mqr.h"
#include "lua/pam.h"

/* Digests printed by a throwaway C++17 program (not committed), built with g++ 12.2
 * (libstdc++, x86-64 Debian 12): for each string x it printed
 * std::hash<std::string>{}(x) with the full length, embedded NUL bytes included. The
 * 1- to 16-byte prefixes of the alphabet cover every tail length (0 to 7) with zero, one
 * and two 8-byte blocks. */
static const struct {
    const char *s;
    size_t len;
    uint64_t digest;
} vectors[] = {
    {"", 0, 0x553e93901e462a6eu},
    {"a", 1, 0x454ddee488c1ed6bu},
    {"ab", 2, 0x4c4da6cd289c737bu},
    {"abc", 3, 0x32d82bf8ed3dba39u},
    {"abcd", 4, 0xde775125acd50b28u},
    {"abcde", 5, 0x0b41619c0ed21531u},
    {"abcdef", 6, 0x22c38f395b703657u},
    {"abcdefg", 7, 0xdeee6830a3af82afu},
    {"abcdefgh", 8, 0x783db3e38db898bbu},
    {"abcdefghi", 9, 0xb4ec9257851c8aafu},
    {"abcdefghij", 10, 0xfa624d09f1a9f8acu},
    {"abcdefghijk", 11, 0x32f6faa7d12fbce5u},
    {"abcdefghijkl", 12, 0x16d1a3aacfc6c5c8u},
    {"abcdefghijklm", 13, 0xab4f4d29cd34f350u},
    {"abcdefghijklmn", 14, 0x0329f682efbe70b4u},
    {"abcdefghijklmno", 15, 0xcb28b790f605d1d0u},
    {"abcdefghijklmnop", 16, 0x7cf03b77a0b13a36u},
    /* LAppS would have hashed these only up to the NUL; the full string is hashed now. */
    {"a\0b", 3, 0xad5e8d18a1872c2fu},
    {"\0", 1, 0x6d09ee26d5863619u},
    {"abcdefgh\0ijklmno", 16, 0xa74a3521b8efe8bau},
    /* Bytes >= 0x80 in the tail: they must be taken as unsigned. */
    {"\xff\x80\x7f\x01\xfe", 5, 0xc2491befaffac4f0u},
    {"hello", 5, 0x26553298fdbe39c8u},
    {"42", 2, 0xaa4c9b5a050208b1u},
    {"The quick brown fox jumps over the lazy dog", 43, 0xdccbf2541704bc75u},
};

/* From the same program: 1000 bytes, byte i = (i * 7 + 3) mod 256. */
#define LONG_LEN    1000
#define LONG_DIGEST 0xa20fc4e610a1cfa1u

static lua_State *L;

static int
open_modules(lua_State *ls)
{
    lapps__lua_open_time(ls);
    lapps__lua_open_murmur(ls);
    lapps__lua_open_nap(ls);
    return 0;
}

static void
setup(void)
{
    L = luaL_newstate();
    cr_assert_not_null(L);
    luaL_openlibs(L);
    if (lua_cpcall(L, open_modules, NULL) != 0)
        cr_assert_fail("opening the modules: %s", lua_tostring(L, -1));
    cr_assert_eq(lua_gettop(L), 0, "the openers left values on the stack");
}

static void
teardown(void)
{
    lua_close(L);
}

/* Runs the Lua chunk @p code with the @p nargs values on top of the stack as its `...`.
 * A Lua error, such as a failed assert(), fails the test with the error's message. */
static void
run_args(const char *code, int nargs)
{
    if (luaL_loadstring(L, code) != 0)
        cr_assert_fail("Lua syntax: %s", lua_tostring(L, -1));
    lua_insert(L, -(nargs + 1));
    if (lua_pcall(L, nargs, 0, 0) != 0)
        cr_assert_fail("Lua: %s", lua_tostring(L, -1));
}

static void
run(const char *code)
{
    run_args(code, 0);
}

static void
push_expected(uint64_t digest)
{
    char hex[17];

    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest);
    lua_pushstring(L, hex);
    lua_pushnumber(L, (lua_Number)digest);
}

/* The chunk run_args() gets for a string: `...` is the string, its hex digest and the
 * digest as a number. */
static const char check_string[] =
    "local s, hex, num = ...\n"
    "local h = murmur.hashstr(s)\n"
    "assert(type(h) == 'string' and #h == 16, 'hashstr: not 16 characters')\n"
    "assert(h == hex, string.format('hashstr(%q) = %s, want %s', s, h, hex))\n"
    "local n = murmur.hashnum(s)\n"
    "assert(type(n) == 'number', 'hashnum: not a number')\n"
    "assert(n == num, string.format('hashnum(%q) = %.17g, want %.17g', s, n, num))\n"
    "assert(n >= 0, 'hashnum is negative')\n";

TestSuite(murmur, .init = setup, .fini = teardown);
TestSuite(time, .init = setup, .fini = teardown);
TestSuite(nap, .init = setup, .fini = teardown);
TestSuite(modules, .init = setup, .fini = teardown);

Test(murmur, std_hash_string_vectors)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        lua_pushlstring(L, vectors[i].s, vectors[i].len);
        push_expected(vectors[i].digest);
        run_args(check_string, 3);
    }
}

Test(murmur, long_string)
{
    char buf[LONG_LEN];

    for (size_t i = 0; i < LONG_LEN; i++)
        buf[i] = (char)((i * 7 + 3) & 0xff);
    lua_pushlstring(L, buf, LONG_LEN);
    push_expected(LONG_DIGEST);
    run_args(check_string, 3);
    /* 500 bytes, also from the C++ program. */
    run("assert(murmur.hashstr(string.rep('LAppS', 100)) == '20fa25e3d265c4a9')");
}

Test(murmur, embedded_nul_hashes_whole_string)
{
    run("assert(murmur.hashstr('a\\0b') ~= murmur.hashstr('a'))\n"
        "assert(murmur.hashstr('a\\0') ~= murmur.hashstr('a'))\n"
        "assert(murmur.hashstr('a\\0b') == 'ad5e8d18a1872c2f')\n");
}

/* LAppS returned digests >= 2^63 as negative numbers; they are now the unsigned value. */
Test(murmur, hashnum_is_unsigned)
{
    run("local n = murmur.hashnum('abcd')\n" /* 0xde775125acd50b28 */
        "assert(n >= 2^63 and n < 2^64, string.format('%.17g', n))\n"
        "assert(murmur.hashnum('a') == 0x454ddee488c1ed6b)\n");
}

/* std::hash<size_t> is the identity: hashstr prints the number in hex. */
Test(murmur, numbers_are_identity)
{
    run("assert(murmur.hashstr(0) == '0000000000000000')\n"
        "assert(murmur.hashstr(1) == '0000000000000001')\n"
        "assert(murmur.hashstr(42) == '000000000000002a')\n"
        "assert(murmur.hashstr(2^53) == '0020000000000000')\n"
        "assert(murmur.hashstr(2^63) == '8000000000000000')\n"
        "assert(murmur.hashstr(2^64 - 2048) == 'fffffffffffff800')\n"
        "assert(murmur.hashnum(0) == 0)\n"
        "assert(murmur.hashnum(42) == 42)\n"
        "assert(murmur.hashnum(2^53) == 2^53)\n"
        "assert(murmur.hashnum(2^63) == 2^63)\n"
        "assert(murmur.hashnum(2^64 - 2048) == 2^64 - 2048)\n");
}

/* The conversions modules.c documents: truncation toward zero, wrap of negatives. */
Test(murmur, fractions_and_negatives)
{
    run("assert(murmur.hashstr(1.9) == '0000000000000001')\n"
        "assert(murmur.hashstr(-0.5) == '0000000000000000')\n"
        "assert(murmur.hashnum(42.99) == 42)\n"
        "assert(murmur.hashstr(-1) == 'ffffffffffffffff')\n"
        "assert(murmur.hashstr(-1.5) == 'ffffffffffffffff')\n"
        "assert(murmur.hashstr(-2) == 'fffffffffffffffe')\n"
        "assert(murmur.hashstr(-2^63) == '8000000000000000')\n"
        "assert(murmur.hashnum(-1) == 2^64)\n" /* 2^64 - 1 rounded to a double */
        "assert(murmur.hashnum(-2^63) == 2^63)\n");
}

/* A numeric string is a string, as in LAppS: hashed as bytes, not as its value. */
Test(murmur, numeric_string_is_bytes)
{
    run("assert(murmur.hashstr('42') == 'aa4c9b5a050208b1')\n"
        "assert(murmur.hashstr(42) == '000000000000002a')\n");
}

Test(murmur, out_of_range_numbers_raise)
{
    run("for _, f in ipairs({murmur.hashstr, murmur.hashnum}) do\n"
        "  for _, x in ipairs({2^64, 2^65, -2^64, -2^63 - 2048, 1/0, -1/0, 0/0}) do\n"
        "    local ok, err = pcall(f, x)\n"
        "    assert(not ok, 'no error for ' .. tostring(x))\n"
        "    assert(err:find('number out of range', 1, true), err)\n"
        "  end\n"
        "end\n");
}

Test(murmur, argument_count_raises)
{
    run("local ok, err = pcall(murmur.hashstr)\n"
        "assert(not ok)\n"
        "assert(err == 'Usage: murmur.hashstr(number|string); returns string; got 0 arguments',"
        "  err)\n"
        "ok, err = pcall(murmur.hashnum, 'a', 'b')\n"
        "assert(not ok)\n"
        "assert(err == 'Usage: murmur.hashnum(number|string); returns number; got 2 arguments',"
        "  err)\n"
        "ok, err = pcall(murmur.hashstr, 'a', nil)\n"
        "assert(not ok and err:find('got 2 arguments', 1, true), err)\n");
}

Test(murmur, argument_type_raises)
{
    run("for _, f in ipairs({murmur.hashstr, murmur.hashnum}) do\n"
        "  for _, x in ipairs({{}, true, print, coroutine.create(print)}) do\n"
        "    local ok, err = pcall(f, x)\n"
        "    assert(not ok, 'no error for ' .. type(x))\n"
        "    assert(err:find('^Usage: murmur%.hash') and err:find('got ' .. type(x), 1, true),"
        "      err)\n"
        "  end\n"
        "  local ok, err = pcall(f, nil)\n"
        "  assert(not ok and err:find('got nil', 1, true), err)\n"
        "end\n");
}

/* A sanity check of the units (milliseconds since the epoch), not of timing. */
Test(time, now_is_epoch_milliseconds)
{
    lua_pushnumber(L, (lua_Number)time(NULL) * 1000);
    run_args("local ref = ...\n"
             "local now = time.now()\n"
             "assert(type(now) == 'number', type(now))\n"
             "assert(now == math.floor(now), 'not whole milliseconds')\n"
             "assert(math.abs(now - ref) <= 2000,"
             "  string.format('time.now() = %.17g, time(NULL) * 1000 = %.17g', now, ref))\n",
             1);
}

/* LAppS's now() never looked at its arguments. */
Test(time, ignores_arguments)
{
    run("assert(type(time.now(1, 'x', nil)) == 'number')\n"
        "assert(time.now() <= time.now())\n");
}

Test(modules, registered_as_packages)
{
    run("assert(package.loaded.time == time and type(time.now) == 'function')\n"
        "assert(package.loaded.murmur == murmur and type(murmur.hashnum) == 'function')\n"
        "assert(package.loaded.nap == nap and type(nap.new) == 'function')\n"
        "assert(require('time') == time and require('murmur') == murmur)\n"
        "assert(require('nap') == nap)\n");
}

Test(modules, preload_find)
{
    cr_assert_eq(lapps__lua_preload_find("time"), lapps__lua_open_time);
    cr_assert_eq(lapps__lua_preload_find("murmur"), lapps__lua_open_murmur);
    cr_assert_eq(lapps__lua_preload_find("nap"), lapps__lua_open_nap);
    cr_assert_eq(lapps__lua_preload_find("cws"), lapps__lua_open_cws);
    cr_assert_eq(lapps__lua_preload_find("mqr"), lapps__lua_open_mqr);
    cr_assert_eq(lapps__lua_preload_find("pam_auth"), lapps__lua_open_pam);
    /* Open in every state anyway: accepted, and opening them changes nothing. */
    cr_assert_not_null(lapps__lua_preload_find("nljson"));
    cr_assert_not_null(lapps__lua_preload_find("bcast"));
    cr_assert_null(lapps__lua_preload_find("Bcast"));
    cr_assert_null(lapps__lua_preload_find("Nap"));
    cr_assert_null(lapps__lua_preload_find(""));
    cr_assert_null(lapps__lua_preload_find("Time"));
    cr_assert_null(lapps__lua_preload_find("murmur2"));
    cr_assert_null(lapps__lua_preload_find("tim"));
}

static int
open_found(lua_State *ls)
{
    lapps__lua_opener open = lapps__lua_preload_find(lua_touserdata(ls, 1));

    lua_pop(ls, 1);
    open(ls);
    return 0;
}

/* A fresh state, as a service that names only one module in `preload` gets. */
Test(modules, opener_from_preload_find)
{
    lua_State *S = luaL_newstate();

    cr_assert_not_null(S);
    luaL_openlibs(S);
    if (lua_cpcall(S, open_found, (void *)"murmur") != 0)
        cr_assert_fail("%s", lua_tostring(S, -1));
    cr_assert_eq(lua_gettop(S), 0);
    cr_assert_eq(luaL_dostring(S, "assert(murmur.hashstr('abc') == '32d82bf8ed3dba39')\n"
                                  "assert(time == nil)\n"),
                 0, "%s", lua_tostring(S, -1));
    lua_close(S);
}

/* A global of that name that is not a table: an error, raised inside the protected call. */
Test(modules, name_conflict_raises)
{
    run("time = 5; package.loaded.time = nil");
    cr_assert_neq(lua_cpcall(L, open_found, (void *)"time"), 0);
    cr_assert(strstr(lua_tostring(L, -1), "time") != NULL, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* nap: seconds of CLOCK_MONOTONIC. */
static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs @p code and returns how long it took, in seconds. */
static double
timed_run(const char *code)
{
    double t0 = mono();

    run(code);
    return mono() - t0;
}

/* The upper bound of every sleep below: only there to make a hang fail. */
#define NAP_HANG 5.0

/* A stop hook that returns non-zero from its (stop_after + 1)th call on. */
struct stopper {
    int calls;
    int stop_after;
};

static int
stopper_fn(void *ctx)
{
    struct stopper *s = ctx;

    return ++s->calls > s->stop_after;
}

Test(nap, objects)
{
    run("local a, b = nap:new(), nap.new()\n"
        "assert(type(a) == 'table' and type(b) == 'table' and a ~= b)\n"
        "for _, n in ipairs({a, b, a:new(), a.new()}) do\n"
        "  assert(type(n.sleep) == 'function' and type(n.usleep) == 'function'"
        "    and type(n.nsleep) == 'function')\n"
        "  assert(select('#', n:sleep(0)) == 0, 'sleep returned values')\n"
        "  assert(select('#', n:usleep(0)) == 0, 'usleep returned values')\n"
        "  assert(select('#', n:nsleep(0)) == 0, 'nsleep returned values')\n"
        "end\n"
        /* On the module table itself too. */
        "nap:sleep(0); nap:usleep(1); nap:nsleep(1)\n");
}

Test(nap, sleep_at_least)
{
    double t;

    run("n = nap:new()");
    t = timed_run("n:sleep(0.05)");
    cr_assert(t >= 0.05 && t < NAP_HANG, "sleep(0.05) took %f s", t);
    t = timed_run("n:sleep(0.0125)");
    cr_assert(t >= 0.0125 && t < NAP_HANG, "sleep(0.0125) took %f s", t);
}

Test(nap, usleep_at_least)
{
    double t;

    run("n = nap:new()");
    t = timed_run("n:usleep(30000)");
    cr_assert(t >= 0.03 && t < NAP_HANG, "usleep(30000) took %f s", t);
    t = timed_run("n:usleep(20000.9)"); /* truncated to 20000 */
    cr_assert(t >= 0.02 && t < NAP_HANG, "usleep(20000.9) took %f s", t);
}

Test(nap, nsleep_at_least)
{
    double t;

    run("n = nap:new()");
    t = timed_run("n:nsleep(20000000)");
    cr_assert(t >= 0.02 && t < NAP_HANG, "nsleep(20000000) took %f s", t);
    t = timed_run("n:nsleep(1.5); n:nsleep(999)");
    cr_assert(t < NAP_HANG, "nsleep(1.5) took %f s", t);
}

/* A hook that never asks to stop: the sliced sleep still lasts the whole time. */
Test(nap, sliced_sleep_at_least)
{
    struct stopper s = {0, 1000000};
    double t;

    lapps__lua_nap_set_stop(L, stopper_fn, &s);
    run("n = nap:new()");
    t = timed_run("n:sleep(0.05)");
    cr_assert(t >= 0.05 && t < NAP_HANG, "sleep(0.05) took %f s", t);
    cr_assert_geq(s.calls, 1);
    t = timed_run("n:usleep(25000); n:nsleep(25000000)");
    cr_assert(t >= 0.05 && t < NAP_HANG, "usleep + nsleep took %f s", t);
}

/* The hook ends a long sleep early: on its 4th call, after 3 slices of 10 ms. */
Test(nap, stop_hook_wakes)
{
    struct stopper s = {0, 3};
    double t;

    lapps__lua_nap_set_stop(L, stopper_fn, &s);
    t = timed_run("nap:new():sleep(30)");
    cr_assert_lt(t, 10.0, "sleep(30) took %f s despite the stop hook", t);
    cr_assert_eq(s.calls, 4);
    /* Once stopping, sleeps return at once, up to the 1-day maximum, in coroutines too
     * (they share the registry). */
    t = timed_run("local n = nap:new()\n"
                  "n:sleep(86400); n:usleep(86400e6); n:nsleep(86400e9)\n"
                  "coroutine.wrap(function() n:sleep(60) end)()\n");
    cr_assert_lt(t, 10.0, "took %f s despite the stop hook", t);
    cr_assert_eq(s.calls, 8);
    /* A zero sleep does not consult the hook. */
    run("nap:new():sleep(0)");
    cr_assert_eq(s.calls, 8);
}

Test(nap, stop_hook_removed)
{
    struct stopper s = {0, 0};
    double t;

    /* Removing when none is set. */
    lapps__lua_nap_set_stop(L, NULL, NULL);
    lapps__lua_nap_set_stop(L, stopper_fn, &s);
    run("nap:new():usleep(20000)");
    cr_assert_eq(s.calls, 1);
    lapps__lua_nap_set_stop(L, NULL, NULL);
    t = timed_run("nap:new():usleep(20000)");
    cr_assert_eq(s.calls, 1, "the removed hook was called");
    cr_assert(t >= 0.02 && t < NAP_HANG, "usleep(20000) took %f s", t);
}

/* Set before nap is opened, in a fresh state. */
Test(nap, stop_hook_before_open)
{
    struct stopper s = {0, 0};
    lua_State *S = luaL_newstate();

    cr_assert_not_null(S);
    luaL_openlibs(S);
    lapps__lua_nap_set_stop(S, stopper_fn, &s);
    if (lua_cpcall(S, open_found, (void *)"nap") != 0)
        cr_assert_fail("%s", lua_tostring(S, -1));
    cr_assert_eq(luaL_dostring(S, "nap:new():sleep(30)"), 0, "%s", lua_tostring(S, -1));
    cr_assert_eq(s.calls, 1);
    lua_close(S);
}

Test(nap, argument_errors)
{
    run("local n = nap:new()\n"
        "local ok, err = pcall(n.sleep, n, -1)\n"
        "assert(not ok)\n"
        "assert(err == 'Usage: nap:sleep(seconds) - seconds to sleep, a number from 0 to "
        "86400 (1 day); got a negative number', err)\n"
        "ok, err = pcall(n.usleep, n)\n"
        "assert(not ok)\n"
        "assert(err == 'Usage: nap:usleep(microseconds) - microseconds to sleep, a number "
        "from 0 to 86400000000 (1 day); fractions are truncated; got 0 arguments', err)\n"
        /* A numeric string is a number, as in LAppS. */
        "assert(n:sleep('0') == nil and n:usleep('1') == nil and n:nsleep(' 2 ') == nil)\n"
        "ok, err = pcall(n.nsleep, n, 'x')\n"
        "assert(not ok)\n"
        "assert(err == 'Usage: nap:nsleep(nanoseconds) - nanoseconds to sleep, a number "
        "from 0 to 86400000000000 (1 day); fractions are truncated; got string', err)\n"
        /* {arguments after self, their count, the error's end} */
        "local cases = {\n"
        "  {{-1}, 1, 'got a negative number'}, {{-0.001}, 1, 'got a negative number'},\n"
        "  {{-1/0}, 1, 'got a negative number'}, {{0/0}, 1, 'got NaN'},\n"
        "  {{1/0}, 1, 'got infinity'}, {{'one'}, 1, 'got string'}, {{{}}, 1, 'got table'},\n"
        "  {{'-1'}, 1, 'got a negative number'},\n"
        "  {{true}, 1, 'got boolean'}, {{nil}, 1, 'got nil'}, {{}, 0, 'got 0 arguments'},\n"
        "  {{1, 2}, 2, 'got 2 arguments'}, {{1, nil}, 2, 'got 2 arguments'},\n"
        "}\n"
        "for _, f in ipairs({'sleep', 'usleep', 'nsleep'}) do\n"
        "  for _, c in ipairs(cases) do\n"
        "    local ok, err = pcall(n[f], n, unpack(c[1], 1, c[2]))\n"
        "    assert(not ok, f .. ': no error for ' .. c[3])\n"
        "    assert(err:find('^Usage: nap:' .. f .. '%(') and err:sub(-#c[3]) == c[3],"
        "      f .. ': ' .. err)\n"
        "  end\n"
        "end\n");
}

Test(nap, one_day_cap)
{
    run("local n = nap:new()\n"
        "for _, c in ipairs({{'sleep', 86400.5}, {'sleep', 1e10}, {'sleep', 2^63},\n"
        "                    {'usleep', 86400e6 + 1}, {'usleep', 1e300},\n"
        "                    {'nsleep', 86400e9 + 1024}, {'nsleep', 2^64}}) do\n"
        "  local ok, err = pcall(n[c[1]], n, c[2])\n"
        "  assert(not ok, c[1] .. ': no error for ' .. c[2])\n"
        "  assert(err:find('; too long: more than 1 day$'), err)\n"
        "end\n");
}

/* The 1-day maximum itself is accepted: a hook that stops at once keeps it short. */
Test(nap, one_day_accepted)
{
    struct stopper s = {0, 0};

    lapps__lua_nap_set_stop(L, stopper_fn, &s);
    run("local n = nap:new(); n:sleep(86400); n:usleep(86400e6); n:nsleep(86400e9)");
    cr_assert_eq(s.calls, 3);
}

/* n.sleep(1) instead of n:sleep(1): a clear error, whatever the arguments. */
Test(nap, dot_call_raises)
{
    run("local n = nap:new()\n"
        "local ok, err = pcall(n.sleep, 1)\n"
        "assert(not ok)\n"
        "assert(err == 'Usage: nap:sleep(seconds) - seconds to sleep, a number from 0 to "
        "86400 (1 day); not called on a nap object: call it with \\':\\', as in n:sleep(x), "
        "not with \\'.\\'', err)\n"
        "for _, f in ipairs({'sleep', 'usleep', 'nsleep'}) do\n"
        "  for _, args in ipairs({{1}, {}, {1, 2}, {{}, 1}, {'x', 1}, {setmetatable({}, {}), 1},"
        "                         {nil, 1}}) do\n"
        "    local ok, err = pcall(n[f], unpack(args, 1, 2))\n"
        "    assert(not ok, f .. ': no error')\n"
        "    assert(err:find('not called on a nap object', 1, true), err)\n"
        "  end\n"
        "  ok, err = pcall(n[f])\n"
        "  assert(not ok and err:find('not called on a nap object', 1, true), err)\n"
        "end\n");
}

/* Opening nap again into the same state keeps older objects working. */
Test(nap, reopen_keeps_objects)
{
    run("old = nap:new()");
    if (lua_cpcall(L, open_found, (void *)"nap") != 0)
        cr_assert_fail("%s", lua_tostring(L, -1));
    cr_assert_eq(lua_gettop(L), 0);
    run("old:sleep(0); nap:new():usleep(1); nap:nsleep(1)\n"
        "assert(getmetatable(old) == getmetatable(nap:new()))\n");
}
