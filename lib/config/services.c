/* services.c — lapps.json, LAppS's services file: each service checked, then the order
 * they start in (dependencies first).
 *
 * LAppS behaviours kept: a `depends` entry naming no service is ignored (with a warning
 * here), and a service another started service depends on starts even with
 * `auto_start: false`. New: a cycle in `depends` is an error (LAppS hung or skipped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static const char *const top_known[] = {"directories", "services", NULL};
static const char *const dirs_known[] = {"applications", NULL};
static const char *const dirs_noted[] = {"deploy", "tmp", "app_conf_dir", "workdir", NULL};
static const char *const svc_known[] = {"standalone",  "instances",
                                        "auto_start",  "request_target",
                                        "protocol",    "max_inbound_message_size",
                                        "acl",         "preload",
                                        "depends",     "extra_headers",
                                        "proto_alias", "origins",
                                        "isolated",    "lang",
                                        "library",     "symbol",
                                        NULL};

#define MAX_LIST 64

static bool
read_protocol(struct cfg_file *f, json_t *s, const char *key, struct cfg_service *svc)
{
    json_t *v = json_object_get(s, "protocol");
    const char *p = json_string_value(v);
    svc->protocol = LAPPS_PROTO_RAW;
    if (!v)
        return true;
    if (p && strcmp(p, "raw") == 0)
        return true;
    if (p && strcmp(p, "LAppS") == 0) {
        svc->protocol = LAPPS_PROTO_LAPPS;
        return true;
    }
    char pkey[340];
    snprintf(pkey, sizeof pkey, "%s.protocol", key);
    return cfg_expected(f, pkey, v, "\"raw\" or \"LAppS\"");
}

/* extra_headers: {"Name": "value", ...}. The values are checked again by the library
 * (a name it owns, or a CR/LF, is refused there with the same key path). */
static void
read_headers(struct cfg_file *f, json_t *s, const char *key, struct cfg_service *svc)
{
    json_t *h = cfg_object(f, s, key, "extra_headers");
    if (!h)
        return;
    char hkey[340];
    snprintf(hkey, sizeof hkey, "%s.extra_headers", key);
    if (json_object_size(h) > 32) {
        cfg_fail(f, hkey, "expected at most 32 headers, found %zu", json_object_size(h));
        return;
    }
    svc->headers = calloc(2 * json_object_size(h) + 1, sizeof *svc->headers);
    if (!svc->headers) {
        cfg_fail(f, "", "out of memory");
        return;
    }
    const char *name;
    json_t *v;
    size_t k = 0;
    json_object_foreach(h, name, v)
    {
        if (!json_is_string(v)) {
            char vkey[600];
            snprintf(vkey, sizeof vkey, "%s.%s", hkey, name);
            cfg_expected(f, vkey, v, "a string");
            return;
        }
        if (!(svc->headers[k++] = strdup(name)) ||
            !(svc->headers[k++] = strdup(json_string_value(v)))) {
            cfg_fail(f, "", "out of memory");
            return;
        }
    }
}

static void
read_service(struct cfg_file *f, const char *name, json_t *s, struct cfg_service *svc,
             const char *apps)
{
    char key[300];
    snprintf(key, sizeof key, "services.%s", name);
    svc->auto_start = true;
    if (!(svc->name = strdup(name)) || !(svc->dir = malloc(strlen(apps) + strlen(name) + 2))) {
        cfg_fail(f, "", "out of memory");
        return;
    }
    sprintf(svc->dir, "%s/%s", apps, name);
    if (!json_is_object(s)) {
        cfg_expected(f, key, s, "an object");
        return;
    }
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        cfg_fail(f, key, "expected a service name without '/', found \"%s\"", name);
        return;
    }
    cfg_keys(f, s, key, svc_known, NULL);
    long long max = 0;
    if (!cfg_bool(f, s, key, "standalone", &svc->standalone) ||
        !cfg_bool(f, s, key, "auto_start", &svc->auto_start) ||
        !cfg_bool(f, s, key, "isolated", &svc->isolated) ||
        !cfg_int(f, s, key, "instances", 1, 65536, &svc->instances) ||
        !cfg_int(f, s, key, "max_inbound_message_size", 1, 1LL << 32, &max) ||
        !read_protocol(f, s, key, svc) ||
        !cfg_string(f, s, key, "request_target", 1024, &svc->target) ||
        !cfg_strings(f, s, key, "preload", MAX_LIST, 64, &svc->preload) ||
        !cfg_strings(f, s, key, "depends", CFG_MAX_SERVICES, 256, &svc->depends) ||
        !cfg_strings(f, s, key, "origins", MAX_LIST, 1024, &svc->origins) ||
        !cfg_string(f, s, key, "proto_alias", 256, &svc->proto_alias))
        return;
    svc->max_message = max;
    read_headers(f, s, key, svc);
    lapps__config_acl(f, s, key, &svc->acl);
    char *lang = NULL;
    if (!cfg_string(f, s, key, "lang", 16, &lang))
        return;
    char lkey[320];
    snprintf(lkey, sizeof lkey, "%s.lang", key);
    if (lang && strcmp(lang, "lua") != 0 && strcmp(lang, "c") != 0)
        cfg_fail(f, lkey, "expected \"lua\" or \"c\", found \"%s\"", lang);
    svc->native = lang && strcmp(lang, "c") == 0;
    free(lang);
    if (!cfg_string(f, s, key, "library", 4095, &svc->library) ||
        !cfg_string(f, s, key, "symbol", 256, &svc->symbol))
        return;
    if (svc->native && (!svc->library || !svc->symbol))
        cfg_fail(f, key, "expected \"library\" and \"symbol\" with \"lang\": \"c\", found %s",
                 svc->library ? "no symbol" : "no library");
    if (svc->native && svc->standalone)
        cfg_fail(f, key, "expected a reactive service with \"lang\": \"c\", found standalone");
    char tkey[320];
    snprintf(tkey, sizeof tkey, "%s.request_target", key);
    if (svc->standalone && svc->target) {
        cfg_warn(f, tkey, "a standalone service has no target, ignored");
        free(svc->target);
        svc->target = NULL;
    } else if (!svc->standalone && !svc->target) {
        cfg_fail(f, tkey, "expected a path starting with '/', found nothing");
    } else if (!svc->standalone && svc->target[0] != '/') {
        cfg_fail(f, tkey, "expected a path starting with '/', found \"%s\"", svc->target);
    }
}

