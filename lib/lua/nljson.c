/* nljson.c — the LAppS `nljson` Lua module over liblapps' value tree.
 *
 * Trees. A root (struct root) is reference counted by the userdata that name its
 * nodes. A root made by lapps__nljson_push_copy() or from_cbor holds its whole tree in
 * one allocation behind it: nodes with heap = 0 and the bytes of their strings. A
 * change copies only the item arrays of the containers on the way to what changes
 * (own()), and what it stores is built with malloc (heap = 1). So the tree keeps one
 * invariant: below a node with heap = 0 every node has heap = 0 (they all live in the
 * root's block), which is what lapps__value_clear() needs to free a mixed tree, and the
 * block lives as long as the root.
 *
 * Names. A userdata (struct ref) holds its root and the path from it: array indexes
 * and map keys, the keys copied behind the steps. Every access walks the path again,
 * so a value kept in Lua stays safe however its tree changes: a path that no longer
 * leads anywhere reads as nil and refuses writes. Paths follow keys, not positions,
 * so erasing a pair does not make a child name its neighbour; a key that is not text
 * (CBOR allows any) is named by its JSON text, as it prints in JSON.
 *
 * Lua errors. Nothing raises while holding memory that Lua does not own: a Lua table is
 * converted inside a "holder" userdata whose __gc frees a half-built tree, everything
 * else is built first and raised about after being freed.
 *
 * Numbers. Integers are kept as integers: |n| < 2^53 go to Lua as numbers, larger ones
 * as LuaJIT int64_t/uint64_t cdata (made and read by two small Lua functions using the
 * ffi module, kept in the registry: LuaJIT has no C API for cdata). Lua numbers that
 * are integral and below 2^53 in magnitude become integers (LAppS stored every number
 * as a double, so clients read 5.0 for 5). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include <lapps/error.h>

#include "lua/json.h"
#include "lua/nljson.h"
#include "proto/cbor.h"
#include "util/arena.h"
#include "util/utf8.h"

#define MT           "nljson"
#define MT_HOLDER    "nljson.holder"
#define REG_TO_INT64 "nljson.to_int64"
#define REG_INT64_TO "nljson.int64_to"
#define LUA_TCDATA   10 /* LuaJIT's type number for cdata */
#define TWO_53       9007199254740992.0
#define MAX_PAD      65536 /* nulls an array assignment may add before the new item */
#define MAX_INDENT   1024
#define NO_KEY       SIZE_MAX
#define NOT_FOUND    SIZE_MAX
#define E_STALE      "nljson: this value is no longer part of its tree"
#define E_NOMEM      "not enough memory"
#define E_DEEP       "nljson: nesting too deep (over 64 levels, or a table that contains itself)"

struct root {
    size_t refs;
    struct lapps_value v;
    struct lapps_value block[]; /* a one-block copy: its nodes, then its string bytes */
};

struct step {
    size_t n;   /* array index, or key length */
    size_t key; /* offset of the key among the ref's key bytes; NO_KEY for an index */
};

struct ref {
    struct root *root; /* NULL while a new root is being made */
    size_t depth;      /* steps */
    size_t keylen;     /* key bytes, after the steps */
    struct step steps[];
};

static const struct lapps_value null_node = {.type = LAPPS_VALUE_NULL};

/* The registry holds the metatable under "nljson" (for luaL_checkudata) and under a
 * negative integer key, which luaL_ref never uses: an integer key is found without
 * hashing a string or interning a light userdata (LuaJIT's 64-bit GC mode interns each
 * one pushed), which matters on the path that pushes every request. */
#define MT_SLOT (-0x6e6a) /* "nj" */

static void
push_mt(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, MT_SLOT);
}

/* ---- the tree ---- */

static bool
is_container(const struct lapps_value *v)
{
    return v->type == LAPPS_VALUE_ARRAY || v->type == LAPPS_VALUE_MAP;
}

static size_t
nodes_of(const struct lapps_value *v)
{
    return v->type == LAPPS_VALUE_MAP ? 2 * v->n : v->n;
}

static void
root_release(struct root *r)
{
    if (r && --r->refs == 0) {
        lapps__value_clear(&r->v);
        free(r);
    }
}

struct cmp {
    const char *p;
    size_t left;
};

static int
cmp_write(void *ctx, const char *p, size_t n)
{
    struct cmp *c = ctx;
    if (n > c->left || memcmp(c->p, p, n) != 0)
        return -1;
    c->p += n;
    c->left -= n;
    return 0;
}

/* Whether the map key k stands for the text key[0..len) (see the file header). */
static bool
key_is(const struct lapps_value *k, const char *key, size_t len)
{
    if (k->type == LAPPS_VALUE_TEXT)
        return k->n == len && (len == 0 || memcmp(k->s, key, len) == 0);
    struct cmp c = {key, len};
    return lapps__json_print_key(k, cmp_write, &c) == 0 && c.left == 0;
}

/* The first pair of the map whose key is `key`, or NOT_FOUND. */
static size_t
find_pair(const struct lapps_value *map, const char *key, size_t len)
{
    for (size_t i = 0; i < map->n; i++)
        if (key_is(&map->items[2 * i], key, len))
            return i;
    return NOT_FOUND;
}

static const char *
ref_keys(const struct ref *r)
{
    return (const char *)(r->steps + r->depth);
}

static struct lapps_value *
child_of(struct lapps_value *v, const struct step *s, const char *keys)
{
    if (s->key == NO_KEY)
        return v->type == LAPPS_VALUE_ARRAY && s->n < v->n ? &v->items[s->n] : NULL;
    if (v->type != LAPPS_VALUE_MAP)
        return NULL;
    size_t i = find_pair(v, keys + s->key, s->n);
    return i == NOT_FOUND ? NULL : &v->items[2 * i + 1];
}

