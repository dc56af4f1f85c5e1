/* value.c — reading, building, copying and comparing values (include/lapps/value.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "proto/value.h"
#include "util/utf8.h"

/* ---- reading ---- */

LAPPS_EXPORT lapps_value_type
lapps_value_type_of(const lapps_value *v)
{
    return v ? (lapps_value_type)v->type : LAPPS_VALUE_NULL;
}

LAPPS_EXPORT int
lapps_value_get_bool(const lapps_value *v, int *out)
{
    if (!v || v->type != LAPPS_VALUE_BOOL || !out)
        return LAPPS_ERR_INVAL;
    *out = v->b;
    return 0;
}

LAPPS_EXPORT int
lapps_value_get_int(const lapps_value *v, int64_t *out)
{
    if (!v || v->type != LAPPS_VALUE_INT || !out)
        return LAPPS_ERR_INVAL;
    if (v->u > (uint64_t)INT64_MAX)
        return LAPPS_ERR_TOO_BIG;
    *out = v->neg ? -1 - (int64_t)v->u : (int64_t)v->u;
    return 0;
}

LAPPS_EXPORT int
lapps_value_get_uint(const lapps_value *v, uint64_t *out)
{
    if (!v || v->type != LAPPS_VALUE_INT || v->neg || !out)
        return LAPPS_ERR_INVAL;
    *out = v->u;
    return 0;
}

LAPPS_EXPORT int
lapps_value_get_cbor_int(const lapps_value *v, int *negative, uint64_t *magnitude)
{
    if (!v || v->type != LAPPS_VALUE_INT || !negative || !magnitude)
        return LAPPS_ERR_INVAL;
    *negative = v->neg;
    *magnitude = v->u;
    return 0;
}

LAPPS_EXPORT int
lapps_value_get_double(const lapps_value *v, double *out)
{
    if (!v || !out)
        return LAPPS_ERR_INVAL;
    if (v->type == LAPPS_VALUE_FLOAT)
        *out = v->d;
    else if (v->type == LAPPS_VALUE_INT)
        *out = v->neg ? -1.0 - (double)v->u : (double)v->u;
    else
        return LAPPS_ERR_INVAL;
    return 0;
}

LAPPS_EXPORT const uint8_t *
lapps_value_get_bytes(const lapps_value *v, size_t *len)
{
    if (!v || (v->type != LAPPS_VALUE_TEXT && v->type != LAPPS_VALUE_BYTES))
        return NULL;
    if (len)
        *len = v->n;
    return v->s ? v->s : (const uint8_t *)"";
}

LAPPS_EXPORT int
lapps_value_text_is(const lapps_value *v, const char *s)
{
    if (!v || v->type != LAPPS_VALUE_TEXT || !s)
        return 0;
    size_t n = strlen(s);
    return n == v->n && (n == 0 || memcmp(v->s, s, n) == 0);
}

LAPPS_EXPORT size_t
lapps_value_size(const lapps_value *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case LAPPS_VALUE_TEXT:
    case LAPPS_VALUE_BYTES:
    case LAPPS_VALUE_ARRAY:
    case LAPPS_VALUE_MAP:
        return v->n;
    default:
        return 0;
    }
}

LAPPS_EXPORT const lapps_value *
lapps_value_at(const lapps_value *v, size_t i)
{
    return v && v->type == LAPPS_VALUE_ARRAY && i < v->n ? &v->items[i] : NULL;
}

LAPPS_EXPORT const lapps_value *
lapps_value_key_at(const lapps_value *v, size_t i)
{
    return v && v->type == LAPPS_VALUE_MAP && i < v->n ? &v->items[2 * i] : NULL;
}

LAPPS_EXPORT const lapps_value *
lapps_value_value_at(const lapps_value *v, size_t i)
{
    return v && v->type == LAPPS_VALUE_MAP && i < v->n ? &v->items[2 * i + 1] : NULL;
}

LAPPS_EXPORT const lapps_value *
lapps_value_get(const lapps_value *v, const char *key)
{
    if (!v || v->type != LAPPS_VALUE_MAP || !key)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (lapps_value_text_is(&v->items[2 * i], key))
            return &v->items[2 * i + 1];
    return NULL;
}

/* ---- building ---- */

