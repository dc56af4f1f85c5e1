/* json.c — JSON text to values (through jansson) and values to JSON text (our printer).
 *
 * The printer never allocates: it fills a small buffer on the stack and hands it to
 * the caller's write function when full, so a caller that writes into a Lua buffer
 * may raise a Lua error from inside it without leaking anything. Map keys that are not
 * text print as their JSON text inside a string key: that text goes through one more
 * level of escaping (`level` below) instead of through a temporary copy. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <lapps/error.h>

#include "lua/json.h"
#include "util/base64.h"

/* ---- parsing ---- */

static void
set_msg(char *msg, size_t cap, const json_error_t *e)
{
    if (!msg || !cap)
        return;
    if (e->line > 0)
        snprintf(msg, cap, "line %d, column %d: %s", e->line, e->column, e->text);
    else
        snprintf(msg, cap, "%s", e->text);
}

static int
copy_string(struct lapps_value *out, lapps_value_type type, const char *s, size_t n)
{
    out->type = (uint8_t)type;
    out->heap = 1;
    if (n == 0)
        return 0;
    uint8_t *p = malloc(n);
    if (!p)
        return LAPPS_ERR_NOMEM;
    memcpy(p, s, n);
    out->s = p;
    out->n = n;
    return 0;
}

/* Fills *out (a zeroed node) from j. `depth` counts the containers open around j, as
 * the CBOR decoder does. The node stays freeable with lapps__value_clear() whatever
 * happens: a container counts an item only once that item's slot is in use. */
static int
from_json(struct lapps_value *out, json_t *j, int depth)
{
    out->heap = 1;
    switch (json_typeof(j)) {
    case JSON_NULL:
        out->type = LAPPS_VALUE_NULL;
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        out->type = LAPPS_VALUE_BOOL;
        out->b = json_is_true(j);
        return 0;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(j);
        out->type = LAPPS_VALUE_INT;
        out->neg = i < 0;
        out->u = i < 0 ? (uint64_t)(-1 - i) : (uint64_t)i;
        return 0;
    }
    case JSON_REAL:
        out->type = LAPPS_VALUE_FLOAT;
        out->d = json_real_value(j);
        return 0;
    case JSON_STRING:
        return copy_string(out, LAPPS_VALUE_TEXT, json_string_value(j), json_string_length(j));
    case JSON_ARRAY:
    case JSON_OBJECT:
        break;
    }
    bool map = json_is_object(j);
    out->type = map ? LAPPS_VALUE_MAP : LAPPS_VALUE_ARRAY;
    if (depth >= LAPPS__VALUE_MAX_DEPTH)
        return LAPPS_ERR_PROTO;
    size_t n = map ? json_object_size(j) : json_array_size(j);
    if (n == 0)
        return 0;
    out->items = calloc(map ? 2 * n : n, sizeof *out->items);
    if (!out->items)
        return LAPPS_ERR_NOMEM;
    out->cap = map ? 2 * n : n;
    if (!map) {
        for (size_t i = 0; i < n; i++) {
            out->n = i + 1;
            int rv = from_json(&out->items[i], json_array_get(j, i), depth + 1);
            if (rv != 0)
                return rv;
        }
        return 0;
    }
    size_t i = 0;
    for (void *it = json_object_iter(j); it && i < n; it = json_object_iter_next(j, it), i++) {
        out->n = i + 1;
        const char *key = json_object_iter_key(it);
        int rv =
            copy_string(&out->items[2 * i], LAPPS_VALUE_TEXT, key, json_object_iter_key_len(it));
        if (rv == 0)
            rv = from_json(&out->items[2 * i + 1], json_object_iter_value(it), depth + 1);
        if (rv != 0)
            return rv;
    }
    return 0;
}

/* Turns what jansson parsed into a heap tree and drops jansson's. */
static int
convert(json_t *j, struct lapps_value **out, char *msg, size_t cap)
{
    struct lapps_value *v = lapps_value_null();
    int rv = v ? from_json(v, j, 0) : LAPPS_ERR_NOMEM;
    json_decref(j);
    if (rv != 0) {
        lapps_value_free(v);
        if (msg && cap)
            snprintf(msg, cap, "%s",
                     rv == LAPPS_ERR_NOMEM ? "out of memory" : "nesting deeper than 64 levels");
        return rv;
    }
    *out = v;
    return 0;
}