/* The node r names, or NULL when its path no longer leads anywhere. */
static struct lapps_value *
resolve(const struct ref *r)
{
    if (!r->root)
        return NULL;
    struct lapps_value *v = &r->root->v;
    for (size_t i = 0; v && i < r->depth; i++)
        v = child_of(v, &r->steps[i], ref_keys(r));
    return v;
}

static const struct lapps_value *
resolve_or_null(const struct ref *r)
{
    const struct lapps_value *v = resolve(r);
    return v ? v : &null_node;
}

/* Gives a container of the root's block its own item array, so that it can change. */
static int
own(struct lapps_value *v)
{
    if (v->heap || !is_container(v))
        return 0;
    size_t k = nodes_of(v);
    struct lapps_value *items = NULL;
    if (k) {
        items = malloc(k * sizeof *items);
        if (!items)
            return LAPPS_ERR_NOMEM;
        memcpy(items, v->items, k * sizeof *items);
    }
    v->items = items;
    v->cap = k;
    v->heap = 1;
    return 0;
}

/* Like resolve(), making every container on the way its own (the invariant in the
 * file header), for a change. NULL with *msg set when it cannot. */
static struct lapps_value *
resolve_write(const struct ref *r, const char **msg)
{
    struct lapps_value *v = r->root ? &r->root->v : NULL;
    for (size_t i = 0; v && i <= r->depth; i++) {
        if (own(v) != 0) {
            *msg = E_NOMEM;
            return NULL;
        }
        if (i < r->depth)
            v = child_of(v, &r->steps[i], ref_keys(r));
    }
    if (!v)
        *msg = E_STALE;
    return v;
}

/* Room for `need` nodes in an owned container. */
static int
reserve(struct lapps_value *c, size_t need)
{
    if (need <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 4;
    while (cap < need)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof *c->items)
        return LAPPS_ERR_NOMEM;
    struct lapps_value *items = realloc(c->items, cap * sizeof *items);
    if (!items)
        return LAPPS_ERR_NOMEM;
    c->items = items;
    c->cap = cap;
    return 0;
}

/* Containers nested in v, v included; stops counting once beyond `limit`. */
static int
depth_of(const struct lapps_value *v, int limit)
{
    if (!is_container(v))
        return 0;
    if (limit <= 0)
        return 1;
    int d = 0;
    for (size_t i = 0, k = nodes_of(v); i < k && d < limit; i++) {
        int c = depth_of(&v->items[i], limit - 1);
        if (c > d)
            d = c;
    }
    return 1 + d;
}

/* Counts the nodes under the container v and the bytes of their strings, for a
 * one-block copy. `open` counts the containers around v. Leaves are handled in the
 * loop: a request is mostly leaves, and this runs once per request. */
static int
measure(const struct lapps_value *v, int open, size_t *nodes, size_t *bytes)
{
    if (open >= LAPPS__VALUE_MAX_DEPTH)
        return LAPPS_ERR_INVAL;
    size_t k = nodes_of(v);
    *nodes += k;
    if (k == 0)
        return 0; /* items may be NULL: no pointer arithmetic on it */
    for (const struct lapps_value *it = v->items, *end = it + k; it < end; it++) {
        if (it->type == LAPPS_VALUE_TEXT || it->type == LAPPS_VALUE_BYTES) {
            *bytes += it->n;
        } else if (is_container(it)) {
            int rv = measure(it, open + 1, nodes, bytes);
            if (rv != 0)
                return rv;
        }
    }
    return 0;
}

struct fill {
    struct lapps_value *nodes;
    uint8_t *bytes;
};

/* Copies the string of *dst (a copy of a string node) into the block. */
static void
fill_string(struct lapps_value *dst, struct fill *f)
{
    if (dst->n) {
        memcpy(f->bytes, dst->s, dst->n);
        dst->s = f->bytes;
        f->bytes += dst->n;
    } else {
        dst->s = NULL;
    }
}

/* Fills the items of *dst (a copy of the container src) from the block. */
static void
fill(struct lapps_value *dst, const struct lapps_value *src, struct fill *f)
{
    size_t k = nodes_of(src);
    dst->items = k ? f->nodes : NULL;
    f->nodes += k;
    for (size_t i = 0; i < k; i++) {
        struct lapps_value *d = &dst->items[i];
        *d = src->items[i];
        d->heap = 0;
        d->cap = 0;
        if (d->type == LAPPS_VALUE_TEXT || d->type == LAPPS_VALUE_BYTES)
            fill_string(d, f);
        else if (is_container(d))
            fill(d, &src->items[i], f);
    }
}

/* A new root holding a copy of v in one allocation (the file header), or NULL with
 * *err: LAPPS_ERR_NOMEM, or LAPPS_ERR_INVAL when v nests deeper than a message may. */
