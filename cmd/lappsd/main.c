/* lappsd — the liblapps server. With no arguments it serves the built-in echo service
 * at ws://127.0.0.1:5083/echo and the LAppS-protocol echo_lapps at /echo_lapps. `-c DIR` reads
 * DIR/ws.json (LAppS's server file): `ip`, `port`, `workers.workers`, `tls` and
 * `tls_certificates.cert/key` for now, and DIR/lapps.json's Lua services (which then
 * replace the built-in ones); the full configuration comes later. SIGINT, SIGTERM and
 * SIGQUIT stop it gracefully, SIGHUP reloads the TLS certificates; signals are taken synchronously
 * by the main thread (sigwaitinfo), so the reload runs outside any signal handler. SIGPIPE cannot
 * happen (the library sends with MSG_NOSIGNAL); log lines go to stderr. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lapps/lapps.h>

struct config {
    char ip[64];
    int port;
    int workers; /* -1: one per CPU */
    bool tls;
    char cert[4096], key[4096];
};

static void
log_line(lapps_log_level level, const char *msg, void *user_data)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    (void)user_data;
    time_t t = time(NULL);
    struct tm tm;
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
    fprintf(stderr, "%s lappsd %s: %s\n", when, names[level], msg);
}

static int
echo(lapps_conn *conn, const lapps_message *msg, void *user_data)
{
    (void)user_data;
    return lapps_conn_send(conn, msg->opcode, msg->data, msg->len) == 0 ? 0 : -1;
}

/* echo_lapps, as in LAppS: every request is answered with its own params. */
static void
echo_lapps(lapps_conn *conn, lapps_request *req, void *user_data)
{
    (void)conn;
    (void)user_data;
    if (lapps_request_cid(req) == 0)
        lapps_reply_result(req, lapps_request_params(req));
}

/* Reads DIR/ws.json over the defaults; a missing file keeps them. Returns 0, or 2 after
 * saying what is wrong. */
static int
read_config(const char *dir, struct config *cfg)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ws.json", dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "lappsd: %s not found: using the defaults\n", path);
        return 0;
    }
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "lappsd: %s:%d: %s\n", path, err.line,
                root ? "expected an object" : err.text);
        json_decref(root);
        return 2;
    }
    json_t *ip = json_object_get(root, "ip"), *port = json_object_get(root, "port");
    json_t *workers = json_object_get(json_object_get(root, "workers"), "workers");
    int rv = 0;
    if (ip && (!json_is_string(ip) || strlen(json_string_value(ip)) >= sizeof cfg->ip)) {
        fprintf(stderr, "lappsd: %s: ip: expected an address string\n", path);
        rv = 2;
    } else if (ip) {
        strcpy(cfg->ip, json_string_value(ip));
    }
    if (port && (!json_is_integer(port) || json_integer_value(port) < 0 ||
                 json_integer_value(port) > 65535)) {
        fprintf(stderr, "lappsd: %s: port: expected an integer 0-65535\n", path);
        rv = 2;
    } else if (port) {
        cfg->port = (int)json_integer_value(port);
    }
    if (workers && (!json_is_integer(workers) || json_integer_value(workers) < 1 ||
                    json_integer_value(workers) > 256)) {
        fprintf(stderr, "lappsd: %s: workers.workers: expected an integer 1-256\n", path);
        rv = 2;
    } else if (workers) {
        cfg->workers = (int)json_integer_value(workers);
    }
    json_t *tls = json_object_get(root, "tls"), *certs = json_object_get(root, "tls_certificates");
    if (tls && !json_is_boolean(tls)) {
        fprintf(stderr, "lappsd: %s: tls: expected true or false\n", path);
        rv = 2;
    } else if (json_is_true(tls)) {
        cfg->tls = true;
        json_t *cert = json_object_get(certs, "cert"), *key = json_object_get(certs, "key");
        if (!json_is_string(cert) || !json_is_string(key) ||
            strlen(json_string_value(cert)) >= sizeof cfg->cert ||
            strlen(json_string_value(key)) >= sizeof cfg->key) {
            fprintf(stderr, "lappsd: %s: tls_certificates: expected file names cert and key\n",
                    path);
            rv = 2;
        } else {
            strcpy(cfg->cert, json_string_value(cert));
            strcpy(cfg->key, json_string_value(key));
        }
        if (json_object_get(certs, "ca"))
            fprintf(stderr,
                    "lappsd: %s: tls_certificates.ca: accepted, not used (the chain "
                    "belongs in cert)\n",
                    path);
    }
    json_decref(root);
    return rv;
}

