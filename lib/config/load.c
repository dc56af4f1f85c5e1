/* load.c — the public face of lib/config (lapps/config.h): finding the files, loading
 * them over the defaults, and handing the result to the options and the server. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lapps/config.h>
#include <lapps/error.h>
#include <lapps/lua.h>
#include <lapps/task.h>
#include <lapps/tls.h>

#include "config/config.h"

char *
lapps__config_path(const char *base, const char *path)
{
    if (path[0] == '/' || !base)
        return strdup(path);
    char *s = malloc(strlen(base) + strlen(path) + 2);
    if (s)
        sprintf(s, "%s/%s", base, path);
    return s;
}

static const char *
pick(const char *given, const char *env, const char *fallback)
{
    const char *e = env ? getenv(env) : NULL;
    return given ? given : e && *e ? e : fallback;
}

/* The directory part of @p file ("." when none). */
static char *
dir_of(const char *file)
{
    const char *slash = strrchr(file, '/');
    return slash ? strndup(file, slash == file ? 1 : (size_t)(slash - file)) : strdup(".");
}

/* Loads one file; a missing one is not an error (*root stays NULL). */
static void
load_json(struct cfg_file *f, json_t **root)
{
    if (access(f->path, F_OK) != 0)
        return;
    FILE *in = fopen(f->path, "r");
    struct stat st;
    if (!in || fstat(fileno(in), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(f->err, f->errlen, "%s: cannot read: %s", f->path,
                 in ? "not a regular file" : strerror(errno));
        f->failed = true;
        if (in)
            fclose(in);
        return;
    }
    json_error_t je;
    *root = json_loadf(in, JSON_REJECT_DUPLICATES, &je);
    fclose(in);
    if (!*root) {
        snprintf(f->err, f->errlen, "%s:%d:%d: invalid JSON: %s", f->path, je.line, je.column,
                 je.text);
        f->failed = true;
    }
}

static void
set_defaults(struct lapps_config *cfg)
{
    cfg->listen[0].port = 5083;
    cfg->n_listen = 1;
    cfg->max_connections = 10000;
    cfg->max_message = 16LL << 20;
    cfg->handshake_ms = cfg->close_ms = 5000;
    cfg->max_outbound = 16LL << 20;
    cfg->max_handshake = 8 << 10;
    cfg->log_level = LAPPS_LOG_INFO;
}

LAPPS_EXPORT int
lapps_config_load(lapps_config **out, const lapps_config_paths *paths, char *err, size_t errlen)
{
    if (!out || !paths || paths->size < sizeof *paths || !err || !errlen)
        return LAPPS_ERR_INVAL;
    err[0] = '\0';
    struct lapps_config *cfg = calloc(1, sizeof *cfg);
    char *etc = NULL, *conf = NULL;
    if (!cfg)
        return LAPPS_ERR_NOMEM;
    set_defaults(cfg);
    cfg->home = strdup(pick(paths->home, "LAPPS_HOME", "/opt/lapps"));
    cfg->listen[0].ip = strdup("127.0.0.1");
    etc = cfg->home ? lapps__config_path(cfg->home, "etc/conf") : NULL;
    conf = etc ? strdup(pick(paths->conf_dir, "LAPPS_CONF_DIR", etc)) : NULL;
    if (conf) {
        cfg->ws_path = lapps__config_path(conf, pick(paths->ws_file, "WS_CONFIG", "ws.json"));
        cfg->lapps_path =
            lapps__config_path(conf, pick(paths->lapps_file, "LAPPS_CONFIG", "lapps.json"));
    }
    int rv = 0;
    if (!cfg->ws_path || !cfg->lapps_path || !cfg->listen[0].ip) {
        rv = LAPPS_ERR_NOMEM;
        goto out;
    }
    struct cfg_file f = {cfg->ws_path, err, errlen, false, paths->log_fn, paths->log_user_data};
    json_t *root = NULL;
    load_json(&f, &root);
    if (root)
        lapps__config_server(&f, root, cfg);
    else if (!f.failed)
        cfg_warn(&f, "", "not found: the server's defaults");
    cfg->ws_read = root != NULL;
    json_decref(root);
    if (f.failed) {
        rv = LAPPS_ERR_INVAL;
        goto out;
    }
    /* Without lapps.json, the demo services: their apps sit beside their file. */
    root = NULL;
    f.path = cfg->lapps_path;
    load_json(&f, &root);
    char *base = NULL;
    if (!root && !f.failed && paths->demo_lapps && access(paths->demo_lapps, R_OK) == 0) {
        cfg_warn(&f, "", "not found: serving the demo services of %s", paths->demo_lapps);
        free(cfg->lapps_path);
        cfg->lapps_path = strdup(paths->demo_lapps);
        base = dir_of(paths->demo_lapps);
        if (!cfg->lapps_path || !base) {
            free(base);
            rv = LAPPS_ERR_NOMEM;
            goto out;
        }
        f.path = cfg->lapps_path;
        load_json(&f, &root);
    } else if (!root && !f.failed) {
        cfg_warn(&f, "", "not found: no services");
    }
    if (root)
        lapps__config_services(&f, root, cfg, base ? base : cfg->home);
    free(base);
    cfg->lapps_read = root != NULL;
    json_decref(root);
    if (f.failed)
        rv = LAPPS_ERR_INVAL;
out:
    free(etc);
    free(conf);
    if (rv != 0) {
        if (!err[0])
            snprintf(err, errlen, "out of memory");
        lapps_config_free(cfg);
        return rv;
    }
    *out = cfg;
    return 0;
}

LAPPS_EXPORT int
lapps_config_apply(const lapps_config *cfg, lapps_opts *opts, char *err, size_t errlen)
{
    if (!cfg || !opts || !err || !errlen)
        return LAPPS_ERR_INVAL;
    int rv = 0;
    if (cfg->workers)
        rv = lapps_opts_set_workers(opts, (unsigned)cfg->workers);
    if (rv == 0)
        rv = lapps_opts_set_max_connections(opts, (size_t)cfg->max_connections);
    if (rv == 0)
        rv = lapps_opts_set_max_message_size(opts, (size_t)cfg->max_message);
    if (rv == 0)
        rv = lapps_opts_set_max_outbound(opts, (size_t)cfg->max_outbound);
    if (rv == 0)
        rv = lapps_opts_set_max_handshake_size(opts, (size_t)cfg->max_handshake);
    if (rv == 0)
        rv = lapps_opts_set_auto_fragment(opts, cfg->fragment);
    if (rv == 0)
        rv = lapps_opts_set_timeouts(opts, (uint32_t)cfg->handshake_ms, (uint32_t)cfg->close_ms,
                                     (uint32_t)cfg->idle_ms, (uint32_t)cfg->ping_ms);
    lapps_tls *tls = NULL;
    for (size_t i = 0; rv == 0 && i < cfg->n_listen; i++) {
        if (cfg->listen[i].tls && !tls &&
            ((rv = lapps_tls_new(&tls)) != 0 ||
             (rv = lapps_tls_set_certificate(tls, cfg->cert, cfg->key)) != 0))
            break;
        rv = lapps_opts_add_listener(opts, cfg->listen[i].ip, (uint16_t)cfg->listen[i].port,
                                     cfg->listen[i].tls ? tls : NULL);
    }
    lapps_tls_free(tls);
    if (rv == 0)
        rv = lapps__config_apply_acl(cfg, opts, err, errlen);
    else
        snprintf(err, errlen, "%s: the server's settings: %s", cfg->ws_path, lapps_strerror(rv));
    return rv;
}

/* A Lua service: every configured service's directory is on its package.path, as in
 * LAppS (its apps require modules that sit beside other services). */
static int
register_lua(const struct lapps_config *cfg, const struct cfg_service *s, lapps_server *srv,
             char *err, size_t errlen)
{
    const char **path = calloc(cfg->n_svc + 1, sizeof *path);
    if (!path)
        return LAPPS_ERR_NOMEM;
    path[0] = s->dir;
    for (size_t i = 0, k = 1; i < cfg->n_svc; i++)
        if (&cfg->svc[i] != s)
            path[k++] = cfg->svc[i].dir;
    lapps_lua_service d = {
        .size = sizeof d,
        .name = s->name,
        .target = s->target,
        .path = path,
        .protocol = s->protocol,
        .instances = (unsigned)s->instances,
        .isolated = s->isolated,
        .preload = (const char *const *)s->preload,
        .max_message_size = (size_t)s->max_message,
        .standalone = s->standalone,
    };
    int rv = lapps_lua_service_register(srv, &d, err, errlen);
    free(path);
    return rv;
}

static int
register_native(const struct lapps_config *cfg, const struct cfg_service *s, lapps_server *srv,
                char *err, size_t errlen)
{
    char *lib = lapps__config_path(cfg->home, s->library);
    if (!lib)
        return LAPPS_ERR_NOMEM;
    /* Never closed: the service's callbacks live in it as long as the process. */
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    free(lib);
    lapps_native_init_fn init = h ? (lapps_native_init_fn)(uintptr_t)dlsym(h, s->symbol) : NULL;
    if (!init) {
        snprintf(err, errlen, "%s: services.%s.%s: %s", cfg->lapps_path, s->name,
                 h ? "symbol" : "library", dlerror());
        return LAPPS_ERR_NOT_FOUND;
    }
    lapps_service *svc;
    int rv = lapps_service_new(&svc, s->name, s->target);
    if (rv == 0)
        rv = lapps_service_set_protocol(svc, s->protocol);
    if (rv == 0)
        rv = lapps_service_set_instances(svc, (unsigned)s->instances);
    if (rv == 0 && s->max_message)
        rv = lapps_service_set_max_message_size(svc, (size_t)s->max_message);
    if (rv == 0 && (rv = init(svc, srv)) != 0)
        snprintf(err, errlen, "%s: services.%s: %s() failed: %s", cfg->lapps_path, s->name,
                 s->symbol, lapps_strerror(rv));
    if (rv == 0)
        rv = lapps_service_register(srv, svc);
    lapps_service_free(svc);
    return rv;
}

LAPPS_EXPORT int
lapps_config_register(const lapps_config *cfg, lapps_server *srv, char *err, size_t errlen)
{
    if (!cfg || !srv || !err || !errlen)
        return LAPPS_ERR_INVAL;
    err[0] = '\0';
    int rv = 0;
    for (size_t k = 0; rv == 0 && k < cfg->n_order; k++) {
        const struct cfg_service *s = &cfg->svc[cfg->order[k]];
        rv = s->native ? register_native(cfg, s, srv, err, errlen)
                       : register_lua(cfg, s, srv, err, errlen);
        if (rv == 0 && !s->standalone)
            rv = lapps__config_admission(cfg, s, srv, err, errlen);
        if (rv != 0 && !err[0])
            snprintf(err, errlen, "%s: services.%s: %s", cfg->lapps_path, s->name,
                     rv == LAPPS_ERR_INVAL ? "refused (is its request_target taken?)"
                                           : lapps_strerror(rv));
    }
    return rv;
}

LAPPS_EXPORT lapps_log_level
lapps_config_log_level(const lapps_config *cfg)
{
    return cfg ? cfg->log_level : LAPPS_LOG_INFO;
}

LAPPS_EXPORT const char *
lapps_config_log_file(const lapps_config *cfg)
{
    return cfg ? cfg->log_file : NULL;
}

LAPPS_EXPORT unsigned
lapps_config_stats_interval(const lapps_config *cfg)
{
    return cfg ? (unsigned)cfg->stats_interval : 0;
}

LAPPS_EXPORT const char *
lapps_config_listener(const lapps_config *cfg, size_t i, int *tls)
{
    if (!cfg || i >= cfg->n_listen)
        return NULL;
    if (tls)
        *tls = cfg->listen[i].tls;
    return cfg->listen[i].ip;
}

LAPPS_EXPORT const char *
lapps_config_ws_path(const lapps_config *cfg)
{
    return cfg && cfg->ws_read ? cfg->ws_path : NULL;
}

LAPPS_EXPORT const char *
lapps_config_lapps_path(const lapps_config *cfg)
{
    return cfg && cfg->lapps_read ? cfg->lapps_path : NULL;
}

static void
service_free(struct cfg_service *s)
{
    free(s->name);
    free(s->target);
    free(s->dir);
    free(s->proto_alias);
    free(s->library);
    free(s->symbol);
    cfg_free_strings(s->preload);
    cfg_free_strings(s->depends);
    cfg_free_strings(s->origins);
    cfg_free_strings(s->headers);
    lapps__config_acl_free(&s->acl);
}

LAPPS_EXPORT void
lapps_config_free(lapps_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n_svc; i++)
        service_free(&cfg->svc[i]);
    for (size_t i = 0; i < CFG_MAX_LISTEN; i++)
        free(cfg->listen[i].ip);
    free(cfg->svc);
    free(cfg->order);
    free(cfg->ws_path);
    free(cfg->lapps_path);
    free(cfg->home);
    free(cfg->apps_dir);
    free(cfg->cert);
    free(cfg->key);
    free(cfg->log_file);
    lapps__config_acl_free(&cfg->acl);
    free(cfg);
}