static struct root *
root_copy(const struct lapps_value *v, int *err)
{
    size_t nodes = 0, bytes = 0;
    if (v->type == LAPPS_VALUE_TEXT || v->type == LAPPS_VALUE_BYTES)
        bytes = v->n;
    else if (is_container(v) && (*err = measure(v, 0, &nodes, &bytes)) != 0)
        return NULL;
    /* Each node and byte counted exists in v: the sum cannot overflow, the size can. */
    if (nodes > (SIZE_MAX - sizeof(struct root) - bytes) / sizeof *v) {
        *err = LAPPS_ERR_NOMEM;
        return NULL;
    }
    struct root *r = malloc(sizeof *r + nodes * sizeof *v + bytes);
    if (!r) {
        *err = LAPPS_ERR_NOMEM;
        return NULL;
    }
    r->refs = 1;
    struct fill f = {r->block, (uint8_t *)(r->block + nodes)};
    r->v = *v;
    r->v.heap = 0;
    r->v.cap = 0;
    if (v->type == LAPPS_VALUE_TEXT || v->type == LAPPS_VALUE_BYTES)
        fill_string(&r->v, &f);
    else if (is_container(v))
        fill(&r->v, v, &f);
    return r;
}

/* A new root that takes over the heap tree v (freed on failure). */
static struct root *
root_adopt(struct lapps_value *v)
{
    struct root *r = malloc(sizeof *r);
    if (!r) {
        lapps_value_free(v);
        return NULL;
    }
    r->refs = 1;
    r->v = *v;
    free(v); /* the shell: what it owned belongs to r->v now */
    return r;
}

/* ---- userdata ---- */

/* Pushes a new nljson userdata: a root still to be filled (parent NULL), or the child
 * of parent at index `index` (key NULL) or at `key`. `key` may point into the tree or
 * into a Lua string on the stack: nothing here changes either. */
static struct ref *
push_ref(lua_State *L, const struct ref *parent, size_t index, const char *key, size_t klen)
{
    size_t depth = parent ? parent->depth + 1 : 0;
    size_t pkeys = parent ? parent->keylen : 0;
    size_t keylen = pkeys + (key ? klen : 0);
    struct ref *r = lua_newuserdata(L, sizeof *r + depth * sizeof(struct step) + keylen);
    r->root = NULL;
    r->depth = depth;
    r->keylen = keylen;
    if (parent) {
        char *keys = (char *)(r->steps + depth);
        memcpy(r->steps, parent->steps, parent->depth * sizeof *r->steps);
        memcpy(keys, ref_keys(parent), pkeys);
        struct step *s = &r->steps[depth - 1];
        if (key) {
            s->key = pkeys;
            s->n = klen;
            if (klen)
                memcpy(keys + pkeys, key, klen);
        } else {
            s->key = NO_KEY;
            s->n = index;
        }
    }
    push_mt(L);
    lua_setmetatable(L, -2);
    if (parent) {
        r->root = parent->root;
        r->root->refs++;
    }
    return r;
}

static struct ref *
test_ref(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
        return NULL;
    push_mt(L);
    bool ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return ok ? lua_touserdata(L, idx) : NULL;
}

static struct ref *
check_ref(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, MT);
}

/* Module functions accept nljson.f(x) and nljson:f(x). */
static void
skip_self(lua_State *L)
{
    if (lua_rawequal(L, 1, lua_upvalueindex(1)))
        lua_remove(L, 1);
}

/* ---- values to Lua ---- */

static void
push_int(lua_State *L, bool neg, uint64_t u)
{
    if (!neg && u < (uint64_t)1 << 53) {
        lua_pushnumber(L, (lua_Number)u);
    } else if (neg && u < ((uint64_t)1 << 53) - 1) {
        lua_pushnumber(L, -1.0 - (lua_Number)u);
    } else if (neg && u > (uint64_t)INT64_MAX) {
        lua_pushnumber(L, -1.0 - (lua_Number)u); /* below -2^63: no cdata type holds it */
    } else {
        lua_getfield(L, LUA_REGISTRYINDEX, REG_TO_INT64);
        lua_pushnumber(L, (lua_Number)(u >> 32));
        lua_pushnumber(L, (lua_Number)(u & 0xffffffffu));
        lua_pushboolean(L, neg);
        lua_call(L, 3, 1);
    }
}

/* Pushes item (a node under the value of the ref at refidx, at `index` or `key`):
 * scalars as Lua values, containers as a child userdata. */