/* Registers the Lua services of DIR/lapps.json (LAppS's services file): `protocol`,
 * `request_target`, `instances`, `preload`, `max_inbound_message_size`, `auto_start`,
 * `standalone` and `isolated`; the code of service NAME is
 * <applications>/NAME/NAME.lua, where `directories.applications` (default "apps") is
 * relative to $LAPPS_HOME, else to DIR.
 * Every service's directory is on every service's package.path, as in LAppS. Returns
 * the number registered, -1 when there is no lapps.json, or -2 after an error. */
static int
load_services(const char *dir, lapps_server *server)
{
    char path[4096], apps[4096], err[1024];
    snprintf(path, sizeof path, "%s/lapps.json", dir);
    if (access(path, F_OK) != 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr), *svcs = json_object_get(root, "services");
    if (!json_is_object(svcs)) {
        fprintf(stderr, "lappsd: %s:%d: %s\n", path, jerr.line,
                root ? "services: expected "
                       "an object"
                     : jerr.text);
        return (json_decref(root), -2);
    }
    const char *a =
        json_string_value(json_object_get(json_object_get(root, "directories"), "applications"));
    const char *home = getenv("LAPPS_HOME");
    a = a ? a : "apps";
    snprintf(apps, sizeof apps, "%s%s%s",
             a[0] == '/' ? ""
             : home      ? home
                         : dir,
             a[0] == '/' ? "" : "/", a);
    size_t n = json_object_size(svcs), k = 0, count = 0;
    char(*dirs)[4096] = calloc(n + 1, sizeof *dirs);
    const char **path_list = calloc(n + 1, sizeof *path_list);
    const char *name;
    json_t *s;
    int rv = dirs && path_list ? 0 : -1;
    json_object_foreach(svcs, name, s)
    {
        if (rv == 0 &&
            (size_t)snprintf(dirs[k], sizeof dirs[k], "%s/%s", apps, name) >= sizeof dirs[k])
            rv = -1;
        if (rv == 0)
            path_list[k] = dirs[k], k++;
    }
    if (rv != 0)
        fprintf(stderr, "lappsd: %s: out of memory, or a path too long\n", path);
    json_object_foreach(svcs, name, s)
    {
        if (rv != 0)
            break;
        const char *proto = json_string_value(json_object_get(s, "protocol"));
        const char *preload[17] = {0};
        json_t *p;
        size_t i;
        if (json_is_false(json_object_get(s, "auto_start"))) {
            fprintf(stderr, "lappsd: %s: %s: not started (auto_start false)\n", path, name);
            continue;
        }
        json_array_foreach(json_object_get(s, "preload"), i, p)
        {
            if (i < 16) /* more is not a LAppS configuration */
                preload[i] = json_string_value(p);
        }
        lapps_lua_service d = {
            .size = sizeof d,
            .name = name,
            .target = json_string_value(json_object_get(s, "request_target")),
            .path = path_list,
            .protocol = proto && strcmp(proto, "LAppS") == 0 ? LAPPS_PROTO_LAPPS : LAPPS_PROTO_RAW,
            .instances = (unsigned)json_integer_value(json_object_get(s, "instances")),
            .isolated = json_is_true(json_object_get(s, "isolated")),
            .preload = preload,
            .max_message_size =
                (size_t)json_integer_value(json_object_get(s, "max_inbound_message_size")),
            .standalone = json_is_true(json_object_get(s, "standalone")),
        };
        if ((rv = lapps_lua_service_register(server, &d, err, sizeof err)) != 0) {
            fprintf(stderr, "lappsd: %s: services.%s: %s\n", path, name, err);
            break;
        }
        fprintf(stderr, "lappsd: %s%s\n", d.standalone ? name : d.target,
                d.standalone ? " (standalone)"
                : d.protocol ? " (LAppS)"
                             : "");
        count++;
    }
    free(dirs);
    free(path_list);
    json_decref(root);
    return rv ? -2 : (int)count;
}

