/* fuzz-nljson.c — libFuzzer target for what a Lua service does with hostile input.
 *
 * The input is tried two ways:
 * - as one CBOR message, as a LAppS service receives it: a value that decodes is copied
 *   into an nljson value (lapps__nljson_push_copy, as onMessage gets it), which must
 *   equal the original; then nljson.to_cbor, encode and encode_pretty run on it in Lua,
 *   and to_cbor's bytes must decode to the same value again;
 * - as JSON text (nljson.decode): whatever parses must print, and printing is a fixed
 *   point: the printed text parses and prints to the same text again. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "lua/json.h"
#include "lua/nljson.h"
#include "proto/cbor.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct text {
    char *p;
    size_t len, cap;
};

static int
text_write(void *ctx, const char *p, size_t n)
{
    struct text *t = ctx;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *q = realloc(t->p, cap);
        if (!q)
            return LAPPS_ERR_NOMEM;
        t->p = q;
        t->cap = cap;
    }
    memcpy(t->p + t->len, p, n);
    t->len += n;
    t->p[t->len] = '\0';
    return 0;
}

/* Runs in Lua, protected: push_copy, then the module's encoders over the copy. */
static int
lua_side(lua_State *L)
{
    const struct lapps_value *v = lua_touserdata(L, 1);
    lapps__nljson_push_copy(L, v);
    if (!lapps_value_equal(lapps__nljson_get(L, -1), v))
        abort();
    lua_getglobal(L, "nljson");
    lua_getfield(L, -1, "to_cbor");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 1);
    size_t n;
    const char *cbor = lua_tolstring(L, -1, &n);
    lapps_value *back;
    if (lapps_value_from_cbor((const uint8_t *)cbor, n, &back) != 0 || !lapps_value_equal(back, v))
        abort();
    lapps_value_free(back);
    lua_pop(L, 1);
    /* Printing may refuse (keys within keys past their budget), but with an error. */
    for (int pretty = 0; pretty < 2; pretty++) {
        lua_getfield(L, -1, pretty ? "encode_pretty" : "encode");
        lua_pushvalue(L, -3);
        if (lua_pcall(L, 1, 1, 0) == 0 && !lua_isstring(L, -1))
            abort();
        lua_pop(L, 1);
    }
    return 0;
}

static void
as_cbor(lua_State *L, const uint8_t *data, size_t size)
{
    struct lapps__arena a;
    lapps__arena_init(&a, 1024);
    struct lapps_value *v;
    if (lapps__cbor_decode(&a, data, size, &v) == 0) {
        lua_pushcfunction(L, lua_side);
        lua_pushlightuserdata(L, v);
        /* Only "not enough memory" may fail here, and libFuzzer's inputs are small. */
        if (lua_pcall(L, 1, 0, 0) != 0)
            abort();
    }
    lapps__arena_free(&a);
    lua_settop(L, 0);
}

static void
as_json(const uint8_t *data, size_t size)
{
    struct lapps_value *v, *w;
    struct text t1 = {0}, t2 = {0};
    if (lapps__json_parse((const char *)data, size, &v, NULL, 0) != 0)
        return;
    if (lapps__json_print(v, 0, text_write, &t1) != 0 || !t1.p)
        abort();
    if (lapps__json_parse(t1.p, t1.len, &w, NULL, 0) != 0)
        abort();
    if (lapps__json_print(w, 2, text_write, &t2) != 0) /* pretty, once */
        abort();
    t2.len = 0;
    if (lapps__json_print(w, 0, text_write, &t2) != 0 || t1.len != t2.len ||
        memcmp(t1.p, t2.p, t1.len) != 0)
        abort();
    lapps_value_free(w);
    lapps_value_free(v);
    free(t1.p);
    free(t2.p);
}

static int
open_nljson(lua_State *L)
{
    lapps__nljson_open(L);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        lua_pushcfunction(L, open_nljson);
        if (lua_pcall(L, 0, 0, 0) != 0)
            abort();
    }
    as_cbor(L, data, size);
    as_json(data, size);
    /* LuaJIT allocates with its own mmap allocator, which LeakSanitizer does not scan:
     * collect now, so no copy is only referenced from there when the check runs. */
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