static void
push_item(lua_State *L, int refidx, const struct lapps_value *item, size_t index, const char *key,
          size_t klen)
{
    switch (item->type) {
    case LAPPS_VALUE_BOOL:
        lua_pushboolean(L, item->b);
        break;
    case LAPPS_VALUE_INT:
        push_int(L, item->neg, item->u);
        break;
    case LAPPS_VALUE_FLOAT:
        lua_pushnumber(L, item->d);
        break;
    case LAPPS_VALUE_TEXT:
    case LAPPS_VALUE_BYTES:
        lua_pushlstring(L, item->s ? (const char *)item->s : "", item->n);
        break;
    case LAPPS_VALUE_ARRAY:
    case LAPPS_VALUE_MAP:
        push_ref(L, lua_touserdata(L, refidx), index, key, klen);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

static int
buf_write(void *ctx, const char *p, size_t n)
{
    luaL_addlstring(ctx, p, n);
    return 0;
}

/* Pushes the text a map key stands for (the file header). */
static void
push_key(lua_State *L, const struct lapps_value *k)
{
    if (k->type == LAPPS_VALUE_TEXT) {
        lua_pushlstring(L, k->s ? (const char *)k->s : "", k->n);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int rv = lapps__json_print_key(k, buf_write, &b);
    luaL_pushresult(&b);
    if (rv != 0)
        luaL_error(L, "nljson: a map key too large to print as text (keys within keys)");
}

static void
push_json(lua_State *L, const struct lapps_value *v, int indent)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int rv = lapps__json_print(v, indent, buf_write, &b);
    luaL_pushresult(&b);
    if (rv != 0)
        luaL_error(L, "nljson: cannot print this value as JSON (nested too deep, or map keys "
                      "within map keys too large)");
}

/* ---- Lua values to values ---- */

static void to_value(lua_State *L, int idx, struct lapps_value *out, int budget);

static void
number_to(struct lapps_value *out, lua_Number d)
{
    if (d == floor(d) && fabs(d) < TWO_53) {
        out->type = LAPPS_VALUE_INT;
        out->neg = d < 0;
        out->u = d < 0 ? (uint64_t)(-d) - 1 : (uint64_t)d;
    } else {
        out->type = LAPPS_VALUE_FLOAT; /* NaN and infinities too: CBOR carries them */
        out->d = d;
    }
}

/* Text when it is UTF-8, else a byte string (a Lua string may hold any bytes). */
static void
string_to(lua_State *L, const char *s, size_t n, struct lapps_value *out)
{
    uint32_t st = LAPPS__UTF8_ACCEPT;
    bool text = lapps__utf8_validate(&st, (const uint8_t *)s, n) == 0 && lapps__utf8_complete(st);
    out->type = text ? LAPPS_VALUE_TEXT : LAPPS_VALUE_BYTES;
    if (n == 0)
        return;
    uint8_t *p = malloc(n);
    if (!p)
        luaL_error(L, E_NOMEM);
    memcpy(p, s, n);
    out->s = p;
    out->n = n;
}

static void
cdata_to(lua_State *L, int idx, struct lapps_value *out)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_INT64_TO);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 3);
    if (lua_isnil(L, -3))
        luaL_error(L, "nljson: cannot store this cdata (int64_t or uint64_t expected)");
    out->type = LAPPS_VALUE_INT;
    out->neg = lua_toboolean(L, -3) != 0;
    out->u = (uint64_t)lua_tonumber(L, -2) << 32 | (uint64_t)lua_tonumber(L, -1);
    lua_pop(L, 3);
}

static void
ref_to(lua_State *L, int idx, struct lapps_value *out, int budget)
{
    const struct ref *r = test_ref(L, idx);
    if (!r)
        luaL_error(L, "nljson: cannot store a userdata that is not nljson");
    const struct lapps_value *src = resolve(r);
    if (!src)
        return; /* a value no longer in its tree reads as nil: null */
    if (depth_of(src, budget + 1) > budget)
        luaL_error(L, E_DEEP);
    struct lapps_value *c = lapps_value_copy(src);
    if (!c)
        luaL_error(L, E_NOMEM);
    *out = *c;
    free(c); /* the shell, as root_adopt() */
}

/* Whether the table at idx is an array: keys exactly 1..n (an empty table is one, as
 * in LAppS). Also says whether it has string and number keys (then converted number
 * keys may collide with string ones), and refuses other key types. */
static bool
table_is_array(lua_State *L, int idx, size_t *count, bool *mixed)
{
    lua_Number max = 0;
    bool array = true, nums = false, strs = false;
    *count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        ++*count;
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number d = lua_tonumber(L, -1);
            nums = true;
            if (d >= 1 && d == floor(d))
                max = d > max ? d : max;
            else
                array = false;
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            strs = true;
            array = false;
        } else {
            luaL_error(L, "nljson: a table key must be a string or a number, not a %s",
                       luaL_typename(L, -1));
        }
    }
    *mixed = nums && strs;
    return array && max == (lua_Number)*count;
}

static void
table_to(lua_State *L, int idx, struct lapps_value *out, int budget)
{
    if (budget <= 0)
        luaL_error(L, E_DEEP);
    luaL_checkstack(L, 8, E_DEEP);
    size_t count;
    bool mixed;
    bool array = table_is_array(L, idx, &count, &mixed);
    out->type = array ? LAPPS_VALUE_ARRAY : LAPPS_VALUE_MAP;
    if (count == 0)
        return;
    size_t k = array ? count : 2 * count;
    out->items = calloc(k, sizeof *out->items);
    if (!out->items)
        luaL_error(L, E_NOMEM);
    out->cap = k;
    if (array) {
        for (size_t i = 0; i < count; i++) {
            out->n = i + 1; /* counted before it is filled: freeable if this raises */
            lua_rawgeti(L, idx, (int)(i + 1));
            to_value(L, lua_gettop(L), &out->items[i], budget - 1);
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int val = lua_gettop(L);
        size_t klen;
        const char *key;
        if (lua_type(L, -2) == LUA_TNUMBER) {
            lua_pushvalue(L, -2); /* converting the key itself would confuse lua_next */
            key = lua_tolstring(L, -1, &klen);
        } else {
            key = lua_tolstring(L, -2, &klen);
        }
        size_t i = mixed ? find_pair(out, key, klen) : NOT_FOUND;
        if (i == NOT_FOUND) {
            i = out->n++;
            out->items[2 * i].heap = 1;
            string_to(L, key, klen, &out->items[2 * i]);
        } else { /* 1 and "1" are the same key in JSON: the last one seen stays */
            lapps__value_clear(&out->items[2 * i + 1]);
            memset(&out->items[2 * i + 1], 0, sizeof *out->items);
        }
        to_value(L, val, &out->items[2 * i + 1], budget - 1);
        lua_settop(L, val - 1);
    }
}

/* Fills *out (zeroed, or a null node) from the Lua value at idx. `budget` is how many
 * containers deep the value may nest. Raises on what JSON cannot hold. */
static void
to_value(lua_State *L, int idx, struct lapps_value *out, int budget)
{
    out->heap = 1;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        out->type = LAPPS_VALUE_NULL; /* as LAppS: nil stores null, it does not erase */
        break;
    case LUA_TBOOLEAN:
        out->type = LAPPS_VALUE_BOOL;
        out->b = lua_toboolean(L, idx) != 0;
        break;
    case LUA_TNUMBER:
        number_to(out, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        string_to(L, s, n, out);
        break;
    }
    case LUA_TTABLE:
        table_to(L, idx, out, budget);
        break;
    case LUA_TUSERDATA:
        ref_to(L, idx, out, budget);
        break;
    case LUA_TCDATA:
        cdata_to(L, idx, out);
        break;
    default:
        luaL_error(L,
                   "nljson: cannot store a %s (nil, a boolean, a number, a string, a table, "
                   "nljson or a 64-bit integer cdata expected)",
                   lua_type(L, idx) == LUA_TLIGHTUSERDATA ? "light userdata"
                                                          : luaL_typename(L, idx));
    }
}

