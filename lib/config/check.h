/* check.h — reading JSON values with the errors lappsd's users read: each names the
 * file, the key path, what was expected and what was found. */
#ifndef LAPPS_CONFIG_CHECK_H
#define LAPPS_CONFIG_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lapps/server.h>

/* One file being read. The first error is kept (later ones are usually its echoes). */
struct cfg_file {
    const char *path;
    char *err;
    size_t errlen;
    bool failed;
    lapps_log_fn log_fn;
    void *log_user_data;
};

/* Records an error at @p key (a path such as "workers.workers"): "file: key: msg". */
void cfg_fail(struct cfg_file *f, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Logs a warning or note "file: key: msg" (never an error). */
void cfg_warn(struct cfg_file *f, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records "file: key: expected <what>, found <v>" and returns false. */
bool cfg_expected(struct cfg_file *f, const char *key, const json_t *v, const char *what);

/* Describes a JSON value for "found ...": `"four"`, `3.5`, `an array`, `null`. */
void cfg_describe(const json_t *v, char *buf, size_t len);

/* The path of member @p name of the object at @p parent ("" for the root). */
void cfg_key(char *buf, size_t len, const char *parent, const char *name);

/* Each reader leaves *out unchanged when the member is absent and returns true; on a
 * wrong value it records the error and returns false. */
bool cfg_int(struct cfg_file *f, json_t *obj, const char *parent, const char *name, long long min,
             long long max, long long *out);
bool cfg_bool(struct cfg_file *f, json_t *obj, const char *parent, const char *name, bool *out);
/* A non-empty string without NUL, at most @p max bytes; *out is a new copy (freed first). */
bool cfg_string(struct cfg_file *f, json_t *obj, const char *parent, const char *name, size_t max,
                char **out);
/* An array of such strings (*out NULL-terminated, freed first; at most @p max items). */
bool cfg_strings(struct cfg_file *f, json_t *obj, const char *parent, const char *name,
                 size_t max_items, size_t max_len, char ***out);
/* An object, or NULL when absent (an error when it is something else). */
json_t *cfg_object(struct cfg_file *f, json_t *obj, const char *parent, const char *name);

/* Warns about every member of @p obj not in @p known (unknown keys) and notes those in
 * @p noted (LAppS keys accepted with no effect here). Both lists end with NULL. */
void cfg_keys(struct cfg_file *f, json_t *obj, const char *parent, const char *const *known,
              const char *const *noted);

void cfg_free_strings(char **list);

#endif /* LAPPS_CONFIG_CHECK_H */