static lapps_value *
node(lapps_value_type type)
{
    lapps_value *v = calloc(1, sizeof *v);
    if (v) {
        v->type = (uint8_t)type;
        v->heap = 1;
    }
    return v;
}

LAPPS_EXPORT lapps_value *
lapps_value_null(void)
{
    return node(LAPPS_VALUE_NULL);
}

LAPPS_EXPORT lapps_value *
lapps_value_bool(int b)
{
    lapps_value *v = node(LAPPS_VALUE_BOOL);
    if (v)
        v->b = b != 0;
    return v;
}

LAPPS_EXPORT lapps_value *
lapps_value_int(int64_t i)
{
    lapps_value *v = node(LAPPS_VALUE_INT);
    if (v) {
        v->neg = i < 0;
        v->u = i < 0 ? (uint64_t)(-1 - i) : (uint64_t)i;
    }
    return v;
}

LAPPS_EXPORT lapps_value *
lapps_value_uint(uint64_t u)
{
    lapps_value *v = node(LAPPS_VALUE_INT);
    if (v)
        v->u = u;
    return v;
}

LAPPS_EXPORT lapps_value *
lapps_value_double(double d)
{
    lapps_value *v = node(LAPPS_VALUE_FLOAT);
    if (v)
        v->d = d;
    return v;
}

static lapps_value *
string(lapps_value_type type, const void *data, size_t len)
{
    if (!data && len)
        return NULL;
    lapps_value *v = node(type);
    if (!v)
        return NULL;
    if (len) {
        uint8_t *copy = malloc(len);
        if (!copy) {
            free(v);
            return NULL;
        }
        memcpy(copy, data, len);
        v->s = copy;
    }
    v->n = len;
    return v;
}

LAPPS_EXPORT lapps_value *
lapps_value_text(const char *text, size_t len)
{
    if (!text)
        return NULL;
    if (len == (size_t)-1)
        len = strlen(text);
    uint32_t st = LAPPS__UTF8_ACCEPT;
    if (lapps__utf8_validate(&st, (const uint8_t *)text, len) != 0 || !lapps__utf8_complete(st))
        return NULL;
    return string(LAPPS_VALUE_TEXT, text, len);
}

LAPPS_EXPORT lapps_value *
lapps_value_bytes(const void *data, size_t len)
{
    return string(LAPPS_VALUE_BYTES, data, len);
}

LAPPS_EXPORT lapps_value *
lapps_value_array(void)
{
    return node(LAPPS_VALUE_ARRAY);
}

LAPPS_EXPORT lapps_value *
lapps_value_map(void)
{
    return node(LAPPS_VALUE_MAP);
}

/* Moves k nodes into the items of a heap container (growing them). */
static int
add_items(lapps_value *c, lapps_value **nodes, size_t k)
{
    size_t used = c->type == LAPPS_VALUE_MAP ? 2 * c->n : c->n;
    if (used + k > c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4;
        while (cap < used + k)
            cap *= 2;
        lapps_value *items = realloc(c->items, cap * sizeof *items);
        if (!items)
            return LAPPS_ERR_NOMEM;
        c->items = items;
        c->cap = cap;
    }
    for (size_t i = 0; i < k; i++) {
        c->items[used + i] = *nodes[i];
        free(nodes[i]); /* the shell; what it owned now belongs to the copy */
    }
    c->n += c->type == LAPPS_VALUE_MAP ? 1 : k;
    return 0;
}

LAPPS_EXPORT int
lapps_value_append(lapps_value *arr, lapps_value *item)
{
    int rv = !arr || !arr->heap || arr->type != LAPPS_VALUE_ARRAY || !item || !item->heap
                 ? LAPPS_ERR_INVAL
                 : add_items(arr, &item, 1);
    if (rv != 0)
        lapps_value_free(item);
    return rv;
}

LAPPS_EXPORT int
lapps_value_put(lapps_value *map, lapps_value *key, lapps_value *val)
{
    lapps_value *pair[2] = {key, val};
    int rv = !map || !map->heap || map->type != LAPPS_VALUE_MAP || !key || !val || !key->heap ||
                     !val->heap
                 ? LAPPS_ERR_INVAL
                 : add_items(map, pair, 2);
    if (rv != 0) {
        lapps_value_free(key);
        lapps_value_free(val);
    }
    return rv;
}