static int
holder_gc(lua_State *L)
{
    lapps__value_clear(lua_touserdata(L, 1));
    return 0;
}

/* Converts the Lua value at idx into a new heap node: *tmp, or for a table the node of
 * a holder userdata left on the stack, whose __gc frees what a Lua error left
 * half-built. The caller takes the node's contents and zeroes it. */
static struct lapps_value *
convert(lua_State *L, int idx, struct lapps_value *tmp, int budget)
{
    struct lapps_value *v = tmp;
    if (lua_type(L, idx) == LUA_TTABLE) {
        v = lua_newuserdata(L, sizeof *v);
        memset(v, 0, sizeof *v);
        luaL_getmetatable(L, MT_HOLDER);
        lua_setmetatable(L, -2);
    } else {
        memset(v, 0, sizeof *v);
    }
    to_value(L, idx, v, budget);
    return v;
}

/* ---- changing a tree ---- */

/* Stores *val (moved) under `key` of an owned map: replaces the value in place, or
 * appends the pair. */
static int
map_set(struct lapps_value *map, const char *key, size_t klen, struct lapps_value *val)
{
    size_t i = find_pair(map, key, klen);
    if (i != NOT_FOUND) {
        lapps__value_clear(&map->items[2 * i + 1]);
        map->items[2 * i + 1] = *val;
        return 0;
    }
    struct lapps_value k = {.heap = 1};
    uint32_t st = LAPPS__UTF8_ACCEPT;
    bool text =
        lapps__utf8_validate(&st, (const uint8_t *)key, klen) == 0 && lapps__utf8_complete(st);
    k.type = text ? LAPPS_VALUE_TEXT : LAPPS_VALUE_BYTES;
    if (klen) {
        uint8_t *p = malloc(klen);
        if (!p)
            return LAPPS_ERR_NOMEM;
        memcpy(p, key, klen);
        k.s = p;
        k.n = klen;
    }
    if (reserve(map, 2 * map->n + 2) != 0) {
        lapps__value_clear(&k);
        return LAPPS_ERR_NOMEM;
    }
    map->items[2 * map->n] = k;
    map->items[2 * map->n + 1] = *val;
    map->n++;
    return 0;
}

/* Stores *val (moved) at 1-based `pos` of an owned array, padding with nulls. */
static int
array_set(struct lapps_value *arr, size_t pos, struct lapps_value *val)
{
    if (pos <= arr->n) {
        lapps__value_clear(&arr->items[pos - 1]);
        arr->items[pos - 1] = *val;
        return 0;
    }
    if (reserve(arr, pos) != 0)
        return LAPPS_ERR_NOMEM;
    for (size_t i = arr->n; i < pos - 1; i++)
        arr->items[i] = (struct lapps_value){.type = LAPPS_VALUE_NULL, .heap = 1};
    arr->items[pos - 1] = *val;
    arr->n = pos;
    return 0;
}

static const char *
type_name(const struct lapps_value *v)
{
    static const char *const names[] = {"null",   "boolean", "number", "number",
                                        "binary", "string",  "array",  "object"};
    return v->type < sizeof names / sizeof *names ? names[v->type] : "null";
}

/* v[key] = val for the ref at 1, the key at 2. Returns NULL, or why it failed (in
 * msg, or a constant). Nothing here raises. */
static const char *
set_item(lua_State *L, const struct ref *r, struct lapps_value *val, char *msg, size_t cap)
{
    const char *why = NULL;
    struct lapps_value *c = resolve_write(r, &why);
    if (!c)
        return why;
    int kt = lua_type(L, 2);
    if (c->type == LAPPS_VALUE_MAP) {
        if (kt != LUA_TSTRING) {
            snprintf(msg, cap, "nljson: an object's key must be a string, not a %s",
                     lua_typename(L, kt));
            return msg;
        }
        size_t klen;
        const char *key = lua_tolstring(L, 2, &klen);
        return map_set(c, key, klen, val) == 0 ? NULL : E_NOMEM;
    }
    if (c->type != LAPPS_VALUE_ARRAY) {
        snprintf(msg, cap, "nljson: cannot set a field of a %s (an object or an array expected)",
                 type_name(c));
        return msg;
    }
    if (kt != LUA_TNUMBER) {
        snprintf(msg, cap, "nljson: an array's index must be a number, not a %s",
                 lua_typename(L, kt));
        return msg;
    }
    lua_Number d = lua_tonumber(L, 2);
    if (!(d >= 1 && d == floor(d) && d <= (lua_Number)c->n + MAX_PAD)) {
        snprintf(msg, cap,
                 "nljson: array index %.14g out of range (an integer from 1 to size+%d; the "
                 "size is %zu)",
                 d, MAX_PAD, c->n);
        return msg;
    }
    return array_set(c, (size_t)d, val) == 0 ? NULL : E_NOMEM;
}

