/* server.c — ws.json, LAppS's server file, over the defaults of doc/configuration.md.
 *
 * LAppS's keys are honoured (ip, port, workers.workers, workers.max_connections, tls,
 * tls_certificates, acl) or accepted and noted when they change nothing here; the new
 * ones are listen (several addresses), limits, log and stats. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

static const char *const top_known[] = {"ip",  "port",   "workers", "tls", "tls_certificates",
                                        "acl", "listen", "limits",  "log", "stats",
                                        NULL};
static const char *const top_noted[] = {
    "listeners",          "connection_weight",  "lapps_config_auto_save",
    "tls_client_version", "tls_server_version", NULL};
static const char *const workers_known[] = {"workers", "max_connections", "auto_fragment", NULL};
static const char *const workers_noted[] = {"max_poll_events", "max_poll_wait_ms",
                                            "max_inbounds_skip", "input_buffer_size", NULL};
static const char *const certs_known[] = {"cert", "key", "ca", NULL};
static const char *const acl_known[] = {"policy", "exclude", NULL};
static const char *const listen_known[] = {"ip", "port", "tls", NULL};
static const char *const limits_known[] = {
    "max_message_size", "handshake_timeout_ms", "close_timeout_ms",   "idle_timeout_ms",
    "ping_interval_ms", "max_outbound_buffer",  "max_handshake_size", NULL};
static const char *const log_known[] = {"level", "file", NULL};
static const char *const stats_known[] = {"interval", NULL};

#define MAX_ACL_ENTRIES 65536

void
lapps__config_acl(struct cfg_file *f, json_t *obj, const char *parent, struct cfg_acl *acl)
{
    char key[256];
    cfg_key(key, sizeof key, parent, "acl");
    json_t *a = cfg_object(f, obj, parent, "acl");
    if (!a)
        return;
    cfg_keys(f, a, key, acl_known, NULL);
    json_t *p = json_object_get(a, "policy");
    const char *s = json_string_value(p);
    if (p && (!s || (strcmp(s, "allow") != 0 && strcmp(s, "deny") != 0))) {
        char pkey[288];
        snprintf(pkey, sizeof pkey, "%s.policy", key);
        cfg_expected(f, pkey, p, "\"allow\" or \"deny\"");
        return;
    }
    acl->set = true;
    acl->deny = s && strcmp(s, "deny") == 0;
    cfg_strings(f, a, key, "exclude", MAX_ACL_ENTRIES, 64, &acl->exclude);
}

void
lapps__config_acl_free(struct cfg_acl *acl)
{
    cfg_free_strings(acl->exclude);
    acl->exclude = NULL;
}

/* An address lappsd can listen on: IPv4 or IPv6, numeric (LAppS's files hold numbers). */
static bool
check_ip(struct cfg_file *f, const char *key, const char *ip)
{
    unsigned char buf[16];
    if (inet_pton(AF_INET, ip, buf) == 1 || inet_pton(AF_INET6, ip, buf) == 1)
        return true;
    cfg_fail(f, key, "expected a numeric IPv4 or IPv6 address, found \"%s\"", ip);
    return false;
}

static void
read_listen(struct cfg_file *f, json_t *root, struct lapps_config *cfg)
{
    json_t *l = json_object_get(root, "listen");
    if (!l) {
        bool tls = false;
        if (!cfg_string(f, root, "", "ip", 63, &cfg->listen[0].ip) ||
            !cfg_int(f, root, "", "port", 0, 65535, &cfg->listen[0].port) ||
            !cfg_bool(f, root, "", "tls", &tls))
            return;
        cfg->listen[0].tls = tls;
        check_ip(f, "ip", cfg->listen[0].ip);
        return;
    }
    if (!json_is_array(l) || json_array_size(l) == 0 || json_array_size(l) > CFG_MAX_LISTEN) {
        _Static_assert(CFG_MAX_LISTEN == 16, "the message says 16");
        cfg_expected(f, "listen", l, "an array of 1 to 16 objects {ip, port, tls}");
        return;
    }
    if (json_object_get(root, "ip") || json_object_get(root, "port"))
        cfg_warn(f, "listen", "replaces ip and port, which are ignored");
    size_t i;
    json_t *item;
    json_array_foreach(l, i, item)
    {
        char key[32];
        snprintf(key, sizeof key, "listen[%zu]", i);
        if (!json_is_object(item)) {
            cfg_expected(f, key, item, "an object {ip, port, tls}");
            return;
        }
        cfg_keys(f, item, key, listen_known, NULL);
        char *ip = strdup(cfg->listen[0].ip ? cfg->listen[0].ip : "127.0.0.1");
        long long port = 5083;
        bool tls = false;
        if (!ip) {
            cfg_fail(f, "", "out of memory");
            return;
        }
        bool ok = cfg_string(f, item, key, "ip", 63, &ip) &&
                  cfg_int(f, item, key, "port", 0, 65535, &port) &&
                  cfg_bool(f, item, key, "tls", &tls);
        char ikey[48];
        snprintf(ikey, sizeof ikey, "%s.ip", key);
        if (ok)
            check_ip(f, ikey, ip);
        free(i == 0 ? cfg->listen[0].ip : NULL);
        cfg->listen[i].ip = ip;
        cfg->listen[i].port = port;
        cfg->listen[i].tls = tls;
        cfg->n_listen = i + 1;
        if (!ok)
            return;
    }
}