static int
fail(const char *what, int rv)
{
    fprintf(stderr, "lappsd: %s: %s\n", what, lapps_strerror(rv));
    return rv == LAPPS_ERR_INVAL ? 2 : 1;
}

/* Adds the one listener the configuration names, plain or TLS. */
static int
add_listener(lapps_opts *opts, const struct config *cfg)
{
    if (!cfg->tls)
        return lapps_opts_add_listener(opts, cfg->ip, (uint16_t)cfg->port, NULL);
    lapps_tls *tls;
    int rv = lapps_tls_new(&tls);
    if (rv == 0 && (rv = lapps_tls_set_certificate(tls, cfg->cert, cfg->key)) == 0)
        rv = lapps_opts_add_listener(opts, cfg->ip, (uint16_t)cfg->port, tls);
    lapps_tls_free(tls);
    return rv;
}

int
main(int argc, char **argv)
{
    struct config cfg = {"127.0.0.1", 5083, -1, false, "", ""};
    lapps_server *server;
    const char *conf_dir = NULL;
    int opt, rv;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        if (opt == 'c' && (rv = read_config(optarg, &cfg)) != 0)
            return rv;
        if (opt == 'c')
            conf_dir = optarg;
        if (opt != 'c') {
            fprintf(stderr, "usage: lappsd [-c CONFIG_DIR]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    lapps_opts *opts;
    lapps_service *svc;
    if ((rv = lapps_opts_new(&opts)) != 0)
        return fail("options", rv);
    if ((cfg.workers > 0 && (rv = lapps_opts_set_workers(opts, (unsigned)cfg.workers)) != 0) ||
        (rv = add_listener(opts, &cfg)) != 0 ||
        (rv = lapps_opts_set_log(opts, log_line, LAPPS_LOG_INFO, NULL)) != 0)
        return fail("options", rv);
    if ((rv = lapps_server_new(&server, opts)) != 0)
        return fail(cfg.ip, rv);
    lapps_opts_free(opts);
    int loaded = conf_dir ? load_services(conf_dir, server) : -1;
    if (loaded == -2)
        return (lapps_server_free(server), 2);
    if (loaded < 0 &&
        ((rv = lapps_service_new(&svc, "echo", "/echo")) != 0 ||
         (rv = lapps_service_set_max_message_size(svc, 16u << 20)) != 0 ||
         (rv = lapps_service_set_callbacks(svc, NULL, NULL, echo, NULL, NULL, NULL)) != 0 ||
         (rv = lapps_service_register(server, svc)) != 0))
        return fail("echo service", rv);
    if (loaded < 0)
        lapps_service_free(svc);
    if (loaded < 0 && ((rv = lapps_service_new(&svc, "echo_lapps", "/echo_lapps")) != 0 ||
                       (rv = lapps_service_set_protocol(svc, LAPPS_PROTO_LAPPS)) != 0 ||
                       (rv = lapps_service_set_on_request(svc, echo_lapps)) != 0 ||
                       (rv = lapps_service_register(server, svc)) != 0))
        return fail("echo_lapps service", rv);
    if (loaded < 0)
        lapps_service_free(svc);

    /* Blocked before the workers start, so they inherit the mask and only sigwaitinfo
     * below takes these signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGQUIT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if ((rv = lapps_server_start(server)) != 0) {
        lapps_server_free(server);
        return fail("start", rv);
    }
    fprintf(stderr, "lappsd %s: %s://%s:%u\n", lapps_version(0)->version_str,
            cfg.tls ? "wss" : "ws", cfg.ip, lapps_server_port(server, 0));
    for (;;) {
        int sig = sigwaitinfo(&sigs, NULL);
        if (sig == SIGHUP)
            lapps_server_reload_tls(server); /* logs what it did */
        else if (sig > 0)
            break;
    }
    lapps_server_free(server); /* a graceful stop, then the threads are joined */
    fprintf(stderr, "lappsd: stopped\n");
    return 0;
}