/* ---- metamethods ---- */

static int
m_gc(lua_State *L)
{
    struct ref *r = lua_touserdata(L, 1);
    root_release(r->root);
    r->root = NULL;
    return 0;
}

/* Leaves the key at 2 as the lookup expects: numbers become their text (as tostring
 * gives it) when looking into an object, as LAppS's find did. */
static void
normalize_key(lua_State *L, const struct lapps_value *c)
{
    if (c->type == LAPPS_VALUE_MAP && lua_type(L, 2) == LUA_TNUMBER) {
        lua_pushvalue(L, 2);
        lua_tostring(L, -1);
        lua_replace(L, 2);
    }
}

/* Pushes v[key] for the ref at 1 and the key at 2 (nil when there is none). */
static int
get_item(lua_State *L)
{
    const struct lapps_value *c = resolve(lua_touserdata(L, 1));
    if (!c) {
        lua_pushnil(L);
        return 1;
    }
    normalize_key(L, c); /* may run the GC, which changes no tree: c stays valid */
    int kt = lua_type(L, 2);
    if (c->type == LAPPS_VALUE_MAP && kt == LUA_TSTRING) {
        size_t klen;
        const char *key = lua_tolstring(L, 2, &klen);
        size_t i = find_pair(c, key, klen);
        if (i != NOT_FOUND) {
            push_item(L, 1, &c->items[2 * i + 1], 0, key, klen);
            return 1;
        }
    } else if (c->type == LAPPS_VALUE_ARRAY && kt == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, 2);
        if (d >= 1 && d == floor(d) && d <= (lua_Number)c->n) {
            size_t i = (size_t)d - 1;
            push_item(L, 1, &c->items[i], i, NULL, 0);
            return 1;
        }
    }
    lua_pushnil(L);
    return 1;
}

static int
m_index(lua_State *L)
{
    return get_item(L);
}

static int
m_newindex(lua_State *L)
{
    struct ref *r = check_ref(L, 1);
    struct lapps_value tmp;
    struct lapps_value *val = convert(L, 3, &tmp, LAPPS__VALUE_MAX_DEPTH - 1 - (int)r->depth);
    char msg[200];
    const char *why = set_item(L, r, val, msg, sizeof msg);
    if (why) {
        lapps__value_clear(val);
        memset(val, 0, sizeof *val);
        return luaL_error(L, "%s", why);
    }
    memset(val, 0, sizeof *val); /* moved into the tree */
    return 0;
}

static int
m_len(lua_State *L)
{
    const struct lapps_value *v = resolve_or_null(check_ref(L, 1));
    lua_pushnumber(L, is_container(v) ? (lua_Number)v->n : 0);
    return 1;
}

static int
m_eq(lua_State *L)
{
    const struct lapps_value *a = resolve_or_null(check_ref(L, 1));
    const struct lapps_value *b = resolve_or_null(check_ref(L, 2));
    lua_pushboolean(L, lapps_value_equal(a, b));
    return 1;
}

static int
m_tostring(lua_State *L)
{
    push_json(L, resolve_or_null(check_ref(L, 1)), 0);
    return 1;
}

/* ---- module functions ---- */

/* Fills the root userdata r with the parsed tree, or raises with the parser's reason. */
static int
adopt_parsed(lua_State *L, struct ref *r, const char *what, int rv, struct lapps_value *v,
             const char *msg)
{
    if (rv == LAPPS_ERR_NOMEM)
        return luaL_error(L, E_NOMEM);
    if (rv != 0)
        return luaL_error(L, "%s: %s", what, msg);
    r->root = root_adopt(v);
    if (!r->root)
        return luaL_error(L, E_NOMEM);
    return 1;
}

static int
f_decode(lua_State *L)
{
    skip_self(L);
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    struct ref *r = push_ref(L, NULL, 0, NULL, 0); /* first: nothing is held if it raises */
    struct lapps_value *v = NULL;
    char msg[256] = "";
    int rv = lapps__json_parse(text, n, &v, msg, sizeof msg);
    return adopt_parsed(L, r, "nljson.decode", rv, v, msg);
}

static int
f_decode_file(lua_State *L)
{
    skip_self(L);
    const char *path = luaL_checkstring(L, 1);
    const char *what = lua_pushfstring(L, "nljson.decode_file(%s)", path);
    struct ref *r = push_ref(L, NULL, 0, NULL, 0);
    struct lapps_value *v = NULL;
    char msg[256] = "";
    int rv = lapps__json_parse_file(path, &v, msg, sizeof msg);
    return adopt_parsed(L, r, what, rv, v, msg);
}

static int
f_encode(lua_State *L)
{
    skip_self(L);
    push_json(L, resolve_or_null(check_ref(L, 1)), 0);
    return 1;
}

static int
f_encode_pretty(lua_State *L)
{
    skip_self(L);
    const struct ref *r = check_ref(L, 1);
    lua_Integer indent = luaL_optinteger(L, 2, 2);
    luaL_argcheck(L, indent <= MAX_INDENT, 2, "indent at most 1024 expected");
    push_json(L, resolve_or_null(r), indent < 0 ? 0 : (int)indent);
    return 1;
}

static int
f_to_cbor(lua_State *L)
{
    skip_self(L);
    const struct lapps_value *v = resolve_or_null(check_ref(L, 1));
    uint8_t small[1024];
    size_t need = 0;
    lapps_ssize n = lapps_value_to_cbor(v, small, sizeof small, &need);
    const uint8_t *p = small;
    if (n == LAPPS_ERR_NOSPACE) {
        uint8_t *big = lua_newuserdata(L, need); /* Lua's memory: nothing leaks if raising */
        n = lapps_value_to_cbor(v, big, need, NULL);
        p = big;
    }
    if (n < 0)
        return luaL_error(L, n == LAPPS_ERR_NOMEM ? E_NOMEM : "nljson.to_cbor: nested too deep");
    lua_pushlstring(L, (const char *)p, (size_t)n);
    return 1;
}