LAPPS_EXPORT int
lapps_value_set(lapps_value *map, const char *key, lapps_value *val)
{
    lapps_value *k = key ? lapps_value_text(key, (size_t)-1) : NULL;
    if (!k) {
        lapps_value_free(val);
        return key ? LAPPS_ERR_NOMEM : LAPPS_ERR_INVAL;
    }
    return lapps_value_put(map, k, val);
}

/* ---- copying and freeing ---- */

void
lapps__value_clear(struct lapps_value *v)
{
    if (!v->heap)
        return;
    switch (v->type) {
    case LAPPS_VALUE_TEXT:
    case LAPPS_VALUE_BYTES:
        free((void *)v->s);
        break;
    case LAPPS_VALUE_ARRAY:
    case LAPPS_VALUE_MAP: {
        size_t k = v->type == LAPPS_VALUE_MAP ? 2 * v->n : v->n;
        for (size_t i = 0; i < k; i++)
            lapps__value_clear(&v->items[i]);
        free(v->items);
        break;
    }
    default:
        break;
    }
    v->s = NULL;
    v->n = v->cap = 0;
}

LAPPS_EXPORT void
lapps_value_free(lapps_value *v)
{
    if (!v || !v->heap)
        return; /* a decoded value belongs to the library */
    lapps__value_clear(v);
    free(v);
}

/* Fills *dst (a node in place) with a heap copy of src. */
static int
copy_into(lapps_value *dst, const lapps_value *src, int depth)
{
    *dst = *src;
    dst->heap = 1;
    dst->cap = 0;
    if (depth > 4 * LAPPS__VALUE_MAX_DEPTH)
        return LAPPS_ERR_INVAL;
    switch (src->type) {
    case LAPPS_VALUE_TEXT:
    case LAPPS_VALUE_BYTES:
        dst->s = NULL;
        if (src->n) {
            uint8_t *p = malloc(src->n);
            if (!p) {
                dst->n = 0;
                return LAPPS_ERR_NOMEM;
            }
            memcpy(p, src->s, src->n);
            dst->s = p;
        }
        return 0;
    case LAPPS_VALUE_ARRAY:
    case LAPPS_VALUE_MAP: {
        size_t k = src->type == LAPPS_VALUE_MAP ? 2 * src->n : src->n;
        dst->items = NULL;
        dst->n = 0;
        if (!k)
            return 0;
        dst->items = calloc(k, sizeof *dst->items);
        if (!dst->items)
            return LAPPS_ERR_NOMEM;
        dst->cap = k;
        for (size_t i = 0; i < k; i++) {
            int rv = copy_into(&dst->items[i], &src->items[i], depth + 1);
            if (rv != 0) {
                /* Keep what was copied so far freeable: count whole items only. */
                for (size_t j = 0; j <= i; j++)
                    lapps__value_clear(&dst->items[j]);
                free(dst->items);
                dst->items = NULL;
                dst->cap = 0;
                return rv;
            }
        }
        dst->n = src->n;
        return 0;
    }
    default:
        return 0;
    }
}

LAPPS_EXPORT lapps_value *
lapps_value_copy(const lapps_value *v)
{
    if (!v)
        return NULL;
    lapps_value *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    if (copy_into(c, v, 0) != 0) {
        lapps__value_clear(c);
        free(c);
        return NULL;
    }
    return c;
}

LAPPS_EXPORT int
lapps_value_equal(const lapps_value *a, const lapps_value *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case LAPPS_VALUE_NULL:
        return 1;
    case LAPPS_VALUE_BOOL:
        return a->b == b->b;
    case LAPPS_VALUE_INT:
        return a->neg == b->neg && a->u == b->u;
    case LAPPS_VALUE_FLOAT:
        return a->d == b->d || (isnan(a->d) && isnan(b->d));
    case LAPPS_VALUE_TEXT:
    case LAPPS_VALUE_BYTES:
        return a->n == b->n && (a->n == 0 || memcmp(a->s, b->s, a->n) == 0);
    default: {
        if (a->n != b->n)
            return 0;
        size_t k = a->type == LAPPS_VALUE_MAP ? 2 * a->n : a->n;
        for (size_t i = 0; i < k; i++)
            if (!lapps_value_equal(&a->items[i], &b->items[i]))
                return 0;
        return 1;
    }
    }
}
