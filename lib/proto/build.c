/* build.c — lapps_value_build(): values from a format string (value.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "proto/value.h"

struct fmt {
    const char *p;
    va_list ap;
    bool failed;
};

static void
skip(struct fmt *f)
{
    while (*f->p == ' ' || *f->p == ',' || *f->p == ':' || *f->p == '\t' || *f->p == '\n')
        f->p++;
}

static lapps_value *one(struct fmt *f, int depth);

/* Reads items until `close`; adds them to c (pairs when c is a map). */
static lapps_value *
container(struct fmt *f, lapps_value *c, char close, int depth)
{
    for (;;) {
        skip(f);
        if (*f->p == close) {
            f->p++;
            return c;
        }
        if (!*f->p || !c) {
            lapps_value_free(c);
            f->failed = true;
            return NULL;
        }
        lapps_value *a = one(f, depth + 1), *b = NULL;
        if (a && c->type == LAPPS_VALUE_MAP)
            b = one(f, depth + 1);
        int rv = !a || (c->type == LAPPS_VALUE_MAP && !b) ? LAPPS_ERR_INVAL
                 : c->type == LAPPS_VALUE_MAP             ? lapps_value_put(c, a, b)
                                                          : lapps_value_append(c, a);
        if (rv != 0) {
            if (!a || (c->type == LAPPS_VALUE_MAP && !b)) {
                lapps_value_free(a);
                lapps_value_free(b);
            }
            lapps_value_free(c);
            f->failed = true;
            return NULL;
        }
    }
}

static lapps_value *
one(struct fmt *f, int depth)
{
    skip(f);
    if (depth > 4 * LAPPS__VALUE_MAX_DEPTH) {
        f->failed = true;
        return NULL;
    }
    char c = *f->p;
    if (!c) {
        f->failed = true;
        return NULL;
    }
    f->p++;
    bool counted = *f->p == '#';
    if (counted)
        f->p++;
    lapps_value *v = NULL;
    switch (c) {
    case 'n':
        v = lapps_value_null();
        break;
    case 'b':
        v = lapps_value_bool(va_arg(f->ap, int));
        break;
    case 'i':
        v = lapps_value_int(va_arg(f->ap, int));
        break;
    case 'I':
        v = lapps_value_int(va_arg(f->ap, int64_t));
        break;
    case 'U':
        v = lapps_value_uint(va_arg(f->ap, uint64_t));
        break;
    case 'f':
        v = lapps_value_double(va_arg(f->ap, double));
        break;
    case 's': {
        const char *s = va_arg(f->ap, const char *);
        size_t len = counted ? va_arg(f->ap, size_t) : (size_t)-1;
        v = s ? lapps_value_text(s, len) : NULL;
        break;
    }
    case 'y': {
        const void *d = va_arg(f->ap, const void *);
        size_t len = counted ? va_arg(f->ap, size_t) : 0;
        v = counted ? lapps_value_bytes(d, len) : NULL;
        break;
    }
    case 'o':
        v = va_arg(f->ap, lapps_value *);
        if (v && !v->heap)
            v = NULL; /* a borrowed value cannot be moved: 'O' copies it */
        break;
    case 'O':
        v = lapps_value_copy(va_arg(f->ap, const lapps_value *));
        break;
    case '[':
        return container(f, lapps_value_array(), ']', depth);
    case '{':
        return container(f, lapps_value_map(), '}', depth);
    default:
        break;
    }
    if (!v)
        f->failed = true;
    return v;
}

/* After a failure the remaining 'o' arguments are still owed a free: walk the rest of
 * the format consuming arguments. */
static void
drain(struct fmt *f)
{
    for (; *f->p; f->p++) {
        bool counted = f->p[1] == '#';
        switch (*f->p) {
        case 'b':
            (void)va_arg(f->ap, int);
            break;
        case 'i':
            (void)va_arg(f->ap, int);
            break;
        case 'I':
            (void)va_arg(f->ap, int64_t);
            break;
        case 'U':
            (void)va_arg(f->ap, uint64_t);
            break;
        case 'f':
            (void)va_arg(f->ap, double);
            break;
        case 's':
        case 'y':
            (void)va_arg(f->ap, const void *);
            if (counted)
                (void)va_arg(f->ap, size_t);
            break;
        case 'o':
            lapps_value_free(va_arg(f->ap, lapps_value *));
            break;
        case 'O':
            (void)va_arg(f->ap, const lapps_value *);
            break;
        default:
            break;
        }
        if (counted)
            f->p++;
    }
}

LAPPS_EXPORT lapps_value *
lapps_value_vbuild(const char *fmt, va_list ap)
{
    if (!fmt)
        return NULL;
    struct fmt f = {.p = fmt};
    va_copy(f.ap, ap);
    lapps_value *v = one(&f, 0);
    skip(&f);
    if (!f.failed && *f.p) { /* more than one value */
        lapps_value_free(v);
        v = NULL;
        f.failed = true;
    }
    if (f.failed)
        drain(&f);
    va_end(f.ap);
    return f.failed ? NULL : v;
}

LAPPS_EXPORT lapps_value *
lapps_value_build(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lapps_value *v = lapps_value_vbuild(fmt, ap);
    va_end(ap);
    return v;
}