static int
f_from_cbor(lua_State *L)
{
    skip_self(L);
    size_t n;
    const char *data = luaL_checklstring(L, 1, &n);
    struct ref *r = push_ref(L, NULL, 0, NULL, 0);
    struct lapps__arena a;
    lapps__arena_init(&a, 1024);
    struct lapps_value *v;
    int rv = lapps__cbor_decode(&a, (const uint8_t *)data, n, &v);
    if (rv == 0)
        r->root = root_copy(v, &rv);
    lapps__arena_free(&a);
    switch (rv) {
    case 0:
        return 1;
    case LAPPS_ERR_NOMEM:
        return luaL_error(L, E_NOMEM);
    case LAPPS_ERR_INVAL:
        return luaL_error(L, "nljson.from_cbor: CBOR tags and \"undefined\" are not supported");
    default:
        return luaL_error(L, "nljson.from_cbor: not well-formed CBOR (or text that is not "
                             "UTF-8, or nested deeper than 64)");
    }
}

static int
f_find(lua_State *L)
{
    skip_self(L);
    check_ref(L, 1);
    int kt = lua_type(L, 2);
    luaL_argcheck(L, kt == LUA_TSTRING || kt == LUA_TNUMBER, 2, "string or number expected");
    lua_settop(L, 2);
    return get_item(L);
}

static int
f_foreach(lua_State *L)
{
    skip_self(L);
    const struct ref *r = check_ref(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    for (size_t i = 0;; i++) {
        const struct lapps_value *c = resolve(r); /* the function may change the tree */
        if (!c || !is_container(c) || i >= c->n)
            break;
        lua_pushvalue(L, 2);
        if (c->type == LAPPS_VALUE_MAP) {
            push_key(L, &c->items[2 * i]);
            size_t klen;
            const char *key = lua_tolstring(L, -1, &klen);
            push_item(L, 1, &c->items[2 * i + 1], 0, key, klen);
        } else {
            lua_pushnumber(L, (lua_Number)(i + 1));
            push_item(L, 1, &c->items[i], i, NULL, 0);
        }
        lua_call(L, 2, 0);
    }
    return 0;
}

/* Calls fn(key, value) for every item under the ref at refidx, depth first: the items
 * of a container before the container's own call (as LAppS's traverse). */
static void
traverse(lua_State *L, int refidx, int fn)
{
    luaL_checkstack(L, 8, E_DEEP);
    const struct ref *r = lua_touserdata(L, refidx);
    for (size_t i = 0;; i++) {
        const struct lapps_value *c = resolve(r);
        if (!c || !is_container(c) || i >= c->n)
            return;
        int base = lua_gettop(L);
        const struct lapps_value *item;
        if (c->type == LAPPS_VALUE_MAP) {
            push_key(L, &c->items[2 * i]);
            size_t klen;
            const char *key = lua_tolstring(L, -1, &klen);
            item = &c->items[2 * i + 1];
            push_item(L, refidx, item, 0, key, klen);
        } else {
            lua_pushnumber(L, (lua_Number)(i + 1));
            item = &c->items[i];
            push_item(L, refidx, item, i, NULL, 0);
        }
        if (lua_type(L, base + 2) == LUA_TUSERDATA)
            traverse(L, base + 2, fn);
        lua_pushvalue(L, fn);
        lua_pushvalue(L, base + 1);
        lua_pushvalue(L, base + 2);
        lua_call(L, 2, 0);
        lua_settop(L, base);
    }
}

static int
f_traverse(lua_State *L)
{
    skip_self(L);
    check_ref(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    traverse(L, 1, 2);
    return 0;
}

static int
f_erase(lua_State *L)
{
    skip_self(L);
    const struct ref *r = check_ref(L, 1);
    lua_settop(L, 2);
    const struct lapps_value *c = resolve(r);
    if (!c)
        return luaL_error(L, E_STALE);
    normalize_key(L, c);
    int kt = lua_type(L, 2);
    size_t pos = NOT_FOUND; /* a node position in the items */
    if (c->type == LAPPS_VALUE_MAP && kt == LUA_TSTRING) {
        size_t klen;
        const char *key = lua_tolstring(L, 2, &klen);
        size_t i = find_pair(c, key, klen);
        pos = i == NOT_FOUND ? i : 2 * i;
    } else if (c->type == LAPPS_VALUE_ARRAY && kt == LUA_TNUMBER) {
        lua_Number d = lua_tonumber(L, 2);
        if (d >= 1 && d == floor(d) && d <= (lua_Number)c->n)
            pos = (size_t)d - 1;
    }
    if (pos == NOT_FOUND) {
        lua_pushboolean(L, 0);
        return 1;
    }
    const char *why = NULL;
    struct lapps_value *w = resolve_write(r, &why); /* copies only when erasing */
    if (!w)
        return luaL_error(L, "%s", why);
    size_t k = w->type == LAPPS_VALUE_MAP ? 2 : 1, total = nodes_of(w);
    for (size_t j = 0; j < k; j++)
        lapps__value_clear(&w->items[pos + j]);
    memmove(&w->items[pos], &w->items[pos + k], (total - pos - k) * sizeof *w->items);
    w->n--;
    lua_pushboolean(L, 1);
    return 1;
}

static int
f_empty(lua_State *L)
{
    skip_self(L);
    const struct lapps_value *v = resolve_or_null(check_ref(L, 1));
    lua_pushboolean(L, is_container(v) && v->n == 0); /* LAppS: false for non-containers */
    return 1;
}

/* nlohmann's type names. Plain Lua values are named too (LAppS raised on them, but
 * `nljson.typename(params[1]) == "object"` is how services check what they got). */
static int
f_typename(lua_State *L)
{
    skip_self(L);
    luaL_checkany(L, 1);
    const struct ref *r = test_ref(L, 1);
    if (r) {
        lua_pushstring(L, type_name(resolve_or_null(r)));
        return 1;
    }
    struct lapps_value v = {0};
    switch (lua_type(L, 1)) {
    case LUA_TNIL:
        lua_pushstring(L, "null");
        return 1;
    case LUA_TBOOLEAN:
        lua_pushstring(L, "boolean");
        return 1;
    case LUA_TCDATA:
        cdata_to(L, 1, &v); /* raises unless it is an int64_t or a uint64_t */
        lua_pushstring(L, "number");
        return 1;
    case LUA_TNUMBER:
        lua_pushstring(L, "number");
        return 1;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, 1, &n);
        uint32_t st = LAPPS__UTF8_ACCEPT;
        v.type = lapps__utf8_validate(&st, (const uint8_t *)s, n) == 0 && lapps__utf8_complete(st)
                     ? LAPPS_VALUE_TEXT
                     : LAPPS_VALUE_BYTES;
        lua_pushstring(L, type_name(&v));
        return 1;
    }
    default:
        return luaL_argerror(L, 1, "nljson or a JSON scalar expected");
    }
}

