/* Tests for lib/lua/nljson.c and lib/lua/json.c: the LAppS `nljson` module.
 *
 * Each test runs Lua chunks in a fresh LuaJIT state; a Lua error (a failing assert)
 * fails the test with the Lua message and traceback. Chunks are written with LUA(),
 * which turns its argument into a string: no "--" comments and no newlines inside them
 * (a newline inside a Lua string is written "\n"). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <lapps/error.h>

#include "lua/json.h"
#include "lua/nljson.h"
#include "proto/cbor.h"
#include "util/arena.h"

#define LUA(...) #__VA_ARGS__

static lua_State *L;

static int
open_nljson(lua_State *l)
{
    lapps__nljson_open(l);
    return 0;
}

static void
setup(void)
{
    L = luaL_newstate();
    cr_assert_not_null(L);
    luaL_openlibs(L);
    cr_assert_eq(lua_cpcall(L, open_nljson, NULL), 0);
    static int anchor;
    lua_pushlightuserdata(L, &anchor);
    lua_setglobal(L, "lightud");
}

static void
teardown(void)
{
    lua_close(L);
}

TestSuite(nljson, .init = setup, .fini = teardown);

/* Runs a chunk; returns NULL, or the Lua error message with its traceback (static). */
static const char *
lua_run(const char *chunk)
{
    static char msg[4096];
    lua_getglobal(L, "debug");
    lua_getfield(L, -1, "traceback");
    lua_remove(L, -2);
    int base = lua_gettop(L);
    int rv = luaL_loadbuffer(L, chunk, strlen(chunk), "=chunk");
    if (rv == 0)
        rv = lua_pcall(L, 0, 0, base);
    if (rv != 0)
        snprintf(msg, sizeof msg, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_settop(L, base - 1);
    return rv ? msg : NULL;
}

/* A prelude shared by the chunks: fails(pattern, f, ...) checks that f raises an error
 * that contains pattern (plainly); same(a, b) checks a == b and shows both. */
/* clang-format off */
static const char prelude[] = LUA(
    ffi = require("ffi");
    function fails(pattern, f, ...)
        local ok, err = pcall(f, ...);
        assert(not ok, "no error; expected: " .. pattern);
        assert(string.find(tostring(err), pattern, 1, true), "unexpected error: " .. tostring(err));
    end;
    function same(a, b)
        assert(a == b, "got [" .. tostring(a) .. "] expected [" .. tostring(b) .. "]");
    end;
);
/* clang-format on */

static void
run(const char *chunk)
{
    const char *err = lua_run(prelude);
    cr_assert_null(err, "prelude: %s", err);
    err = lua_run(chunk);
    cr_assert_null(err, "%s", err);
}

/* ---- from C: lapps__nljson_push_copy() and lapps__nljson_get() ---- */

struct copy_arg {
    const struct lapps_value *v;
    const char *global;
};

static int
push_copy_global(lua_State *l)
{
    struct copy_arg *a = lua_touserdata(l, 1);
    lapps__nljson_push_copy(l, a->v);
    lua_setglobal(l, a->global);
    return 0;
}

static void
copy_to_global(const struct lapps_value *v, const char *global)
{
    struct copy_arg a = {v, global};
    cr_assert_eq(lua_cpcall(L, push_copy_global, &a), 0, "%s", lua_tostring(L, -1));
}

static const struct lapps_value *
get_global(const char *name)
{
    lua_getglobal(L, name);
    const struct lapps_value *v = lapps__nljson_get(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Lua chunks below are Lua, not C: keep clang-format away from them. */
/* clang-format off */

/* ---- the harness itself ---- */

Test(nljson, a_failing_lua_assert_reports_its_message)
{
    const char *err = lua_run("assert(1 == 2, 'one is not two')");
    cr_assert_not_null(err);
    cr_assert(strstr(err, "one is not two"), "%s", err);
    err = lua_run("nljson.decode('{')");
    cr_assert(err && strstr(err, "nljson.decode: line 1"), "%s", err);
    cr_assert_null(lua_run("assert(type(nljson) == 'table')"));
}

/* ---- decoding, reading, typename ---- */

Test(nljson, decode_and_read)
{
    run(LUA(
        local v = nljson.decode("{\"s\":\"x\",\"i\":5,\"f\":1.5,\"t\":true,\"n\":null," ..
                                "\"a\":[1,2,3],\"o\":{\"k\":\"v\"}}");
        same(nljson.typename(v), "object");
        same(v.s, "x"); same(v.i, 5); same(v.f, 1.5); same(v.t, true); same(v.n, nil);
        same(v.missing, nil);
        same(nljson.typename(v.a), "array"); same(v.a[1], 1); same(v.a[3], 3);
        same(v.a[0], nil); same(v.a[4], nil); same(v.a[1.5], nil); same(v.a.x, nil);
        same(v.o.k, "v"); same(v[1], nil);
        same(type(v.a), "userdata"); same(#v.a, 3); same(#v, 7); same(#v.o, 1);
        same(nljson.typename(nljson.decode("null")), "null");
        same(nljson.typename(nljson.decode("true")), "boolean");
        same(nljson.typename(nljson.decode("7")), "number");
        same(nljson.typename(nljson.decode("7.5")), "number");
        same(nljson.typename(nljson.decode("\"x\"")), "string");
        same(nljson.typename(nljson.decode("[]")), "array");
        same(#nljson.decode("7"), 0);
        same(nljson.decode("7").x, nil);
    ));
}

Test(nljson, both_call_forms)
{
    run(LUA(
        local v = nljson:decode("[1,{\"a\":2}]");
        same(nljson:encode(v), "[1,{\"a\":2}]");
        same(nljson:typename(v[2]), "object");
        same(nljson:find(v[2], "a"), 2);
        same(nljson:empty(v), false);
        same(nljson:erase(v, 1), true);
        same(nljson.encode(v), "[{\"a\":2}]");
        same(nljson:encode_pretty(v, 0), "[{\"a\":2}]");
        same(nljson.from_cbor(nljson:to_cbor(v)) == v, true);
        local n = 0;
        nljson:foreach(v, function() n = n + 1 end);
        nljson:traverse(v, function() n = n + 1 end);
        same(n, 3);
        same(package.loaded.nljson, nljson);
    ));
}

Test(nljson, decode_errors_name_line_and_column)
{
    run(LUA(
        fails("nljson.decode: line 2, column 8: unexpected token near ']'",
              nljson.decode, "{\n  \"a\": ]");
        fails("nljson.decode: line 1, column 0: unexpected token near end of file",
              nljson.decode, "");
        fails("nljson.decode: line 1", nljson.decode, "[1] x");
        fails("nljson.decode: line 1", nljson.decode, "[1,]");
        fails("nljson.decode: line 1", nljson.decode, "[\"\xff\"]");
        fails("too big integer", nljson.decode, "18446744073709551615");
        fails("bad argument #1", nljson.decode, {});
        fails("bad argument #1", nljson.decode);
        same(nljson.decode(5) == nljson.decode("5"), true);
    ));
}

Test(nljson, decode_limits_nesting_to_64)
{
    run(LUA(
        local ok64 = string.rep("[", 64) .. string.rep("]", 64);
        same(nljson.encode(nljson.decode(ok64)), ok64);
        fails("nesting deeper than 64 levels", nljson.decode,
              string.rep("[", 65) .. string.rep("]", 65));
        fails("nesting deeper than 64 levels", nljson.decode,
              string.rep("{\"a\":", 65) .. "1" .. string.rep("}", 65));
    ));
}

Test(nljson, decode_file)
{
    char path[] = "/tmp/nljson-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char good[] = "{\"logins\": {\"admin\": \"admin\"}}\n";
    cr_assert_eq(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
    close(fd);
    lua_pushstring(L, path);
    lua_setglobal(L, "path");
    run(LUA(
        local v = nljson.decode_file(path);
        same(v.logins.admin, "admin");
        same(nljson:decode_file(path).logins.admin, "admin");
        fails("nljson.decode_file(/nonexistent/x.json): unable to open", nljson.decode_file,
              "/nonexistent/x.json");
        fails("bad argument #1", nljson.decode_file, {});
    ));
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\n\"a\": 1,\n\"b\": }\n", f);
    fclose(f);
    run(LUA(fails("): line 3, column", nljson.decode_file, path)));
    unlink(path);
}

/* ---- printing ---- */

Test(nljson, encode_is_compact_and_keeps_order)
{
    run(LUA(
        local text = "{\"z\":1,\"a\":[true,false,null,\"x\"],\"m\":{},\"e\":[],\"f\":-2.5}";
        local v = nljson.decode(text);
        same(nljson.encode(v), text);
        same(tostring(v), text);
        same(tostring(v.a), "[true,false,null,\"x\"]");
        same(nljson.encode(v.m), "{}");
        fails("bad argument #1", nljson.encode, 5);
        fails("bad argument #1", nljson.encode);
    ));
}

Test(nljson, encode_pretty_exactly)
{
    run(LUA(
        local v = nljson.decode("{\"a\":1,\"b\":[1,{\"c\":null}],\"d\":{},\"e\":[],\"s\":\"x\"}");
        same(nljson.encode_pretty(v),
             "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n  ],\n" ..
             "  \"d\": {},\n  \"e\": [],\n  \"s\": \"x\"\n}");
        same(nljson.encode_pretty(v.b, 4), "[\n    1,\n    {\n        \"c\": null\n    }\n]");
        same(nljson.encode_pretty(v.b, 1), "[\n 1,\n {\n  \"c\": null\n }\n]");
        same(nljson.encode_pretty(v.b, 0), "[1,{\"c\":null}]");
        same(nljson.encode_pretty(v.b, -1), "[1,{\"c\":null}]");
        same(nljson.encode_pretty(nljson.decode("5")), "5");
        same(nljson.encode_pretty(nljson.decode("[]")), "[]");
        same(#nljson.encode_pretty(nljson.decode("[[1]]"), 40), 2 + 42 + 82 + 42 + 1);
        fails("indent at most 1024", nljson.encode_pretty, v, 1025);
        fails("bad argument #2", nljson.encode_pretty, v, "x");
    ));
}

Test(nljson, numbers_print_as_nlohmann_does)
{
    run(LUA(
        local function enc(json) return nljson.encode(nljson.decode(json)) end;
        same(enc("[5.0, 0.1, 1e100, 1.5e-7, -0.0, 100000000000000.0, 1e15, 0.0001]"),
             "[5.0,0.1,1e+100,1.5e-07,-0.0,100000000000000.0,1e+15,0.0001]");
        same(enc("[0.3333333333333333, 1.7976931348623157e308, 5e-324, 123456789.125]"),
             "[0.3333333333333333,1.7976931348623157e+308,4.94065645841247e-324,123456789.125]");
        same(enc("[9223372036854775807, -9223372036854775808, 0, -1]"),
             "[9223372036854775807,-9223372036854775808,0,-1]");
        local t = nljson.decode("{}");
        t.i = 5; t.f = 5.5; t.big = 2^53; t.neg = -7; t.z = -0.0;
        t.nan = 0/0; t.inf = 1/0; t.ninf = -1/0; t.third = 1/3;
        same(nljson.encode(t),
             "{\"i\":5,\"f\":5.5,\"big\":9007199254740992.0,\"neg\":-7,\"z\":0," ..
             "\"nan\":null,\"inf\":null,\"ninf\":null,\"third\":0.3333333333333333}");
        same(t.i, 5); same(t.f, 5.5); same(t.big, 2^53); same(t.third, 1/3);
        assert(t.nan ~= t.nan); same(t.inf, 1/0); same(t.ninf, -1/0);
        local c = nljson.from_cbor(nljson.to_cbor(t));
        assert(c.nan ~= c.nan); same(c.inf, 1/0); same(c.ninf, -1/0); same(c.big, 2^53);
        same(nljson.typename(c.big), "number");
        same(c == t, true);
    ));
}

Test(nljson, text_escaping)
{
    run(LUA(
        local t = nljson.decode("{}");
        t.s = "q\" b\\ n\n r\r t\t b\b f\f c\1 d\31 del\127 / \xc3\xa9 \xe2\x82\xac";
        same(nljson.encode(t),
             "{\"s\":\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f c\\u0001 d\\u001f del\127 / " ..
             "\xc3\xa9 \xe2\x82\xac\"}");
        same(nljson.typename(t.s), "string");
        t["k\"\n"] = 1;
        same(nljson.encode(nljson.decode(nljson.encode(t))), nljson.encode(t));
        local z = nljson.decode("[\"a\\u0000b\"]");
        same(z[1], "a\0b"); same(#z[1], 3);
        same(nljson.encode(z), "[\"a\\u0000b\"]");
        same(nljson.decode("[\"\\u00e9\\ud83d\\ude00\"]")[1], "\xc3\xa9\xf0\x9f\x98\x80");
    ));
}

/* ---- byte strings ---- */

Test(nljson, byte_strings)
{
    run(LUA(
        local t = nljson.decode("{}");
        t.b = "\255\0";
        t.e = "";
        t.long = string.rep("\255", 1000);
        same(nljson.typename(t.b), "binary");
        same(t.b, "\255\0");
        local c = nljson.from_cbor(nljson.to_cbor(t));
        same(c.b, "\255\0"); same(c.long, string.rep("\255", 1000)); same(c.e, "");
        same(string.sub(nljson.to_cbor(t), 1, 5), "\xa3\x61\x62\x42\xff");
        same(string.sub(nljson.encode(t), 1, 23), "{\"b\":\"/wA=\",\"e\":\"\",\"lon");
        same(#nljson.encode(t), 27 + 1336 + 2);
        same(nljson.typename("\255"), "binary");
        same(nljson.typename("abc"), "string");
        local bin = nljson.from_cbor("\x42\x00\x01");
        same(nljson.typename(bin), "binary");
        same(nljson.encode(bin), "\"AAE=\"");
        local three = nljson.from_cbor("\x81\x43\x01\x02\x03");
        same(nljson.encode(three), "[\"AQID\"]");
        same(three[1], "\1\2\3");
        t["\255"] = 1;
        same(string.sub(nljson.encode(t), -10), ",\"/w==\":1}");
    ));
}

/* ---- large integers and cdata ---- */

Test(nljson, large_integers_through_cbor_as_cdata)
{
    run(LUA(
        local bytes = "\x85\x1b\x00\x20\x00\x00\x00\x00\x00\x01" ..
                      "\x1b\x80\x00\x00\x00\x00\x00\x00\x00" ..
                      "\x1b\xff\xff\xff\xff\xff\xff\xff\xff" ..
                      "\x3b\x7f\xff\xff\xff\xff\xff\xff\xff" ..
                      "\x1b\x00\x1f\xff\xff\xff\xff\xff\xff";
        local v = nljson.from_cbor(bytes);
        assert(ffi.istype("int64_t", v[1])); same(v[1], 9007199254740993LL);
        assert(ffi.istype("uint64_t", v[2])); same(v[2], 9223372036854775808ULL);
        assert(ffi.istype("uint64_t", v[3])); same(v[3], 18446744073709551615ULL);
        assert(ffi.istype("int64_t", v[4])); same(v[4], -9223372036854775807LL - 1);
        same(type(v[5]), "number"); same(v[5], 2^53 - 1);
        same(nljson.encode(v), "[9007199254740993,9223372036854775808,18446744073709551615," ..
                               "-9223372036854775808,9007199254740991]");
        local t = nljson.decode("[]");
        for i = 1, 5 do t[i] = v[i] end;
        same(nljson.to_cbor(t), bytes);
        same(t == v, true);
        local n = nljson.from_cbor("\x82\x3b\x00\x1f\xff\xff\xff\xff\xff\xfe" ..
                                   "\x3b\x00\x20\x00\x00\x00\x00\x00\x00");
        same(type(n[1]), "number"); same(n[1], -(2^53) + 1);
        assert(ffi.istype("int64_t", n[2])); same(n[2], -9007199254740993LL);
    ));
}

Test(nljson, integers_below_int64_go_to_lua_as_numbers)
{
    run(LUA(
        local v = nljson.from_cbor("\x81\x3b\xff\xff\xff\xff\xff\xff\xff\xff");
        same(type(v[1]), "number"); same(v[1], -2^64);
        same(nljson.encode(v), "[-18446744073709551616]");
    ));
}

Test(nljson, storing_cdata)
{
    run(LUA(
        local t = nljson.decode("{}");
        t.a = 5LL; t.b = -5LL; t.c = 2^63 * 1ULL; t.d = 0ULL - 1;
        t.e = ffi.new("int64_t", -9223372036854775807LL - 1);
        same(nljson.encode(t), "{\"a\":5,\"b\":-5,\"c\":9223372036854775808," ..
                               "\"d\":18446744073709551615,\"e\":-9223372036854775808}");
        same(type(t.a), "number"); same(t.b, -5);
        fails("cannot store this cdata (int64_t or uint64_t expected)",
              function() t.x = ffi.new("int32_t", 1) end);
        fails("cannot store this cdata", function() t.x = ffi.new("double", 1) end);
        fails("cannot store this cdata", function() t.x = { ffi.new("char[4]") } end);
        same(nljson.typename(5LL), "number");
        fails("cannot store this cdata", nljson.typename, ffi.new("int32_t", 1));
    ));
}

/* ---- assignment: Lua values to values ---- */

Test(nljson, assigning_lua_values)
{
    run(LUA(
        local t = nljson.decode("{\"keep\":1}");
        t.arr = {1, "two", true};
        t.obj = {x = 1};
        t.empty = {};
        t.nested = {{1, {2, {3}}}, {k = {"v"}}};
        t.keep = nil;
        same(nljson.encode(t), "{\"keep\":null,\"arr\":[1,\"two\",true],\"obj\":{\"x\":1}," ..
                               "\"empty\":[],\"nested\":[[1,[2,[3]]],{\"k\":[\"v\"]}]}");
        same(t.keep, nil); same(#t, 5);
        t.holes = {[1] = "a", [3] = "c"};
        same(nljson.typename(t.holes), "object");
        same(t.holes["1"], "a"); same(t.holes["3"], "c"); same(#t.holes, 2);
        t.mixed = {1, 2, x = "y"};
        same(t.mixed["1"], 1); same(t.mixed["2"], 2); same(t.mixed.x, "y"); same(#t.mixed, 3);
        t.numkeys = {[1.5] = "f", [-1] = "m", [0] = "z"};
        same(t.numkeys["1.5"], "f"); same(t.numkeys["-1"], "m"); same(t.numkeys["0"], "z");
        t.dup = {[1] = "n", ["1"] = "s", [2] = "x"};
        same(#t.dup, 2);
        assert(t.dup["1"] == "n" or t.dup["1"] == "s");
        t.big = {[2^40] = 1};
        same(nljson.encode(t.big), "{\"1099511627776\":1}");
        t.f = {1.5, -0.25};
        same(nljson.encode(t.f), "[1.5,-0.25]");
    ));
}

Test(nljson, assigning_what_json_cannot_hold_fails)
{
    run(LUA(
        local t = nljson.decode("{}");
        fails("nljson: cannot store a function", function() t.f = print end);
        fails("nljson: cannot store a thread", function() t.c = coroutine.create(print) end);
        fails("nljson: cannot store a light userdata", function() t.u = lightud end);
        fails("nljson: cannot store a userdata that is not nljson", function() t.u = io.stdout end);
        fails("nljson: cannot store a function", function() t.x = {1, {2, print}} end);
        fails("a table key must be a string or a number, not a boolean",
              function() t.x = {[true] = 1} end);
        fails("a table key must be a string or a number, not a table",
              function() t.x = {[{}] = 1} end);
        same(nljson.encode(t), "{}");
    ));
}

Test(nljson, self_referencing_and_deep_tables_fail)
{
    run(LUA(
        local t = nljson.decode("{}");
        local loop = {};
        loop.self = loop;
        fails("nljson: nesting too deep", function() t.x = loop end);
        local a = {};
        a[1] = a;
        fails("nesting too deep", function() t.x = a end);
        local function nest(n) local r = 1; for i = 1, n do r = {r} end; return r end;
        t.ok = nest(63);
        fails("nesting too deep", function() t.no = nest(64) end);
        fails("nesting too deep", function() t.ok[1][1] = nest(62) end);
        t.ok[1][1] = nest(61);
        same(nljson.encode(t.ok), string.rep("[", 63) .. "1" .. string.rep("]", 63));
        local root = nljson.from_cbor(nljson.to_cbor(t));
        same(root == t, true);
        local d64 = nljson.decode(string.rep("[", 64) .. string.rep("]", 64));
        fails("nesting too deep", function() t.copy = d64 end);
        t.copy = d64[1];
        same(#nljson.encode(t.copy), 126);
        collectgarbage();
    ));
}

Test(nljson, assigning_nljson_copies_never_aliases)
{
    run(LUA(
        local a = nljson.decode("{\"x\":{\"y\":1}}");
        local b = nljson.decode("{}");
        b.copy = a.x;
        a.x.y = 2;
        same(b.copy.y, 1);
        b.whole = a;
        a.x = nil;
        same(b.whole.x.y, 2);
        a.self = a;
        same(nljson.encode(a), "{\"x\":null,\"self\":{\"x\":null}}");
        a.self.inner = a.self;
        same(nljson.encode(a), "{\"x\":null,\"self\":{\"x\":null,\"inner\":{\"x\":null}}}");
        local l = nljson.decode("[[1]]");
        l[1][2] = l;
        same(nljson.encode(l), "[[1,[[1]]]]");
        b.scalar_root = nljson.decode("\"s\"");
        same(b.scalar_root, "s");
        b.t = {a.self, 3};
        same(nljson.encode(b.t), "[{\"x\":null,\"inner\":{\"x\":null}},3]");
    ));
}

/* ---- __newindex rules ---- */

Test(nljson, object_assignment_keeps_order_and_position)
{
    run(LUA(
        local o = nljson.decode("{\"b\":1,\"a\":2}");
        o.c = 3; o.b = 10; o.a = nil;
        same(nljson.encode(o), "{\"b\":10,\"a\":null,\"c\":3}");
        o[""] = "empty key";
        same(o[""], "empty key");
        fails("nljson: an object's key must be a string, not a number", function() o[1] = 1 end);
        fails("an object's key must be a string, not a boolean", function() o[true] = 1 end);
        same(nljson.encode(o), "{\"b\":10,\"a\":null,\"c\":3,\"\":\"empty key\"}");
    ));
}

Test(nljson, array_assignment_is_one_based_and_pads)
{
    run(LUA(
        local a = nljson.decode("[1,2]");
        a[1] = "one"; a[3] = 3; a[6] = 6;
        same(nljson.encode(a), "[\"one\",2,3,null,null,6]");
        same(#a, 6);
        fails("nljson: array index 0 out of range", function() a[0] = 1 end);
        fails("array index 1.5 out of range", function() a[1.5] = 1 end);
        fails("array index -1 out of range", function() a[-1] = 1 end);
        fails("array index 65543 out of range (an integer from 1 to size+65536; the size is 6)",
              function() a[6 + 65537] = 1 end);
        fails("array index inf out of range", function() a[1/0] = 1 end);
        fails("nljson: an array's index must be a number, not a string", function() a.x = 1 end);
        a[6 + 65536] = "far";
        same(#a, 65542); same(a[65542], "far"); same(a[65541], nil);
        same(nljson.encode(a):sub(1, 30), "[\"one\",2,3,null,null,6,null,nu");
        local e = nljson.decode("[]");
        e[1] = {}; e[2] = {k = 1};
        same(nljson.encode(e), "[[],{\"k\":1}]");
        fails("nljson: cannot set a field of a number (an object or an array expected)",
              function() local n = nljson.decode("5"); n.x = 1 end);
        fails("cannot set a field of a null",
              function() local n = nljson.decode("null"); n[1] = 1 end);
    ));
}

/* ---- children outlive their place in the tree ---- */

Test(nljson, a_child_whose_place_is_gone_reads_nil_and_refuses_writes)
{
    run(LUA(
        local t = nljson.decode("{\"a\":{\"b\":{\"c\":[1,2]}},\"l\":[[1],[2],[3]]}");
        local c = t.a.b.c;
        local b = t.a.b;
        t.a = nil;
        same(c[1], nil); same(#c, 0); same(nljson.typename(c), "null");
        same(nljson.encode(c), "null"); same(nljson.empty(c), false);
        same(nljson.find(c, "x"), nil); same(c == nljson.decode("null"), true);
        same(nljson.from_cbor(nljson.to_cbor(c)) == nljson.decode("null"), true);
        fails("nljson: this value is no longer part of its tree", function() c[1] = 5 end);
        fails("no longer part of its tree", function() b.x = 5 end);
        fails("no longer part of its tree", function() nljson.erase(c, 1) end);
        local n = 0; nljson.foreach(c, function() n = n + 1 end); same(n, 0);
        nljson.traverse(c, function() n = n + 1 end); same(n, 0);
        t.a = {b = {c = {7}}};
        same(c[1], 7);
        local second = t.l[2];
        nljson.erase(t.l, 1);
        same(second[1], 3);
        same(nljson.erase(t.l, 3), false);
        local last = t.l[2];
        nljson.erase(t.l, 2);
        same(last[1], nil);
        fails("no longer part of its tree", function() last[1] = 0 end);
        local o = nljson.decode("{\"x\":{\"y\":1},\"z\":2}");
        local x = o.x;
        nljson.erase(o, "x");
        same(x.y, nil);
        o.x = 5;
        same(x.y, nil); same(nljson.typename(x), "number");
        fails("cannot set a field of a number", function() x.y = 1 end);
        local keep = nljson.decode("{\"d\":{\"e\":1}}").d;
        collectgarbage(); collectgarbage();
        same(keep.e, 1);
        keep.f = 2;
        same(nljson.encode(keep), "{\"e\":1,\"f\":2}");
        local dead = nljson.decode("{\"a\":[1]}");
        local kid = dead.a;
        dead.a = nil;
        t.copied = kid;
        same(t.copied, nil);
        same(nljson.encode(t), "{\"a\":{\"b\":{\"c\":[7]}},\"l\":[[2]],\"copied\":null}");
    ));
}

/* ---- find, foreach, traverse, erase, empty, __len, __eq ---- */

Test(nljson, find)
{
    run(LUA(
        local v = nljson.decode("{\"a\":1,\"12\":\"twelve\",\"o\":{\"k\":[5]},\"l\":[10,20]}");
        same(nljson.find(v, "a"), 1);
        same(nljson.find(v, "zz"), nil);
        same(nljson.find(v, 12), "twelve");
        same(v[12], "twelve");
        same(nljson.find(v.o, "k")[1], 5);
        same(nljson.find(v.l, 2), 20);
        same(nljson.find(v.l, 3), nil);
        same(nljson.find(v.l, "1"), nil);
        same(nljson.find(nljson.decode("5"), "x"), nil);
        fails("bad argument #2", nljson.find, v, {});
        fails("bad argument #2", nljson.find, v);
        fails("bad argument #1", nljson.find, "x", "y");
    ));
}

Test(nljson, foreach)
{
    run(LUA(
        local v = nljson.decode("{\"b\":1,\"a\":[1,2],\"c\":null}");
        local seen = {};
        nljson.foreach(v, function(k, x) seen[#seen + 1] = k .. "=" .. nljson.typename(x) end);
        same(table.concat(seen, ","), "b=number,a=array,c=null");
        seen = {};
        nljson.foreach(nljson.decode("[\"x\",{},7]"),
                       function(i, x) seen[#seen + 1] = i .. ":" .. type(x) end);
        same(table.concat(seen, ","), "1:string,2:userdata,3:number");
        local l = nljson.decode("[1,2,3,4]");
        seen = {};
        nljson.foreach(l, function(i, x) seen[#seen + 1] = x; nljson.erase(l, 1) end);
        same(table.concat(seen, ","), "1,3");
        nljson.foreach(nljson.decode("5"), function() error("called") end);
        fails("bad argument #2", nljson.foreach, v, 5);
        fails("boom", nljson.foreach, v, function() error("boom") end);
        local kept = {};
        nljson.foreach(nljson.decode("{\"x\":{\"y\":1}}"), function(k, x) kept[k] = x end);
        collectgarbage();
        same(kept.x.y, 1);
    ));
}

Test(nljson, traverse_visits_children_first_with_correct_indexes)
{
    run(LUA(
        local v = nljson.decode("{\"a\":[10,20,[30]],\"b\":{\"c\":1},\"d\":\"s\"}");
        local seen = {};
        nljson.traverse(v, function(k, x)
            seen[#seen + 1] = tostring(k) .. "=" ..
                (type(x) == "userdata" and nljson.encode(x) or tostring(x));
        end);
        same(table.concat(seen, " "), "1=10 2=20 1=30 3=[30] a=[10,20,[30]] c=1 b={\"c\":1} d=s");
        seen = {};
        nljson.traverse(nljson.decode("[[1,2],[3]]"), function(k, x) seen[#seen + 1] = k end);
        same(table.concat(seen, ","), "1,2,1,1,2");
        local t = nljson.decode("{\"a\":{\"b\":1},\"c\":2}");
        nljson.traverse(t, function(k, x) if k == "b" then t.a = nil end end);
        same(nljson.encode(t), "{\"a\":null,\"c\":2}");
        fails("bad argument #2", nljson.traverse, t);
    ));
}

Test(nljson, erase)
{
    run(LUA(
        local o = nljson.decode("{\"a\":1,\"b\":2,\"7\":3}");
        same(nljson.erase(o, "a"), true);
        same(nljson.erase(o, "a"), false);
        same(nljson.erase(o, 7), true);
        same(nljson.encode(o), "{\"b\":2}");
        local l = nljson.decode("[1,2,3]");
        same(nljson.erase(l, 0), false);
        same(nljson.erase(l, 4), false);
        same(nljson.erase(l, 1.5), false);
        same(nljson.erase(l, "1"), false);
        same(nljson.erase(l, 1), true);
        same(nljson.encode(l), "[2,3]");
        same(nljson.erase(l, 2), true);
        same(nljson.encode(l), "[2]");
        same(nljson.erase(nljson.decode("5"), 1), false);
        same(nljson.erase(o), false);
        same(nljson.erase(o, {}), false);
        fails("bad argument #1", nljson.erase, {}, 1);
    ));
}

Test(nljson, empty_len_eq)
{
    run(LUA(
        same(nljson.empty(nljson.decode("[]")), true);
        same(nljson.empty(nljson.decode("{}")), true);
        same(nljson.empty(nljson.decode("[0]")), false);
        same(nljson.empty(nljson.decode("null")), false);
        same(nljson.empty(nljson.decode("\"\"")), false);
        same(#nljson.decode("{\"a\":1,\"b\":2}"), 2);
        same(#nljson.decode("\"abc\""), 0);
        local a = nljson.decode("{\"x\":[1,2.5,\"s\",null]}");
        local b = nljson.decode("{\"x\":[1,2.5,\"s\",null]}");
        same(a == b, true); same(a.x == b.x, true); same(a == b.x, false);
        b.x[4] = false;
        same(a == b, false);
        same(nljson.decode("{\"a\":1,\"b\":2}") == nljson.decode("{\"b\":2,\"a\":1}"), false);
        same(nljson.decode("1") == nljson.decode("1.0"), false);
        fails("bad argument #1", nljson.empty, 1);
    ));
}

Test(nljson, typename_of_every_kind)
{
    run(LUA(
        local v = nljson.from_cbor("\x88\xf6\xf5\x01\xf9\x3c\x00\x41\xff\x61\x78\x80\xa0");
        local names = {};
        for i = 1, 8 do names[i] = nljson.typename(v[i]) end;
        same(table.concat(names, ","), "null,boolean,number,number,binary,string,array,object");
        same(nljson.typename(nljson.from_cbor("\x40")), "binary");
        same(nljson.typename(nljson.from_cbor("\xa0")), "object");
        same(nljson.typename(nil), "null");
        same(nljson.typename(true), "boolean");
        same(nljson.typename(1.5), "number");
        fails("bad argument #1", nljson.typename, {});
        fails("bad argument #1", nljson.typename);
    ));
}

/* ---- CBOR ---- */

Test(nljson, json_cbor_json_round_trip)
{
    run(LUA(
        local text = "{\"lapps\":1,\"method\":\"echo\",\"params\":[{\"a\":\"hello\",\"n\":-12," ..
                     "\"f\":0.5,\"t\":true,\"z\":null,\"u\":\"\xc3\xa9\",\"e\":[],\"o\":{}}]}";
        local v = nljson.decode(text);
        local cbor = nljson.to_cbor(v);
        same(string.byte(cbor, 1), 0xa3);
        local back = nljson.from_cbor(cbor);
        same(back == v, true);
        same(nljson.encode(back), text);
        same(nljson.to_cbor(back), cbor);
        local big = nljson.decode("[]");
        for i = 1, 300 do big[i] = {i, "item " .. i} end;
        local bc = nljson.to_cbor(big);
        assert(#bc > 1024);
        same(nljson.from_cbor(bc) == big, true);
        same(nljson.to_cbor(nljson.decode("5")), "\x05");
        fails("bad argument #1", nljson.to_cbor, "x");
    ));
}

Test(nljson, from_cbor_errors)
{
    run(LUA(
        fails("nljson.from_cbor: not well-formed CBOR", nljson.from_cbor, "\x82\x01");
        fails("not well-formed CBOR", nljson.from_cbor, "");
        fails("not well-formed CBOR", nljson.from_cbor, "\x01\x02");
        fails("not well-formed CBOR", nljson.from_cbor, "\x62\xff\xfe");
        fails("not well-formed CBOR", nljson.from_cbor, string.rep("\x81", 65) .. "\x01");
        same(#nljson.encode(nljson.from_cbor(string.rep("\x81", 64) .. "\x01")), 129);
        fails("CBOR tags and \"undefined\" are not supported", nljson.from_cbor, "\xc1\x01");
        fails("not supported", nljson.from_cbor, "\xf7");
        fails("bad argument #1", nljson.from_cbor, {});
    ));
}

Test(nljson, map_keys_that_are_not_text)
{
    run(LUA(
        local v = nljson.from_cbor("\xa4\x01\x63one\x42\x00\x01\x02\x82\x01\x02\xa1\x61x\x01" ..
                                   "\x81\x63\x61\x22\x62\x07");
        same(nljson.encode(v), [[{"1":"one","AAE=":2,"[1,2]":{"x":1},"[\"a\\\"b\"]":7}]]);
        same(nljson.find(v, 1), "one"); same(v["1"], "one");
        same(v["AAE="], 2);
        same(v["[1,2]"].x, 1);
        same(v[ [=[["a\"b"]]=] ], 7);
        local keys = {};
        nljson.foreach(v, function(k) keys[#keys + 1] = k end);
        same(table.concat(keys, " "), [=[1 AAE= [1,2] ["a\"b"]]=]);
        local child = v["[1,2]"];
        child.y = 2;
        same(nljson.encode(v["[1,2]"]), "{\"x\":1,\"y\":2}");
        v[ [=[["a\"b"]]=] ] = 8;
        same(v[ [=[["a\"b"]]=] ], 8);
        same(nljson.erase(v, "AAE="), true);
        same(nljson.encode(v), [[{"1":"one","[1,2]":{"x":1,"y":2},"[\"a\\\"b\"]":8}]]);
        same(nljson.encode_pretty(nljson.from_cbor("\xa1\xa1\x01\x02\x03")),
             "{\n  \"{\\\"1\\\":2}\": 3\n}");
        local deep = nljson.from_cbor("\xa1\xa1\xa1\x61\x22\x01\x02\x03");
        same(nljson.encode(deep), [[{"{\"{\\\"\\\\\\\"\\\":1}\":2}":3}]]);
        same(deep[ [[{"{\"\\\"\":1}":2}]] ], 3);
    ));
}

/* A key holding a map with such a key is escaped once per level, so its text doubles per
 * level: 40 levels in 81 bytes of CBOR would print 2^40 bytes. Printing stops at a
 * budget with an error; lookups stop at the first byte that differs. */
Test(nljson, keys_within_keys_cannot_blow_up)
{
    run(LUA(
        local v = nljson.from_cbor(string.rep("\xa1", 40) .. "\x01" .. string.rep("\x02", 40));
        local ok, err = pcall(nljson.encode, v);
        same(ok, false);
        assert(err:find("map keys within map keys too large"), err);
        ok, err = pcall(nljson.foreach, v, function() end);
        same(ok, false);
        assert(err:find("a map key too large to print as text"), err);
        same(nljson.find(v, "x"), nil);
        same(v["{}"], nil);
        same(#nljson.to_cbor(v), 81);
        local shallow = nljson.from_cbor(string.rep("\xa1", 3) .. "\x01" .. string.rep("\x02", 3));
        same(nljson.encode(shallow), [[{"{\"{\\\"1\\\":2}\":2}":2}]]);
    ));
}

/* ---- the echo_lapps example's idioms ---- */

Test(nljson, echo_lapps_idioms)
{
    run(LUA(
        local maps = {keys = nljson.decode("{}"),
                      logins = nljson.decode("{\"admin\":\"admin\",\"guest\":\"guest\"}")};
        local message = nljson.decode("{\"lapps\":1,\"method\":\"login\",\"params\":" ..
                                      "[{\"user\":\"admin\",\"password\":\"admin\"}],\"cid\":0}");
        local params = message.params;
        same(nljson.typename(params[1]), "object");
        local username = nljson.find(params[1], "user");
        local password = nljson.find(params[1], "password");
        same(type(username), "string");
        same(nljson.find(maps.logins, username) ~= nil, true);
        same(maps.logins[username] == password, true);
        local login_success =
            nljson.decode("{\"status\":1,\"result\":[{\"authkey\":0}],\"cid\":0}");
        local authkey = 3000000000;
        local handler = 140234;
        maps.keys[tostring(handler)] = authkey;
        login_success.result[1].authkey = authkey;
        same(nljson.encode(login_success),
             "{\"status\":1,\"result\":[{\"authkey\":3000000000}],\"cid\":0}");
        same(nljson.find(maps.keys, tostring(handler)), authkey);
        same(nljson.find(maps.keys, handler), authkey);
        local echo = nljson.decode("{\"method\":\"echo\",\"params\":" ..
                                   "[{\"authkey\":3000000000,\"data\":\"x\"}]}");
        same(nljson.find(echo.params[1], "authkey") == nljson.find(maps.keys, handler), true);
        local response = nljson.decode("{\"cid\":0,\"status\":1,\"result\":[]}");
        response.result = echo.params;
        same(nljson.encode(response),
             "{\"cid\":0,\"status\":1,\"result\":[{\"authkey\":3000000000,\"data\":\"x\"}]}");
        same(nljson.typename(echo.params[1].data), "string");
        same(nljson.erase(maps.keys, tostring(handler)), true);
        same(nljson.find(maps.keys, tostring(handler)), nil);
        maps.keys[tostring(handler)] = authkey;
        same(nljson.erase(maps.keys, handler), true);
        same(nljson.empty(maps.keys), true);
    ));
}

Test(nljson, push_copy_of_a_built_value)
{
    lapps_value *v = lapps_value_build("{s:i, s:s, s:[{s:s, s:y#, s:U, s:f, s:n, s:b}]}", "lapps",
                                       1, "method", "echo", "params", "a", "hello", "bin",
                                       "\x00\x01", (size_t)2, "big", UINT64_MAX, "f", 0.5, "n",
                                       "t", 1);
    cr_assert_not_null(v);
    copy_to_global(v, "m");
    const struct lapps_value *got = get_global("m");
    cr_assert_not_null(got);
    cr_assert_neq(got, v);
    cr_assert(lapps_value_equal(got, v));
    lapps_value_free(v);
    run(LUA(
        same(nljson.encode(m), "{\"lapps\":1,\"method\":\"echo\",\"params\":[{\"a\":\"hello\"," ..
                               "\"bin\":\"AAE=\",\"big\":18446744073709551615,\"f\":0.5," ..
                               "\"n\":null,\"t\":true}]}");
        p = m.params;
        m.params[1].a = "changed";
        m.params[1].added = {1, 2};
        m.params[2] = "two";
        nljson.erase(m, "lapps");
        nljson.erase(m.params[1], "bin");
        m.method = "replaced";
        same(nljson.encode(m), "{\"method\":\"replaced\",\"params\":[{\"a\":\"changed\",\"big\":" ..
                               "18446744073709551615,\"f\":0.5,\"n\":null,\"t\":true," ..
                               "\"added\":[1,2]},\"two\"]}");
        gone = m.params[1].added;
        nljson.erase(m.params, 1);
    ));
    const struct lapps_value *params = get_global("p");
    cr_assert_not_null(params);
    cr_assert_eq(lapps_value_type_of(params), LAPPS_VALUE_ARRAY);
    cr_assert(lapps_value_text_is(lapps_value_at(params, 0), "two"));
    cr_assert_null(get_global("gone"));
    cr_assert_null(get_global("no_such_global"));
    cr_assert_null(get_global("print"));
    lua_getglobal(L, "io");
    lua_getfield(L, -1, "stdout");
    cr_assert_null(lapps__nljson_get(L, -1));
    lua_pop(L, 2);
    lua_pushlightuserdata(L, &params);
    cr_assert_null(lapps__nljson_get(L, -1));
    lua_pop(L, 1);
}

Test(nljson, push_copy_survives_the_arena_and_message_being_reused)
{
    lapps_value *built = lapps_value_build("{s:i, s:s, s:[{s:s}]}", "lapps", 1, "method", "echo",
                                           "params", "a", "hello");
    uint8_t msg[256];
    lapps_ssize n = lapps_value_to_cbor(built, msg, sizeof msg, NULL);
    cr_assert_gt(n, 0);
    struct lapps__arena arena;
    lapps__arena_init(&arena, 1024);
    struct lapps_value *v;
    cr_assert_eq(lapps__cbor_decode(&arena, msg, (size_t)n, &v), 0);
    copy_to_global(v, "m");
    copy_to_global(lapps_value_at(lapps_value_get(v, "params"), 0), "first");
    lapps__arena_reset(&arena);
    memset(msg, 0xee, sizeof msg);
    struct lapps_value *junk;
    cr_assert_eq(lapps__cbor_decode(&arena, (const uint8_t *)"\x84\x01\x02\x03\x04", 5, &junk), 0);
    memset(lapps__arena_alloc(&arena, 512), 0x55, 512);
    cr_assert(lapps_value_equal(get_global("m"), built));
    run(LUA(
        same(nljson.encode(m), "{\"lapps\":1,\"method\":\"echo\",\"params\":[{\"a\":\"hello\"}]}");
        same(m.method, "echo");
        same(nljson.encode(first), "{\"a\":\"hello\"}");
        first.b = "x";
        same(nljson.encode(m.params[1]), "{\"a\":\"hello\"}");
        m.params[1].a = string.rep("long", 100);
        m.params[1] = nil;
        same(nljson.encode(m), "{\"lapps\":1,\"method\":\"echo\",\"params\":[null]}");
    ));
    lapps__arena_free(&arena);
    lapps_value_free(built);
}

/* Runs under a Lua allocator that fails (lua_oom below): every step may raise. */
static const char oom_chunk[] = LUA(
    local t = nljson.decode("{\"keep\":[1,2]}");
    local kept = t.keep;
    t.x = {a = {1, 2, "three", {b = "c", [5] = 6}}, [7] = "seven", s = string.rep("x", 100)};
    t.y = nljson.decode("[1,2,{\"k\":\"v\"}]");
    t.z = {9007199254740993LL, 18446744073709551615ULL, "\255"};
    local s = nljson.encode_pretty(t);
    local c = nljson.from_cbor(nljson.to_cbor(t));
    nljson.foreach(c, function(k, v) end);
    nljson.traverse(c, function(k, v) end);
    local v = c.x.a[4];
    v.z = {1, {2}};
    nljson.erase(c, "y");
    kept[3] = c;
    return s;
);

/* clang-format on */

/* A Lua allocator that fails the allocation number `left` (from 0), once. */
struct oom {
    long left;
};

static void *
lua_oom(void *ud, void *p, size_t old, size_t n)
{
    struct oom *o = ud;
    if (n == 0) {
        free(p);
        return NULL;
    }
    if (n > old && o->left >= 0 && o->left-- == 0)
        return NULL;
    return realloc(p, n);
}

/* Lua running out of memory at every step of the chunk: each time it fails with "not
 * enough memory" (or succeeds), and lua_close frees everything (run under ASan). */
Test(nljson, lua_out_of_memory_at_every_step)
{
    int failures = 0;
    for (long k = 0;; k++) {
        struct oom o = {-1};
        lua_State *l = lua_newstate(lua_oom, &o);
        cr_assert_not_null(l);
        luaL_openlibs(l);
        cr_assert_eq(lua_cpcall(l, open_nljson, NULL), 0);
        cr_assert_eq(luaL_loadbuffer(l, oom_chunk, strlen(oom_chunk), "=oom"), 0);
        o.left = k;
        int rv = lua_pcall(l, 0, 1, 0);
        o.left = -1;
        if (rv != 0) {
            cr_assert_eq(rv, LUA_ERRMEM, "step %ld: %s", k, lua_tostring(l, -1));
            failures++;
        }
        lua_close(l);
        if (rv == 0) {
            cr_assert_gt(failures, 10);
            cr_log_info("succeeded after %d failing runs", failures);
            break;
        }
    }
}

static int
push_copy_only(lua_State *l)
{
    lapps__nljson_push_copy(l, lua_touserdata(l, 1));
    return 0;
}

Test(nljson, push_copy_refuses_values_nested_deeper_than_64)
{
    lapps_value *v = lapps_value_int(1);
    for (int i = 0; i < 65; i++) {
        lapps_value *a = lapps_value_array();
        cr_assert_eq(lapps_value_append(a, v), 0);
        v = a;
    }
    cr_assert_neq(lua_cpcall(L, push_copy_only, v), 0);
    cr_assert(strstr(lua_tostring(L, -1), "nested deeper than 64"), "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    const lapps_value *inner = lapps_value_at(v, 0);
    cr_assert_eq(lua_cpcall(L, push_copy_only, (void *)inner), 0);
    copy_to_global(NULL, "nothing");
    run(LUA(same(nljson.typename(nothing), "null")));
    lapps_value_free(v);
}

/* ---- json.c directly ---- */

static int
wbuf_write(void *ctx, const char *p, size_t n)
{
    lapps__wbuf_put(ctx, p, n);
    return 0;
}

static int
refuse_write(void *ctx, const char *p, size_t n)
{
    return LAPPS_ERR_NOSPACE;
}

Test(nljson, json_print_and_parse_from_c)
{
    struct lapps_value *v;
    char msg[128];
    cr_assert_eq(lapps__json_parse("[1, \"a\", {\"k\": 2.5}]", 20, &v, msg, sizeof msg), 0);
    struct lapps__wbuf b = {0};
    cr_assert_eq(lapps__json_print(v, 0, wbuf_write, &b), 0);
    cr_assert_eq(b.len, 17);
    cr_assert(memcmp(b.p, "[1,\"a\",{\"k\":2.5}]", 17) == 0);
    cr_assert_eq(lapps__json_print(v, 2, refuse_write, NULL), LAPPS_ERR_NOSPACE);
    lapps__wbuf_free(&b);
    lapps_value_free(v);
    cr_assert_eq(lapps__json_parse("[1,", 3, &v, msg, sizeof msg), LAPPS_ERR_PROTO);
    cr_assert(strstr(msg, "line 1, column"), "%s", msg);
    cr_assert_eq(lapps__json_parse("[1]", 3, &v, NULL, 0), 0);
    lapps_value_free(v);
    cr_assert_eq(lapps__json_parse_file("/nonexistent", &v, msg, sizeof msg), LAPPS_ERR_PROTO);
    cr_assert(strstr(msg, "unable to open /nonexistent"), "%s", msg);
    struct lapps_value bad = {.type = 99};
    cr_assert_eq(lapps__json_print(&bad, 0, wbuf_write, &b), LAPPS_ERR_INVAL);
    lapps__wbuf_free(&b);
}
