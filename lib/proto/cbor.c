/* cbor.c — see cbor.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "proto/cbor.h"
#include "util/utf8.h"

/* ---- decoding ---- */

struct open {
    struct lapps_value *v; /* the container being filled */
    size_t want;           /* nodes it takes (items, or 2 x pairs); SIZE_MAX: indefinite */
    size_t have;           /* nodes filled */
    size_t room;           /* indefinite: nodes allocated */
};

struct dec {
    struct lapps__arena *a;
    size_t left; /* bytes after the item being decoded */
    int err;
    bool indef_string; /* inside an indefinite string: only chunks may come */
    struct lapps_value *root;
    struct open stack[LAPPS__VALUE_MAX_DEPTH + 1];
    int depth;
};

static void
fail(struct dec *d, int err)
{
    if (!d->err)
        d->err = err;
}

/* The node the next complete item goes to, or NULL (error set). */
static inline __attribute__((always_inline)) struct lapps_value *
slot(struct dec *d)
{
    if (d->depth == 0) {
        if (d->root) {
            fail(d, LAPPS_ERR_PROTO); /* a second item: trailing bytes */
            return NULL;
        }
        d->root = lapps__arena_alloc(d->a, sizeof *d->root);
        if (!d->root)
            fail(d, LAPPS_ERR_NOMEM);
        return d->root;
    }
    struct open *o = &d->stack[d->depth - 1];
    if (o->want == SIZE_MAX && o->have == o->room) {
        /* An indefinite container grows by doubling inside the arena. */
        size_t room = o->room ? 2 * o->room : 8;
        struct lapps_value *items = lapps__arena_alloc(d->a, room * sizeof *items);
        if (!items) {
            fail(d, LAPPS_ERR_NOMEM);
            return NULL;
        }
        if (o->have)
            memcpy(items, o->v->items, o->have * sizeof *items);
        o->v->items = items;
        o->room = room;
    }
    return &o->v->items[o->have++];
}

/* After an item completed: close the definite containers it filled. */
static inline __attribute__((always_inline)) void
done(struct dec *d)
{
    while (d->depth > 0) {
        struct open *o = &d->stack[d->depth - 1];
        if (o->want == SIZE_MAX || o->have < o->want)
            return;
        if (o->v->type == LAPPS_VALUE_ARRAY || o->v->type == LAPPS_VALUE_MAP)
            o->v->n = o->v->type == LAPPS_VALUE_MAP ? o->have / 2 : o->have;
        d->depth--;
    }
}

static void
scalar(struct dec *d, lapps_value_type type, bool neg, uint64_t u, double f, bool b)
{
    if (d->err)
        return;
    if (d->indef_string) {
        fail(d, LAPPS_ERR_PROTO); /* only string chunks inside an indefinite string */
        return;
    }
    struct lapps_value *v = slot(d);
    if (!v)
        return;
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    if (type == LAPPS_VALUE_INT) {
        v->neg = neg;
        v->u = u;
    } else if (type == LAPPS_VALUE_FLOAT) {
        v->d = f;
    } else if (type == LAPPS_VALUE_BOOL) {
        v->b = b;
    }
    done(d);
}

static void
string(struct dec *d, lapps_value_type type, const uint8_t *p, size_t n)
{
    if (d->err)
        return;
    if (type == LAPPS_VALUE_TEXT) {
        uint32_t st = LAPPS__UTF8_ACCEPT;
        if (lapps__utf8_validate(&st, p, n) != 0 || !lapps__utf8_complete(st)) {
            fail(d, LAPPS_ERR_PROTO);
            return;
        }
    }
    if (d->indef_string) {
        /* A chunk: it must be of the string's own type; append it. */
        struct lapps_value *v = d->stack[d->depth - 1].v;
        if (v->type != type) {
            fail(d, LAPPS_ERR_PROTO);
            return;
        }
        if (n) {
            uint8_t *joined = lapps__arena_alloc(d->a, v->n + n);
            if (!joined) {
                fail(d, LAPPS_ERR_NOMEM);
                return;
            }
            if (v->n)
                memcpy(joined, v->s, v->n);
            memcpy(joined + v->n, p, n);
            v->s = joined;
            v->n += n;
        }
        return;
    }
    struct lapps_value *v = slot(d);
    if (!v)
        return;
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    v->s = p;
    v->n = n;
    done(d);
}