static void
read_tls(struct cfg_file *f, json_t *root, struct lapps_config *cfg)
{
    bool any = false;
    for (size_t i = 0; i < cfg->n_listen; i++)
        any = any || cfg->listen[i].tls;
    json_t *c = cfg_object(f, root, "", "tls_certificates");
    if (c) {
        cfg_keys(f, c, "tls_certificates", certs_known, NULL);
        char *cert = NULL, *key = NULL;
        cfg_string(f, c, "tls_certificates", "cert", 4095, &cert);
        cfg_string(f, c, "tls_certificates", "key", 4095, &key);
        if (json_object_get(c, "ca"))
            cfg_warn(f, "tls_certificates.ca",
                     "accepted, not used: the chain belongs in cert (as the server sends it)");
        cfg->cert = cert ? lapps__config_path(cfg->home, cert) : NULL;
        cfg->key = key ? lapps__config_path(cfg->home, key) : NULL;
        free(cert);
        free(key);
    }
    if (any && (!cfg->cert || !cfg->key))
        cfg_fail(f, "tls_certificates",
                 "expected {\"cert\": chain file, \"key\": key file} with tls, found %s",
                 c ? "no cert or no key" : "nothing");
}

static void
read_limits(struct cfg_file *f, json_t *root, struct lapps_config *cfg)
{
    json_t *l = cfg_object(f, root, "", "limits");
    if (!l)
        return;
    const char *p = "limits";
    cfg_keys(f, l, p, limits_known, NULL);
    cfg_int(f, l, p, "max_message_size", 1, 1LL << 32, &cfg->max_message);
    cfg_int(f, l, p, "handshake_timeout_ms", 1, 3600000, &cfg->handshake_ms);
    cfg_int(f, l, p, "close_timeout_ms", 1, 3600000, &cfg->close_ms);
    cfg_int(f, l, p, "idle_timeout_ms", 0, 86400000, &cfg->idle_ms);
    cfg_int(f, l, p, "ping_interval_ms", 0, 86400000, &cfg->ping_ms);
    cfg_int(f, l, p, "max_outbound_buffer", 1024, 1LL << 32, &cfg->max_outbound);
    cfg_int(f, l, p, "max_handshake_size", 1024, 65536, &cfg->max_handshake);
}

static void
read_log(struct cfg_file *f, json_t *root, struct lapps_config *cfg)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    json_t *l = cfg_object(f, root, "", "log");
    if (l) {
        cfg_keys(f, l, "log", log_known, NULL);
        json_t *v = json_object_get(l, "level");
        if (v) {
            const char *s = json_string_value(v);
            int k = 0;
            while (s && k < 4 && strcmp(s, levels[k]) != 0)
                k++;
            if (!s || k == 4) {
                cfg_expected(f, "log.level", v, "\"error\", \"warn\", \"info\" or \"debug\"");
            } else {
                cfg->log_level = (lapps_log_level)k;
            }
        }
        char *file = NULL;
        if (cfg_string(f, l, "log", "file", 4095, &file) && file) {
            cfg->log_file = lapps__config_path(cfg->home, file);
            free(file);
        }
    }
    json_t *s = cfg_object(f, root, "", "stats");
    if (s) {
        cfg_keys(f, s, "stats", stats_known, NULL);
        cfg_int(f, s, "stats", "interval", 0, 86400, &cfg->stats_interval);
    }
}

void
lapps__config_server(struct cfg_file *f, json_t *root, struct lapps_config *cfg)
{
    if (!json_is_object(root)) {
        cfg_expected(f, "", root, "an object");
        return;
    }
    cfg_keys(f, root, "", top_known, top_noted);
    read_listen(f, root, cfg);
    json_t *w = cfg_object(f, root, "", "workers");
    if (w) {
        cfg_keys(f, w, "workers", workers_known, workers_noted);
        bool frag = false;
        cfg_int(f, w, "workers", "workers", 1, 256, &cfg->workers);
        cfg_int(f, w, "workers", "max_connections", 1, 1 << 24, &cfg->max_connections);
        if (cfg_bool(f, w, "workers", "auto_fragment", &frag))
            cfg->fragment = frag ? 1392 : 0; /* LAppS's frame size */
    }
    read_tls(f, root, cfg);
    lapps__config_acl(f, root, "", &cfg->acl);
    read_limits(f, root, cfg);
    read_log(f, root, cfg);
}
