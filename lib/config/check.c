/* check.c — typed reads of JSON members with exact error messages (check.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "config/check.h"

static void vformat(char *buf, size_t len, struct cfg_file *f, const char *key, const char *fmt,
                    va_list ap) __attribute__((format(printf, 5, 0)));

static void
vformat(char *buf, size_t len, struct cfg_file *f, const char *key, const char *fmt, va_list ap)
{
    int n = snprintf(buf, len, "%s: %s%s", f->path, key, *key ? ": " : "");
    if (n >= 0 && (size_t)n < len)
        vsnprintf(buf + n, len - (size_t)n, fmt, ap);
}

void
cfg_fail(struct cfg_file *f, const char *key, const char *fmt, ...)
{
    if (f->failed)
        return;
    f->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vformat(f->err, f->errlen, f, key, fmt, ap);
    va_end(ap);
}

void
cfg_warn(struct cfg_file *f, const char *key, const char *fmt, ...)
{
    if (!f->log_fn)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vformat(buf, sizeof buf, f, key, fmt, ap);
    va_end(ap);
    f->log_fn(LAPPS_LOG_WARN, buf, f->log_user_data);
}

void
cfg_describe(const json_t *v, char *buf, size_t len)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        /* Quoted and cut: the message stays one readable line. */
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        snprintf(buf, len, "\"%.*s%s\"", n > 40 ? 40 : (int)n, s, n > 40 ? "..." : "");
        for (char *p = buf; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = '?';
        break;
    }
    case JSON_INTEGER:
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(buf, len, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(buf, len, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, len, "false");
        break;
    case JSON_NULL:
        snprintf(buf, len, "null");
        break;
    case JSON_ARRAY:
        snprintf(buf, len, "an array");
        break;
    case JSON_OBJECT:
        snprintf(buf, len, "an object");
        break;
    }
}

void
cfg_key(char *buf, size_t len, const char *parent, const char *name)
{
    snprintf(buf, len, "%s%s%s", parent, *parent ? "." : "", name);
}

bool
cfg_expected(struct cfg_file *f, const char *key, const json_t *v, const char *what)
{
    char found[64];
    cfg_describe(v, found, sizeof found);
    cfg_fail(f, key, "expected %s, found %s", what, found);
    return false;
}

/* The same for member @p name of the object at @p parent. */
static bool
wrong(struct cfg_file *f, const char *parent, const char *name, const json_t *v, const char *what)
{
    char key[256];
    cfg_key(key, sizeof key, parent, name);
    return cfg_expected(f, key, v, what);
}

bool
cfg_int(struct cfg_file *f, json_t *obj, const char *parent, const char *name, long long min,
        long long max, long long *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return true;
    long long x = json_is_integer(v) ? (long long)json_integer_value(v) : 0;
    if (!json_is_integer(v) || x < min || x > max) {
        char what[96];
        snprintf(what, sizeof what, "an integer from %lld to %lld", min, max);
        return wrong(f, parent, name, v, what);
    }
    *out = x;
    return true;
}

bool
cfg_bool(struct cfg_file *f, json_t *obj, const char *parent, const char *name, bool *out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return true;
    if (!json_is_boolean(v))
        return wrong(f, parent, name, v, "true or false");
    *out = json_is_true(v);
    return true;
}

static bool
good_string(const json_t *v, size_t max)
{
    return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max &&
           strlen(json_string_value(v)) == json_string_length(v);
}

bool
cfg_string(struct cfg_file *f, json_t *obj, const char *parent, const char *name, size_t max,
           char **out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return true;
    if (!good_string(v, max)) {
        char what[96];
        snprintf(what, sizeof what, "a non-empty string of at most %zu bytes", max);
        return wrong(f, parent, name, v, what);
    }
    char *s = strdup(json_string_value(v));
    if (!s) {
        cfg_fail(f, "", "out of memory");
        return false;
    }
    free(*out);
    *out = s;
    return true;
}

bool
cfg_strings(struct cfg_file *f, json_t *obj, const char *parent, const char *name, size_t max_items,
            size_t max_len, char ***out)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return true;
    char what[128];
    snprintf(what, sizeof what, "an array of at most %zu non-empty strings", max_items);
    if (!json_is_array(v) || json_array_size(v) > max_items)
        return wrong(f, parent, name, v, what);
    char key[256];
    cfg_key(key, sizeof key, parent, name);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!good_string(item, max_len)) {
            char ikey[288];
            snprintf(ikey, sizeof ikey, "%s[%zu]", key, i);
            char found[64];
            cfg_describe(item, found, sizeof found);
            cfg_fail(f, ikey, "expected a non-empty string of at most %zu bytes, found %s", max_len,
                     found);
            return false;
        }
    }
    char **list = calloc(json_array_size(v) + 1, sizeof *list);
    if (!list) {
        cfg_fail(f, "", "out of memory");
        return false;
    }
    json_array_foreach(v, i, item)
    {
        if (!(list[i] = strdup(json_string_value(item)))) {
            cfg_free_strings(list);
            cfg_fail(f, "", "out of memory");
            return false;
        }
    }
    cfg_free_strings(*out);
    *out = list;
    return true;
}

json_t *
cfg_object(struct cfg_file *f, json_t *obj, const char *parent, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (v && !json_is_object(v)) {
        wrong(f, parent, name, v, "an object");
        return NULL;
    }
    return v;
}

static bool
listed(const char *const *list, const char *name)
{
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

void
cfg_keys(struct cfg_file *f, json_t *obj, const char *parent, const char *const *known,
         const char *const *noted)
{
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v)
    {
        char key[256];
        cfg_key(key, sizeof key, parent, name);
        if (listed(noted, name))
            cfg_warn(f, key, "a LAppS setting that changes nothing here, ignored");
        else if (!listed(known, name))
            cfg_warn(f, key, "unknown key, ignored");
    }
}

void
cfg_free_strings(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}