/* Opens a container (or an indefinite string) of `nodes` nodes (SIZE_MAX: indefinite). */
static void
open_item(struct dec *d, lapps_value_type type, size_t nodes)
{
    if (d->err)
        return;
    if (d->indef_string || d->depth == LAPPS__VALUE_MAX_DEPTH) {
        fail(d, LAPPS_ERR_PROTO);
        return;
    }
    /* Each node takes at least one byte of what remains: a larger count is a lie, and
     * is refused before anything is allocated for it. */
    if (nodes != SIZE_MAX && nodes > d->left) {
        fail(d, LAPPS_ERR_PROTO);
        return;
    }
    struct lapps_value *v = slot(d);
    if (!v)
        return;
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    if (nodes != SIZE_MAX && nodes > 0) {
        v->items = lapps__arena_alloc(d->a, nodes * sizeof *v->items);
        if (!v->items) {
            fail(d, LAPPS_ERR_NOMEM);
            return;
        }
    }
    d->stack[d->depth++] = (struct open){v, nodes, 0, 0};
    if (type == LAPPS_VALUE_TEXT || type == LAPPS_VALUE_BYTES)
        d->indef_string = true;
    done(d); /* an empty definite container is complete at once */
}

static void
on_break(struct dec *d)
{
    if (d->err)
        return;
    struct open *o = d->depth ? &d->stack[d->depth - 1] : NULL;
    if (!o || o->want != SIZE_MAX) {
        fail(d, LAPPS_ERR_PROTO); /* a break outside an indefinite item */
        return;
    }
    if (d->indef_string) {
        d->indef_string = false;
    } else if (o->v->type == LAPPS_VALUE_MAP) {
        if (o->have % 2) {
            fail(d, LAPPS_ERR_PROTO); /* a key without a value */
            return;
        }
        o->v->n = o->have / 2;
    } else {
        o->v->n = o->have;
    }
    o->want = o->have; /* now definite and full: done() closes it and its parents */
    done(d);
}

/* IEEE 754 half precision to double (RFC 8949 Appendix D). */
static double
half_to_double(unsigned h)
{
    unsigned exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    double v = exp == 0    ? ldexp(mant, -24)
               : exp != 31 ? ldexp(mant + 1024, (int)exp - 25)
               : mant == 0 ? INFINITY
                           : NAN;
    return h & 0x8000 ? -v : v;
}

/* Decodes the item head at data[0..len): major type, argument and length. False when
 * the head is truncated or uses reserved additional information (28-30); *indef reports
 * additional information 31, which the caller checks against the major type. */
static bool
head(const uint8_t *data, size_t len, unsigned *major, uint64_t *arg, size_t *hlen, bool *indef)
{
    unsigned ai = data[0] & 0x1F;
    *major = data[0] >> 5;
    *indef = ai == 31;
    if (ai < 24 || ai == 31) {
        *arg = ai;
        *hlen = 1;
        return true;
    }
    if (ai > 27)
        return false;
    *hlen = (size_t)1 + ((size_t)1 << (ai - 24));
    if (len < *hlen)
        return false;
    uint64_t v = 0;
    for (size_t i = 1; i < *hlen; i++)
        v = v << 8 | data[i];
    *arg = v;
    return true;
}

/* Simple values and floats (major type 7). */
static void
simple(struct dec *d, unsigned ai, uint64_t arg)
{
    switch (ai) {
    case 20:
    case 21:
        scalar(d, LAPPS_VALUE_BOOL, false, 0, 0, ai == 21);
        return;
    case 22:
        scalar(d, LAPPS_VALUE_NULL, false, 0, 0, false);
        return;
    case 25:
        scalar(d, LAPPS_VALUE_FLOAT, false, 0, half_to_double((unsigned)arg), false);
        return;
    case 26: {
        uint32_t u = (uint32_t)arg;
        float f;
        memcpy(&f, &u, 4);
        scalar(d, LAPPS_VALUE_FLOAT, false, 0, f, false);
        return;
    }
    case 27: {
        double f;
        memcpy(&f, &arg, 8);
        scalar(d, LAPPS_VALUE_FLOAT, false, 0, f, false);
        return;
    }
    case 24:
        if (arg < 32) { /* a simple value below 32 in the two-byte form */
            fail(d, LAPPS_ERR_PROTO);
            return;
        }
        break; /* 32-255 are unassigned */
    default:
        break;
    }
    /* undefined and unassigned simple values: well-formed, but not representable */
    fail(d, d->indef_string ? LAPPS_ERR_PROTO : LAPPS_ERR_INVAL);
}

