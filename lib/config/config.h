/* config.h — what lib/config reads from ws.json and lapps.json (the public face is
 * lapps/config.h): the values, checked, with the defaults filled in. */
#ifndef LAPPS_CONFIG_CONFIG_H
#define LAPPS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <lapps/config.h>
#include <lapps/protocol.h>

#include "config/check.h"

#define CFG_MAX_LISTEN   16
#define CFG_MAX_SERVICES 256

/* An access list as written: {policy, exclude}. */
struct cfg_acl {
    bool set, deny;
    char **exclude;
};

struct cfg_service {
    char *name;
    bool standalone, auto_start, isolated, native;
    long long instances; /* 0: every worker */
    char *target;
    lapps_protocol protocol;
    long long max_message; /* 0: the server's */
    struct cfg_acl acl;
    char **preload, **depends, **origins;
    char **headers; /* name, value, name, value, ..., NULL */
    char *proto_alias;
    char *library, *symbol; /* native services */
    char *dir;              /* <applications>/<name> */
    bool start;             /* auto_start, or a started service depends on it */
};

struct lapps_config {
    char *ws_path, *lapps_path, *home;
    bool ws_read, lapps_read; /* the files were there (and parsed) */
    long long workers;        /* 0: the library's default (one per CPU) */
    long long max_connections;
    size_t fragment; /* workers.auto_fragment: the outbound frame size, 0 off */
    struct {
        char *ip;
        long long port;
        bool tls;
    } listen[CFG_MAX_LISTEN];
    size_t n_listen;
    char *cert, *key;
    struct cfg_acl acl;
    long long max_message, handshake_ms, close_ms, idle_ms, ping_ms, max_outbound, max_handshake;
    lapps_log_level log_level;
    char *log_file;
    long long stats_interval;
    char *apps_dir;
    struct cfg_service *svc;
    size_t n_svc;
    size_t *order; /* the services that start, dependencies first */
    size_t n_order;
};

/* ws.json (server.c) and lapps.json (services.c): read @p root of file @p f into cfg. */
void lapps__config_server(struct cfg_file *f, json_t *root, struct lapps_config *cfg);
void lapps__config_services(struct cfg_file *f, json_t *root, struct lapps_config *cfg,
                            const char *apps_base);
void lapps__config_acl(struct cfg_file *f, json_t *obj, const char *parent, struct cfg_acl *acl);
void lapps__config_acl_free(struct cfg_acl *acl);
/* admission.c: the server ACL into @p opts; a registered service's ACL, origins, extra
 * headers and proto alias. On a refusal, @p err names the key. */
int lapps__config_apply_acl(const struct lapps_config *cfg, lapps_opts *opts, char *err,
                            size_t errlen);
int lapps__config_admission(const struct lapps_config *cfg, const struct cfg_service *s,
                            lapps_server *srv, char *err, size_t errlen);
/* A path as written in a file: absolute, or relative to @p base. NULL when out of memory. */
char *lapps__config_path(const char *base, const char *path);

#endif /* LAPPS_CONFIG_CONFIG_H */