static struct cfg_service *
find(struct lapps_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_svc; i++)
        if (strcmp(cfg->svc[i].name, name) == 0)
            return &cfg->svc[i];
    return NULL;
}

/* Depth-first: dependencies are appended before their dependents. state: 0 unseen,
 * 1 on the current path, 2 placed. On a cycle, @p trail names it. */
static bool
visit(struct cfg_file *f, struct lapps_config *cfg, size_t i, unsigned char *state, size_t *path,
      size_t depth)
{
    if (state[i] == 2)
        return true;
    path[depth] = i;
    if (state[i] == 1) {
        char trail[1024] = "";
        size_t k = 0;
        while (path[k] != i)
            k++;
        for (; k <= depth; k++) {
            size_t n = strlen(trail);
            snprintf(trail + n, sizeof trail - n, "%s%s", n ? " -> " : "", cfg->svc[path[k]].name);
        }
        char key[300];
        snprintf(key, sizeof key, "services.%s.depends", cfg->svc[i].name);
        cfg_fail(f, key, "expected no cycle, found %s", trail);
        return false;
    }
    state[i] = 1;
    struct cfg_service *s = &cfg->svc[i];
    s->start = true;
    for (char **d = s->depends; d && *d; d++) {
        struct cfg_service *dep = find(cfg, *d);
        if (dep && !visit(f, cfg, (size_t)(dep - cfg->svc), state, path, depth + 1))
            return false;
    }
    state[i] = 2;
    cfg->order[cfg->n_order++] = i;
    return true;
}

static void
order(struct cfg_file *f, struct lapps_config *cfg)
{
    unsigned char *state = calloc(cfg->n_svc + 1, 1);
    size_t *path = calloc(cfg->n_svc + 1, sizeof *path);
    cfg->order = calloc(cfg->n_svc + 1, sizeof *cfg->order);
    if (!state || !path || !cfg->order) {
        cfg_fail(f, "", "out of memory");
    } else {
        for (size_t i = 0; i < cfg->n_svc; i++)
            for (char **d = cfg->svc[i].depends; d && *d; d++)
                if (!find(cfg, *d)) {
                    char key[300];
                    snprintf(key, sizeof key, "services.%s.depends", cfg->svc[i].name);
                    cfg_warn(f, key, "no service \"%s\", ignored (as LAppS did)", *d);
                }
        /* Cycles are errors among every service, started or not. */
        for (size_t i = 0; i < cfg->n_svc && !f->failed; i++)
            visit(f, cfg, i, state, path, 0);
        /* The services that start: auto_start ones and what they depend on. */
        memset(state, 0, cfg->n_svc + 1);
        cfg->n_order = 0;
        for (size_t i = 0; i < cfg->n_svc; i++)
            cfg->svc[i].start = false;
        for (size_t i = 0; i < cfg->n_svc && !f->failed; i++)
            if (cfg->svc[i].auto_start)
                visit(f, cfg, i, state, path, 0);
    }
    free(state);
    free(path);
}

void
lapps__config_services(struct cfg_file *f, json_t *root, struct lapps_config *cfg,
                       const char *apps_base)
{
    if (!json_is_object(root)) {
        cfg_expected(f, "", root, "an object");
        return;
    }
    cfg_keys(f, root, "", top_known, NULL);
    json_t *d = cfg_object(f, root, "", "directories");
    char *apps = NULL;
    if (d) {
        cfg_keys(f, d, "directories", dirs_known, dirs_noted);
        cfg_string(f, d, "directories", "applications", 4095, &apps);
    }
    cfg->apps_dir = lapps__config_path(apps_base, apps ? apps : "apps");
    free(apps);
    if (!cfg->apps_dir) {
        cfg_fail(f, "", "out of memory");
        return;
    }
    json_t *svcs = cfg_object(f, root, "", "services");
    if (f->failed || !svcs)
        return;
    if (json_object_size(svcs) > CFG_MAX_SERVICES) {
        cfg_fail(f, "services", "expected at most %d services, found %zu", CFG_MAX_SERVICES,
                 json_object_size(svcs));
        return;
    }
    cfg->svc = calloc(json_object_size(svcs) + 1, sizeof *cfg->svc);
    if (!cfg->svc) {
        cfg_fail(f, "", "out of memory");
        return;
    }
    const char *name;
    json_t *s;
    json_object_foreach(svcs, name, s)
    {
        read_service(f, name, s, &cfg->svc[cfg->n_svc++], cfg->apps_dir);
        if (f->failed)
            return;
    }
    order(f, cfg);
}