/* Decodes one item head (and a definite string's bytes) and hands it to the builders
 * above, which check declared counts against d->left, the bytes after the head.
 * Returns the bytes used; 0 with d->err set on malformed input. */
static size_t
item(struct dec *d, const uint8_t *data, size_t len)
{
    unsigned major;
    uint64_t arg;
    size_t h;
    bool indef;
    if (!head(data, len, &major, &arg, &h, &indef) || (indef && (major < 2 || major == 6))) {
        fail(d, LAPPS_ERR_PROTO); /* truncated, reserved, or an indefinite integer or tag */
        return 0;
    }
    d->left = len - h;
    switch (major) {
    case 0:
    case 1:
        scalar(d, LAPPS_VALUE_INT, major == 1, arg, 0, false);
        return h;
    case 2:
    case 3: {
        lapps_value_type t = major == 2 ? LAPPS_VALUE_BYTES : LAPPS_VALUE_TEXT;
        if (indef) {
            open_item(d, t, SIZE_MAX);
            return h;
        }
        if (arg > d->left) {
            fail(d, LAPPS_ERR_PROTO); /* the string runs past the message */
            return 0;
        }
        string(d, t, data + h, (size_t)arg);
        return h + (size_t)arg;
    }
    case 4:
        open_item(d, LAPPS_VALUE_ARRAY, indef ? SIZE_MAX : arg >= SIZE_MAX ? SIZE_MAX - 1 : arg);
        return h;
    case 5:
        open_item(d, LAPPS_VALUE_MAP,
                  indef                ? SIZE_MAX
                  : arg > SIZE_MAX / 4 ? SIZE_MAX - 1
                                       : 2 * arg);
        return h;
    case 6:
        /* A tag is well-formed CBOR that a value cannot carry. */
        fail(d, d->indef_string ? LAPPS_ERR_PROTO : LAPPS_ERR_INVAL);
        return 0;
    default:
        if (indef)
            on_break(d);
        else
            simple(d, data[0] & 0x1F, arg);
        return d->err ? 0 : h;
    }
}

int
lapps__cbor_decode(struct lapps__arena *a, const uint8_t *data, size_t len,
                   struct lapps_value **out)
{
    /* Only the scalars are set: the stack of open containers is written before it is
     * read, and zeroing its 65 entries cost more than decoding a small request. */
    struct dec d;
    d.a = a;
    d.left = len;
    d.err = 0;
    d.indef_string = false;
    d.root = NULL;
    d.depth = 0;
    size_t off = 0;
    while (off < len && !d.err)
        off += item(&d, data + off, len - off);
    if (d.err)
        return d.err;
    if (!d.root || d.depth != 0)
        return LAPPS_ERR_PROTO; /* empty, or containers left open */
    *out = d.root;
    return 0;
}

/* ---- encoding ---- */

void
lapps__wbuf_free(struct lapps__wbuf *b)
{
    free(b->p);
    *b = (struct lapps__wbuf){0};
}