int
lapps__json_parse(const char *text, size_t len, struct lapps_value **out, char *msg, size_t msgcap)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) {
        set_msg(msg, msgcap, &e);
        return json_error_code(&e) == json_error_out_of_memory ? LAPPS_ERR_NOMEM : LAPPS_ERR_PROTO;
    }
    return convert(j, out, msg, msgcap);
}

int
lapps__json_parse_file(const char *path, struct lapps_value **out, char *msg, size_t msgcap)
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) {
        set_msg(msg, msgcap, &e);
        return json_error_code(&e) == json_error_out_of_memory ? LAPPS_ERR_NOMEM : LAPPS_ERR_PROTO;
    }
    return convert(j, out, msg, msgcap);
}

/* ---- printing ---- */

struct out {
    lapps__json_write_fn *write;
    void *ctx;
    int err;
    int level; /* escaping levels applied to what is printed (keys that are not text) */
    /* Bytes keys that are not text may still print. A key holding a map with such keys
     * is escaped once per level, so its text can double with each level: a 300-byte
     * CBOR message would print terabytes. Past this budget printing fails instead. */
    size_t key_budget;
    size_t len;
    char buf[512];
};

static void
flush(struct out *o)
{
    if (!o->err && o->len) {
        int rv = o->write(o->ctx, o->buf, o->len);
        if (rv != 0)
            o->err = rv;
    }
    o->len = 0;
}

static void
raw(struct out *o, const char *p, size_t n)
{
    if (o->err || n == 0)
        return;
    if (o->level > 0) {
        if (n > o->key_budget) {
            o->err = LAPPS_ERR_INVAL;
            return;
        }
        o->key_budget -= n;
    }
    if (n > sizeof o->buf - o->len) {
        flush(o);
        if (n >= sizeof o->buf) { /* a long string: no point copying it */
            int rv = o->err ? 0 : o->write(o->ctx, p, n);
            if (rv != 0)
                o->err = rv;
            return;
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

static void put_at(struct out *o, const char *p, size_t n, int level);

/* Emits the contents of a JSON string for s[0..n) (RFC 8259 §7: quotation mark,
 * reverse solidus and control characters escaped; UTF-8 kept as it is) at `level`. */
static void
escape_at(struct out *o, const char *s, size_t n, int level)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put_at(o, s + run, i - run, level);
        char e[8];
        size_t k = 2;
        e[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            e[1] = (char)c;
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            k = (size_t)snprintf(e, sizeof e, "\\u%04x", c);
            break;
        }
        put_at(o, e, k, level);
        run = i + 1;
    }
    if (n > run) /* s may be NULL for an empty string */
        put_at(o, s + run, n - run, level);
}

static void
put_at(struct out *o, const char *p, size_t n, int level)
{
    if (n == 0)
        return;
    if (level == 0)
        raw(o, p, n);
    else
        escape_at(o, p, n, level - 1);
}

static void
put(struct out *o, const char *p, size_t n)
{
    put_at(o, p, n, o->level);
}

static void
puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void
put_base64(struct out *o, const uint8_t *p, size_t n)
{
    char tmp[4 * 128 + 1];
    while (n) {
        size_t k = n < 3 * 128 ? n : 3 * 128; /* whole groups except at the end */
        put(o, tmp, lapps__base64_encode(p, k, tmp));
        p += k;
        n -= k;
    }
}

static void
put_int(struct out *o, const struct lapps_value *v)
{
    char tmp[32];
    int k;
    if (!v->neg)
        k = snprintf(tmp, sizeof tmp, "%" PRIu64, v->u);
    else if (v->u == UINT64_MAX) /* -2^64: one more than uint64_t holds */
        k = snprintf(tmp, sizeof tmp, "-18446744073709551616");
    else
        k = snprintf(tmp, sizeof tmp, "-%" PRIu64, v->u + 1);
    put(o, tmp, (size_t)k);
}

/* The shortest of %.15g, %.16g and %.17g that reads back as the same double, with
 * ".0" added when it would otherwise read as an integer (nlohmann prints 5.0). */
static void
put_double(struct out *o, double d)
{
    if (!isfinite(d)) {
        puts_(o, "null");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp - 2, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".eE"))
        strcat(tmp, ".0");
    puts_(o, tmp);
}