/* ---- opening ---- */

/* The two cdata helpers (REG_TO_INT64, REG_INT64_TO); without ffi, large integers go
 * to Lua as (rounded) numbers and cdata cannot be stored. */
static const char int64_helpers[] =
    "local ok, ffi = pcall(require, 'ffi')\n"
    "if not ok then\n"
    "  return function(hi, lo, neg)\n"
    "    local u = hi * 4294967296 + lo\n"
    "    if neg then return -1 - u end\n"
    "    return u\n"
    "  end, function() return nil end\n"
    "end\n"
    "local i64, u64 = ffi.typeof('int64_t'), ffi.typeof('uint64_t')\n"
    "local istype = ffi.istype\n"
    "local function to(hi, lo, neg)\n"
    "  local u = u64(hi) * 4294967296 + lo\n"
    "  if neg then return i64(-1) - i64(u) end\n"
    "  if hi >= 2147483648 then return u end\n"
    "  return i64(u)\n"
    "end\n"
    "local function from(x)\n"
    "  local neg, u\n"
    "  if istype(i64, x) then\n"
    "    neg = x < 0\n"
    "    u = u64(neg and -1 - x or x)\n"
    "  elseif istype(u64, x) then\n"
    "    neg, u = false, x\n"
    "  else\n"
    "    return nil\n"
    "  end\n"
    "  return neg, tonumber(u / 4294967296), tonumber(u % 4294967296)\n"
    "end\n"
    "return to, from\n";

static const luaL_Reg metamethods[] = {
    {"__index", m_index}, {"__newindex", m_newindex}, {"__len", m_len},
    {"__eq", m_eq},       {"__tostring", m_tostring}, {"__gc", m_gc},
    {NULL, NULL},
};

static const luaL_Reg functions[] = {
    {"decode", f_decode},
    {"decode_file", f_decode_file},
    {"encode", f_encode},
    {"encode_pretty", f_encode_pretty},
    {"to_cbor", f_to_cbor},
    {"from_cbor", f_from_cbor},
    {"find", f_find},
    {"foreach", f_foreach},
    {"traverse", f_traverse},
    {"erase", f_erase},
    {"empty", f_empty},
    {"typename", f_typename},
    {NULL, NULL},
};

void
lapps__nljson_open(lua_State *L)
{
    luaL_checkstack(L, 8, NULL);
    luaL_newmetatable(L, MT);
    luaL_register(L, NULL, metamethods);
    lua_rawseti(L, LUA_REGISTRYINDEX, MT_SLOT);
    luaL_newmetatable(L, MT_HOLDER);
    lua_pushcfunction(L, holder_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    if (luaL_loadbuffer(L, int64_helpers, sizeof int64_helpers - 1, "=nljson") != 0)
        lua_error(L);
    lua_call(L, 0, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_INT64_TO);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_TO_INT64);

    lua_newtable(L);
    for (const luaL_Reg *f = functions; f->name; f++) {
        lua_pushvalue(L, -1);
        lua_pushcclosure(L, f->func, 1); /* the module itself, to recognize nljson:f() */
        lua_setfield(L, -2, f->name);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED"); /* so that require("nljson") works */
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "nljson");
    }
    lua_pop(L, 1);
    lua_setglobal(L, "nljson");
}

void
lapps__nljson_push_copy(lua_State *L, const struct lapps_value *v)
{
    struct ref *r = push_ref(L, NULL, 0, NULL, 0);
    int rv;
    r->root = root_copy(v ? v : &null_node, &rv);
    if (!r->root)
        luaL_error(L, rv == LAPPS_ERR_NOMEM ? E_NOMEM : "nljson: value nested deeper than 64");
}

const struct lapps_value *
lapps__nljson_get(lua_State *L, int idx)
{
    const struct ref *r = test_ref(L, idx);
    return r ? resolve(r) : NULL;
}