static uint8_t *
reserve(struct lapps__wbuf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void
lapps__cbor_head(struct lapps__wbuf *b, unsigned major, uint64_t arg)
{
    uint8_t m = (uint8_t)(major << 5);
    size_t n = arg < 24 ? 1 : arg <= 0xFF ? 2 : arg <= 0xFFFF ? 3 : arg <= 0xFFFFFFFFu ? 5 : 9;
    uint8_t *p = reserve(b, n);
    if (!p)
        return;
    if (n == 1) {
        p[0] = (uint8_t)(m | arg);
        return;
    }
    p[0] = (uint8_t)(m | (n == 2 ? 24 : n == 3 ? 25 : n == 5 ? 26 : 27));
    for (size_t i = 1; i < n; i++)
        p[i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
}

void
lapps__wbuf_put(struct lapps__wbuf *b, const void *data, size_t n)
{
    uint8_t *p = reserve(b, n);
    if (p && n)
        memcpy(p, data, n);
}

void
lapps__cbor_text(struct lapps__wbuf *b, const char *s, size_t len)
{
    lapps__cbor_head(b, 3, len);
    lapps__wbuf_put(b, s, len);
}

void
lapps__cbor_int(struct lapps__wbuf *b, int64_t i)
{
    if (i < 0)
        lapps__cbor_head(b, 1, (uint64_t)(-1 - i));
    else
        lapps__cbor_head(b, 0, (uint64_t)i);
}

static void
put_float(struct lapps__wbuf *b, double d)
{
    /* Single precision when it keeps the value (and every NaN as the canonical half). */
    if (isnan(d)) {
        lapps__wbuf_put(b, "\xf9\x7e\x00", 3);
        return;
    }
    float f = (float)d;
    uint8_t out[9];
    if ((double)f == d) {
        uint32_t u;
        memcpy(&u, &f, 4);
        out[0] = 0xfa;
        for (int i = 0; i < 4; i++)
            out[1 + i] = (uint8_t)(u >> (24 - 8 * i));
        lapps__wbuf_put(b, out, 5);
        return;
    }
    uint64_t u;
    memcpy(&u, &d, 8);
    out[0] = 0xfb;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(u >> (56 - 8 * i));
    lapps__wbuf_put(b, out, 9);
}

static int
encode(struct lapps__wbuf *b, const struct lapps_value *v, int depth)
{
    if (depth > 4 * LAPPS__VALUE_MAX_DEPTH) {
        b->failed = true;
        return LAPPS_ERR_INVAL;
    }
    switch (v->type) {
    case LAPPS_VALUE_NULL:
        lapps__wbuf_put(b, "\xf6", 1);
        return 0;
    case LAPPS_VALUE_BOOL:
        lapps__wbuf_put(b, v->b ? "\xf5" : "\xf4", 1);
        return 0;
    case LAPPS_VALUE_INT:
        lapps__cbor_head(b, v->neg ? 1 : 0, v->u);
        return 0;
    case LAPPS_VALUE_FLOAT:
        put_float(b, v->d);
        return 0;
    case LAPPS_VALUE_BYTES:
    case LAPPS_VALUE_TEXT:
        lapps__cbor_head(b, v->type == LAPPS_VALUE_TEXT ? 3 : 2, v->n);
        lapps__wbuf_put(b, v->s, v->n);
        return 0;
    case LAPPS_VALUE_ARRAY:
    case LAPPS_VALUE_MAP: {
        bool map = v->type == LAPPS_VALUE_MAP;
        lapps__cbor_head(b, map ? 5 : 4, v->n);
        size_t k = map ? 2 * v->n : v->n;
        for (size_t i = 0; i < k; i++) {
            int rv = encode(b, &v->items[i], depth + 1);
            if (rv != 0)
                return rv;
        }
        return 0;
    }
    default:
        b->failed = true;
        return LAPPS_ERR_INVAL;
    }
}

int
lapps__cbor_encode(struct lapps__wbuf *b, const struct lapps_value *v)
{
    return encode(b, v, 0);
}

/* ---- the public functions ---- */

LAPPS_EXPORT lapps_ssize
lapps_value_to_cbor(const lapps_value *v, uint8_t *out, size_t cap, size_t *need)
{
    if (!v || (!out && cap))
        return LAPPS_ERR_INVAL;
    struct lapps__wbuf b = {0};
    int rv = lapps__cbor_encode(&b, v);
    lapps_ssize n = rv != 0 ? rv : b.failed ? LAPPS_ERR_NOMEM : (lapps_ssize)b.len;
    if (n >= 0 && need)
        *need = b.len;
    if (n >= 0 && b.len > cap)
        n = LAPPS_ERR_NOSPACE;
    else if (n > 0)
        memcpy(out, b.p, b.len);
    lapps__wbuf_free(&b);
    return n;
}

LAPPS_EXPORT int
lapps_value_from_cbor(const uint8_t *data, size_t len, lapps_value **out)
{
    if ((!data && len) || !out)
        return LAPPS_ERR_INVAL;
    struct lapps__arena a;
    lapps__arena_init(&a, 4096);
    struct lapps_value *v;
    int rv = lapps__cbor_decode(&a, data, len, &v);
    if (rv == 0) {
        *out = lapps_value_copy(v);
        if (!*out)
            rv = LAPPS_ERR_NOMEM;
    }
    lapps__arena_free(&a);
    return rv;
}