static void
newline(struct out *o, int indent, int level)
{
    if (indent <= 0)
        return;
    put(o, "\n", 1);
    static const char spaces[] = "                                ";
    for (size_t left = (size_t)indent * (size_t)level; left && !o->err;) {
        size_t k = left < sizeof spaces - 1 ? left : sizeof spaces - 1;
        put(o, spaces, k);
        left -= k;
    }
}

static void value(struct out *o, const struct lapps_value *v, int indent, int depth);

static void
key_text(struct out *o, const struct lapps_value *k, int depth)
{
    if (k->type == LAPPS_VALUE_TEXT)
        escape_at(o, (const char *)k->s, k->n, o->level);
    else if (k->type == LAPPS_VALUE_BYTES)
        put_base64(o, k->s, k->n);
    else {
        o->level++;
        value(o, k, 0, depth);
        o->level--;
    }
}

static void
container(struct out *o, const struct lapps_value *v, int indent, int depth)
{
    bool map = v->type == LAPPS_VALUE_MAP;
    put(o, map ? "{" : "[", 1);
    for (size_t i = 0; i < v->n && !o->err; i++) {
        if (i)
            put(o, ",", 1);
        newline(o, indent, depth + 1);
        if (map) {
            put(o, "\"", 1);
            key_text(o, &v->items[2 * i], depth + 1);
            put(o, indent > 0 ? "\": " : "\":", indent > 0 ? 3 : 2);
            value(o, &v->items[2 * i + 1], indent, depth + 1);
        } else {
            value(o, &v->items[i], indent, depth + 1);
        }
    }
    if (v->n)
        newline(o, indent, depth);
    put(o, map ? "}" : "]", 1);
}

static void
value(struct out *o, const struct lapps_value *v, int indent, int depth)
{
    if (o->err)
        return;
    if (depth > 4 * LAPPS__VALUE_MAX_DEPTH) {
        o->err = LAPPS_ERR_INVAL;
        return;
    }
    switch (v->type) {
    case LAPPS_VALUE_NULL:
        puts_(o, "null");
        break;
    case LAPPS_VALUE_BOOL:
        puts_(o, v->b ? "true" : "false");
        break;
    case LAPPS_VALUE_INT:
        put_int(o, v);
        break;
    case LAPPS_VALUE_FLOAT:
        put_double(o, v->d);
        break;
    case LAPPS_VALUE_TEXT:
        put(o, "\"", 1);
        escape_at(o, (const char *)v->s, v->n, o->level);
        put(o, "\"", 1);
        break;
    case LAPPS_VALUE_BYTES:
        put(o, "\"", 1);
        put_base64(o, v->s, v->n);
        put(o, "\"", 1);
        break;
    case LAPPS_VALUE_ARRAY:
    case LAPPS_VALUE_MAP:
        container(o, v, indent, depth);
        break;
    default:
        o->err = LAPPS_ERR_INVAL;
        break;
    }
}

int
lapps__json_print(const struct lapps_value *v, int indent, lapps__json_write_fn *write, void *ctx)
{
    struct out o = {.write = write, .ctx = ctx, .key_budget = LAPPS__JSON_KEY_BUDGET};
    value(&o, v, indent, 0);
    flush(&o);
    return o.err;
}

int
lapps__json_print_key(const struct lapps_value *key, lapps__json_write_fn *write, void *ctx)
{
    struct out o = {.write = write, .ctx = ctx, .key_budget = LAPPS__JSON_KEY_BUDGET};
    if (key->type == LAPPS_VALUE_TEXT)
        raw(&o, (const char *)key->s, key->n);
    else if (key->type == LAPPS_VALUE_BYTES)
        put_base64(&o, key->s, key->n);
    else
        value(&o, key, 0, 0);
    flush(&o);
    return o.err;
}
