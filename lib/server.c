/* server.c — the public API: options, service descriptions, the server's life cycle,
 * connection accessors and the cross-thread calls. It wires lib/net/ to the caller. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lapps/acl.h>
#include <lapps/server.h>

#include "net/acl.h"
#include "net/net.h"
#include "util/utf8.h"
#include "ws/close.h"

/* ---- log ---- */

LAPPS_EXPORT void
lapps_log(lapps_server *srv, lapps_log_level level, const char *fmt, ...)
{
    if (!srv || !fmt || !srv->opts.log_fn || level > srv->opts.log_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    srv->opts.log_fn(level, buf, srv->opts.log_user_data);
}

/* ---- options ---- */

LAPPS_EXPORT int
lapps_opts_new(lapps_opts **out)
{
    if (!out)
        return LAPPS_ERR_INVAL;
    lapps_opts *o = calloc(1, sizeof *o);
    if (!o)
        return LAPPS_ERR_NOMEM;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = cpus < 1                          ? 1
                 : cpus > (long)LAPPS__MAX_WORKERS ? LAPPS__MAX_WORKERS
                                                   : (unsigned)cpus;
    o->max_connections = 10000;
    o->max_message = 16u << 20;
    o->max_outbound = 16u << 20;
    o->max_handshake = LAPPS__HS_DEFAULT_MAX_SIZE;
    o->handshake_ms = 5000;
    o->close_ms = 5000;
    o->log_level = LAPPS_LOG_INFO;
    *out = o;
    return 0;
}

LAPPS_EXPORT void
lapps_opts_free(lapps_opts *opts)
{
    if (!opts)
        return;
    for (size_t i = 0; i < opts->n_listeners; i++)
        lapps_tls_free(opts->listeners[i].tls);
    lapps_acl_free(opts->acl);
    free(opts);
}

LAPPS_EXPORT int
lapps_opts_set_workers(lapps_opts *opts, unsigned workers)
{
    if (!opts || workers > LAPPS__MAX_WORKERS)
        return LAPPS_ERR_INVAL;
    opts->workers = workers;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_add_listener(lapps_opts *opts, const char *addr, uint16_t port, const lapps_tls *tls)
{
    if (!opts || !addr || opts->n_listeners == LAPPS__MAX_LISTENERS ||
        (tls && (!tls->chain_file || !tls->key_file)))
        return LAPPS_ERR_INVAL;
    uint8_t tmp[16];
    if (strlen(addr) >= sizeof opts->listeners[0].addr ||
        (inet_pton(AF_INET, addr, tmp) != 1 && inet_pton(AF_INET6, addr, tmp) != 1))
        return LAPPS_ERR_INVAL;
    struct lapps_tls *copy = NULL;
    if (tls && !(copy = lapps__tls_settings_dup(tls)))
        return LAPPS_ERR_NOMEM;
    strcpy(opts->listeners[opts->n_listeners].addr, addr);
    opts->listeners[opts->n_listeners].port = port;
    opts->listeners[opts->n_listeners].tls = copy;
    opts->n_listeners++;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_max_connections(lapps_opts *opts, size_t per_worker)
{
    /* Ids hold 24 bits of slot, and each worker keeps room for twice the limit. */
    if (!opts || per_worker < 1 || per_worker > (LAPPS__ID_SLOT_MASK - 16) / 2)
        return LAPPS_ERR_INVAL;
    opts->max_connections = per_worker;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_max_message_size(lapps_opts *opts, size_t bytes)
{
    if (!opts || bytes < 1)
        return LAPPS_ERR_INVAL;
    opts->max_message = bytes;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_max_outbound(lapps_opts *opts, size_t bytes)
{
    if (!opts || bytes < 1024)
        return LAPPS_ERR_INVAL;
    opts->max_outbound = bytes;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_auto_fragment(lapps_opts *opts, size_t frame_size)
{
    if (!opts || (frame_size && (frame_size < 125 || frame_size > (1u << 20))))
        return LAPPS_ERR_INVAL;
    opts->fragment = frame_size;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_max_handshake_size(lapps_opts *opts, size_t bytes)
{
    if (!opts || bytes < 1024 || bytes > (64u << 10))
        return LAPPS_ERR_INVAL;
    opts->max_handshake = bytes;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_timeouts(lapps_opts *opts, uint32_t handshake_ms, uint32_t close_ms,
                        uint32_t idle_ms, uint32_t ping_ms)
{
    if (!opts || handshake_ms < 1 || close_ms < 1)
        return LAPPS_ERR_INVAL;
    opts->handshake_ms = handshake_ms;
    opts->close_ms = close_ms;
    opts->idle_ms = idle_ms;
    opts->ping_ms = ping_ms;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_log(lapps_opts *opts, lapps_log_fn fn, lapps_log_level level, void *user_data)
{
    if (!opts || level < LAPPS_LOG_ERROR || level > LAPPS_LOG_DEBUG)
        return LAPPS_ERR_INVAL;
    opts->log_fn = fn;
    opts->log_level = level;
    opts->log_user_data = user_data;
    return 0;
}

/* Replaces *@p slot with a merged copy of @p acl (NULL: none); *slot stays on failure. */
static int
set_acl(struct lapps_acl **slot, const lapps_acl *acl)
{
    struct lapps_acl *copy = NULL;
    if (acl && !(copy = lapps__acl_dup(acl)))
        return LAPPS_ERR_NOMEM;
    lapps_acl_free(*slot);
    *slot = copy;
    return 0;
}

LAPPS_EXPORT int
lapps_opts_set_acl(lapps_opts *opts, const lapps_acl *acl)
{
    if (!opts)
        return LAPPS_ERR_INVAL;
    return set_acl(&opts->acl, acl);
}

/* ---- service descriptions ---- */

static void
service_free(struct lapps_service *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->target);
    free(s->hosts);
    lapps_acl_free(s->acl);
    lapps__svc_hs_free(&s->hs);
    free(s);
}

LAPPS_EXPORT int
lapps_service_new(lapps_service **out, const char *name, const char *target)
{
    if (!out || !name || !target || target[0] != '/')
        return LAPPS_ERR_INVAL;
    lapps_service *s = calloc(1, sizeof *s);
    if (!s)
        return LAPPS_ERR_NOMEM;
    s->name = strdup(name);
    s->target = strdup(target);
    if (!s->name || !s->target) {
        service_free(s);
        return LAPPS_ERR_NOMEM;
    }
    s->target_len = strlen(target);
    *out = s;
    return 0;
}

LAPPS_EXPORT void
lapps_service_free(lapps_service *svc)
{
    service_free(svc);
}

LAPPS_EXPORT int
lapps_service_set_protocol(lapps_service *svc, lapps_protocol protocol)
{
    if (!svc || (protocol != LAPPS_PROTO_RAW && protocol != LAPPS_PROTO_LAPPS))
        return LAPPS_ERR_INVAL;
    svc->protocol = protocol;
    return 0;
}

LAPPS_EXPORT int
lapps_service_set_instances(lapps_service *svc, unsigned instances)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    svc->instances = instances;
    return 0;
}

LAPPS_EXPORT int
lapps_service_set_max_message_size(lapps_service *svc, size_t bytes)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    svc->max_message = bytes;
    return 0;
}

LAPPS_EXPORT int
lapps_service_set_callbacks(lapps_service *svc, lapps_on_start_fn on_start,
                            lapps_on_open_fn on_open, lapps_on_message_fn on_message,
                            lapps_on_drain_fn on_drain, lapps_on_close_fn on_close,
                            lapps_on_shutdown_fn on_shutdown)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    svc->on_start = on_start;
    svc->on_open = on_open;
    svc->on_message = on_message;
    svc->on_drain = on_drain;
    svc->on_close = on_close;
    svc->on_shutdown = on_shutdown;
    return 0;
}

LAPPS_EXPORT int
lapps_service_set_on_request(lapps_service *svc, lapps_on_request_fn fn)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    svc->on_request = fn;
    return 0;
}

LAPPS_EXPORT int
lapps_service_set_user_data(lapps_service *svc, void *user_data)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    svc->user_data = user_data;
    return 0;
}

LAPPS_EXPORT int
lapps_service_set_acl(lapps_service *svc, const lapps_acl *acl)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    return set_acl(&svc->acl, acl);
}

LAPPS_EXPORT int
lapps_service_set_cleanup(lapps_service *svc, lapps_cleanup_fn cleanup)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    svc->cleanup = cleanup;
    return 0;
}

/* ---- the server ---- */

LAPPS_EXPORT int
lapps_server_new(lapps_server **out, const lapps_opts *opts)
{
    if (!out || !opts || opts->n_listeners == 0)
        return LAPPS_ERR_INVAL;
    lapps_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return LAPPS_ERR_NOMEM;
    srv->opts = *opts;
    srv->embedded = opts->workers == 0;
    srv->n_workers = srv->embedded ? 1 : opts->workers;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->cond, NULL);
    pthread_mutex_init(&srv->reload_lock, NULL);
    pthread_mutex_init(&srv->task_lock, NULL);
    pthread_cond_init(&srv->task_cond, NULL);
    pthread_mutex_init(&srv->chan_lock, NULL);
    /* The settings stay with the options; the server keeps what it read from them, and
     * a copy of the ACL (lapps_server_free() frees it). */
    for (size_t i = 0; i < opts->n_listeners; i++)
        srv->opts.listeners[i].tls = NULL;
    srv->opts.acl = NULL;
    if (opts->acl && !(srv->opts.acl = lapps__acl_dup(opts->acl))) {
        lapps_server_free(srv);
        return LAPPS_ERR_NOMEM;
    }
    for (size_t i = 0; i < opts->n_listeners; i++) {
        if (!opts->listeners[i].tls)
            continue;
        char why[512];
        int rv = lapps__tls_ctx_new(&srv->tls[i], opts->listeners[i].tls, why, sizeof why);
        if (rv != 0) {
            lapps_log(srv, LAPPS_LOG_ERROR, "listener %s:%u: %s", opts->listeners[i].addr,
                      opts->listeners[i].port, why);
            lapps_server_free(srv);
            return rv;
        }
    }
    for (size_t i = 0; i < opts->n_listeners; i++) {
        int rv =
            lapps__listen_probe(opts->listeners[i].addr, opts->listeners[i].port, &srv->ports[i]);
        if (rv != 0) {
            lapps_server_free(srv);
            return rv;
        }
    }
    *out = srv;
    return 0;
}

LAPPS_EXPORT int
lapps_service_register(lapps_server *srv, const lapps_service *svc)
{
    if (!srv || !svc)
        return LAPPS_ERR_INVAL;
    if (atomic_load(&srv->state) != SRV_NEW || srv->workers)
        return LAPPS_ERR_STATE;
    for (size_t i = 0; i < srv->n_services; i++)
        if (strcmp(srv->services[i]->target, svc->target) == 0)
            return LAPPS_ERR_INVAL;
    struct lapps_service **list = realloc(srv->services, (srv->n_services + 1) * sizeof *list);
    if (!list)
        return LAPPS_ERR_NOMEM;
    srv->services = list;
    struct lapps_service *s;
    int rv = lapps_service_new(&s, svc->name, svc->target);
    if (rv != 0)
        return rv;
    char *name = s->name, *target = s->target;
    *s = *svc;
    s->name = name;
    s->target = target;
    /* What the description owns stays with it: the server's copy gets its own. */
    s->hosts = NULL;
    s->acl = NULL;
    memset(&s->hs, 0, sizeof s->hs);
    s->owner = srv;
    if (svc->acl && !(s->acl = lapps__acl_dup(svc->acl))) {
        service_free(s);
        return LAPPS_ERR_NOMEM;
    }
    if ((rv = lapps__svc_hs_copy(&s->hs, &svc->hs)) != 0) {
        service_free(s);
        return rv;
    }
    s->target_len = strlen(target);
    s->index = srv->n_services;
    atomic_init(&s->next_host, 0);
    /* Instances go to consecutive workers, the first service starting at worker 0, the
     * next after where the previous ended, so that small services spread out. */
    unsigned n = s->instances == 0 || s->instances > srv->n_workers ? srv->n_workers : s->instances;
    if (s->instances > srv->n_workers)
        lapps_log(srv, LAPPS_LOG_INFO, "service %s: %u instances asked, %u workers: %u", s->name,
                  s->instances, srv->n_workers, n);
    s->hosts = malloc(n * sizeof *s->hosts);
    if (!s->hosts) {
        service_free(s);
        return LAPPS_ERR_NOMEM;
    }
    unsigned first = 0;
    for (size_t i = 0; i < srv->n_services; i++)
        first += srv->services[i]->n_hosts;
    for (unsigned h = 0; h < n; h++)
        s->hosts[h] = (first + h) % srv->n_workers;
    s->n_hosts = n;
    srv->services[srv->n_services++] = s;
    return 0;
}

LAPPS_EXPORT lapps_service *
lapps_server_service(lapps_server *srv, const char *name)
{
    for (size_t i = 0; srv && name && i < srv->n_services; i++)
        if (strcmp(srv->services[i]->name, name) == 0)
            return srv->services[i];
    return NULL;
}

LAPPS_EXPORT uint16_t
lapps_server_port(const lapps_server *srv, size_t index)
{
    if (!srv || index >= srv->opts.n_listeners)
        return 0;
    return srv->ports[index];
}

static void
join_workers(lapps_server *srv)
{
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        if (srv->workers[i].has_thread) {
            pthread_join(srv->workers[i].thread, NULL);
            srv->workers[i].has_thread = false;
        }
}

LAPPS_EXPORT int
lapps_server_start(lapps_server *srv)
{
    if (!srv)
        return LAPPS_ERR_INVAL;
    int expect = SRV_NEW;
    if (!atomic_compare_exchange_strong(&srv->state, &expect, SRV_RUNNING))
        return LAPPS_ERR_STATE;
    srv->workers = calloc(srv->n_workers, sizeof *srv->workers);
    if (!srv->workers)
        return LAPPS_ERR_NOMEM;
    int rv = 0;
    for (unsigned i = 0; i < srv->n_workers && rv == 0; i++)
        rv = lapps__worker_init(&srv->workers[i], srv, i);
    if (rv == 0 && srv->embedded) {
        rv = lapps__worker_start_instances(&srv->workers[0]);
    } else if (rv == 0) {
        for (unsigned i = 0; i < srv->n_workers; i++) {
            int e =
                pthread_create(&srv->workers[i].thread, NULL, lapps__worker_main, &srv->workers[i]);
            if (e != 0) {
                /* Threads already made wait for the missing ones: count it as started
                 * with an error so they give up. */
                pthread_mutex_lock(&srv->lock);
                if (!srv->start_error)
                    srv->start_error = -e;
                srv->started_workers += srv->n_workers - i;
                pthread_cond_broadcast(&srv->cond);
                pthread_mutex_unlock(&srv->lock);
                break;
            }
            srv->workers[i].has_thread = true;
        }
        pthread_mutex_lock(&srv->lock);
        while (srv->started_workers < srv->n_workers)
            pthread_cond_wait(&srv->cond, &srv->lock);
        rv = srv->start_error;
        pthread_mutex_unlock(&srv->lock);
    }
    /* Standalone services start once every worker serves, so they can reach them. */
    if (rv == 0 && (rv = lapps__tasks_start(srv)) != 0) {
        lapps_server_stop(srv);
        if (srv->embedded)
            while (lapps_server_dispatch(srv) == 0)
                lapps__worker_loop_once(&srv->workers[0], 10);
    }
    if (rv != 0) {
        lapps__tasks_join(srv);
        join_workers(srv);
        atomic_store(&srv->state, SRV_STOPPED);
    }
    return rv;
}

LAPPS_EXPORT int
lapps_server_stop(lapps_server *srv)
{
    if (!srv)
        return LAPPS_ERR_INVAL;
    int expect = SRV_RUNNING;
    if (atomic_compare_exchange_strong(&srv->state, &expect, SRV_STOPPING)) {
        lapps__tasks_stop(srv);
        for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
            lapps__worker_wake(&srv->workers[i]);
    }
    return 0;
}

LAPPS_EXPORT int
lapps_server_run(lapps_server *srv)
{
    if (!srv)
        return LAPPS_ERR_INVAL;
    if (srv->embedded)
        return LAPPS_ERR_STATE;
    int rv = lapps_server_start(srv);
    if (rv != 0)
        return rv;
    join_workers(srv);
    lapps__tasks_join(srv);
    atomic_store(&srv->state, SRV_STOPPED);
    return 0;
}

LAPPS_EXPORT void
lapps_server_free(lapps_server *srv)
{
    if (!srv)
        return;
    if (srv->embedded && srv->workers && atomic_load(&srv->state) != SRV_STOPPED) {
        /* The host stopped dispatching: finish the graceful stop here. */
        lapps_server_stop(srv);
        while (lapps_server_dispatch(srv) == 0)
            lapps__worker_loop_once(&srv->workers[0], 10);
    }
    lapps_server_stop(srv);
    join_workers(srv);
    lapps__tasks_join(srv);
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++)
        lapps__worker_free(&srv->workers[i]);
    free(srv->workers);
    srv->workers = NULL; /* services' cleanups run after this and may post */
    for (size_t i = 0; i < srv->n_services; i++) {
        if (srv->services[i]->cleanup)
            srv->services[i]->cleanup(srv->services[i]->user_data);
        service_free(srv->services[i]);
    }
    free(srv->services);
    lapps__tasks_free(srv);
    lapps__bcast_free(srv); /* after the workers: their connections left every channel */
    for (size_t i = 0; i < LAPPS__MAX_LISTENERS; i++)
        lapps__tls_ctx_free(srv->tls[i]);
    lapps_acl_free(srv->opts.acl);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->reload_lock);
    pthread_mutex_destroy(&srv->task_lock);
    pthread_cond_destroy(&srv->task_cond);
    pthread_mutex_destroy(&srv->chan_lock);
    free(srv);
}

LAPPS_EXPORT int
lapps_server_reload_tls(lapps_server *srv)
{
    if (!srv)
        return LAPPS_ERR_INVAL;
    pthread_mutex_lock(&srv->reload_lock);
    int rv = 0, tls = 0;
    size_t n = srv->opts.n_listeners, i;
    for (i = 0; i < n && rv == 0; i++) {
        tls += srv->tls[i] != NULL;
        char why[512];
        if (srv->tls[i] && (rv = lapps__tls_ctx_prepare(srv->tls[i], why, sizeof why)) != 0)
            lapps_log(srv, LAPPS_LOG_ERROR, "TLS reload, listener %s:%u: %s; nothing changed",
                      srv->opts.listeners[i].addr, srv->ports[i], why);
    }
    /* All listeners change, or none. */
    for (i = 0; i < n; i++) {
        if (!srv->tls[i])
            continue;
        if (rv == 0)
            lapps__tls_ctx_commit(srv->tls[i]);
        else
            lapps__tls_ctx_abort(srv->tls[i]);
    }
    pthread_mutex_unlock(&srv->reload_lock);
    if (rv == 0 && tls)
        lapps_log(srv, LAPPS_LOG_INFO, "TLS certificates reloaded");
    return rv;
}

LAPPS_EXPORT int
lapps_server_get_fd(const lapps_server *srv)
{
    if (!srv || !srv->embedded || !srv->workers)
        return LAPPS_ERR_STATE;
    return srv->workers[0].epfd;
}

LAPPS_EXPORT int
lapps_server_dispatch(lapps_server *srv)
{
    if (!srv || !srv->embedded || !srv->workers)
        return LAPPS_ERR_STATE;
    struct lapps__worker *w = &srv->workers[0];
    if (w->stopped)
        return LAPPS_ERR_STATE;
    lapps__worker_loop_once(w, 0);
    if (w->stopped) {
        atomic_store(&srv->state, SRV_STOPPED);
        return LAPPS_ERR_STATE;
    }
    return 0;
}

LAPPS_EXPORT int
lapps_server_stats(const lapps_server *srv, lapps_stats *out)
{
    /* The first lapps_stats ended with handed_over: callers built against it pass that
     * size and get those fields; each field added since is written only if it fits. */
    const size_t first_size = offsetof(lapps_stats, handed_over) + sizeof out->handed_over;
    if (!srv || !out || out->size < first_size)
        return LAPPS_ERR_INVAL;
    lapps_stats sum;
    memset(&sum, 0, sizeof sum);
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
        const struct lapps__stats *s = &srv->workers[i].stats;
#define SUM(f) sum.f += atomic_load_explicit(&s->f, memory_order_relaxed)
        SUM(connections);
        SUM(accepted);
        SUM(handshakes_failed);
        SUM(messages_in);
        SUM(messages_out);
        SUM(bytes_in);
        SUM(bytes_out);
        SUM(reads);
        SUM(writes);
        SUM(handed_over);
        SUM(acl_refused);
#undef SUM
    }
    size_t n = out->size < sizeof sum ? out->size : sizeof sum;
    memcpy((char *)out + sizeof out->size, (char *)&sum + sizeof sum.size, n - sizeof sum.size);
    return 0;
}

/* ---- instances and connections ---- */

LAPPS_EXPORT unsigned
lapps_instance_worker(const lapps_instance *inst)
{
    return inst->w->index;
}

LAPPS_EXPORT lapps_server *
lapps_instance_server(const lapps_instance *inst)
{
    return inst->w->srv;
}

LAPPS_EXPORT lapps_conn *
lapps_instance_conn(lapps_instance *inst, uint64_t conn_id)
{
    if (!inst || conn_id >> (LAPPS__ID_SLOT_BITS + LAPPS__ID_GEN_BITS) != inst->w->index)
        return NULL;
    struct lapps_conn *c = lapps__conn_by_id(inst->w, conn_id);
    return c && c->inst == inst && c->state == CONN_OPEN ? c : NULL;
}

LAPPS_EXPORT lapps_instance *
lapps_conn_instance(const lapps_conn *conn)
{
    return conn->inst;
}

LAPPS_EXPORT void
lapps_instance_set_data(lapps_instance *inst, void *data)
{
    inst->data = data;
}

LAPPS_EXPORT void *
lapps_instance_get_data(const lapps_instance *inst)
{
    return inst->data;
}

LAPPS_EXPORT int
lapps_conn_send(lapps_conn *conn, lapps_opcode op, const void *data, size_t len)
{
    if (!conn || (op != LAPPS_OP_TEXT && op != LAPPS_OP_BINARY) || (len && !data))
        return LAPPS_ERR_INVAL;
    if (conn->state != CONN_OPEN)
        return LAPPS_ERR_STATE;
    return lapps__out_send(conn, (uint8_t)op, data, len);
}

static int
check_close(uint16_t code, const char *reason, size_t *reason_len)
{
    *reason_len = reason ? strlen(reason) : 0;
    if (!lapps__close_code_valid(code))
        return LAPPS_ERR_INVAL;
    uint32_t st = LAPPS__UTF8_ACCEPT;
    if (*reason_len && (lapps__utf8_validate(&st, (const uint8_t *)reason, *reason_len) != 0 ||
                        !lapps__utf8_complete(st)))
        return LAPPS_ERR_INVAL;
    return 0;
}

LAPPS_EXPORT int
lapps_conn_close(lapps_conn *conn, uint16_t code, const char *reason)
{
    size_t rlen;
    if (!conn || check_close(code, reason, &rlen) != 0)
        return LAPPS_ERR_INVAL;
    if (conn->state != CONN_OPEN)
        return LAPPS_ERR_STATE;
    lapps__conn_begin_close(conn, code, reason, rlen, LAPPS_CLOSED_BY_SERVICE);
    return 0;
}

LAPPS_EXPORT uint64_t
lapps_conn_id(const lapps_conn *conn)
{
    return (uint64_t)conn->w->index << (LAPPS__ID_SLOT_BITS + LAPPS__ID_GEN_BITS) |
           (uint64_t)conn->slot << LAPPS__ID_GEN_BITS | conn->gen;
}

LAPPS_EXPORT unsigned
lapps_conn_worker(const lapps_conn *conn)
{
    return conn->w->index;
}

LAPPS_EXPORT int
lapps_conn_is_tls(const lapps_conn *conn)
{
    return conn->tls != NULL;
}

LAPPS_EXPORT int
lapps_conn_peer(const lapps_conn *conn, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    int n;
    if (!conn || !buf || getpeername(conn->fd, (struct sockaddr *)&ss, &len) != 0)
        return LAPPS_ERR_STATE;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        n = snprintf(buf, size, "%s:%u", host, ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        n = snprintf(buf, size, "[%s]:%u", host, ntohs(a->sin6_port));
    }
    return n < 0 || (size_t)n >= size ? LAPPS_ERR_NOSPACE : n;
}

LAPPS_EXPORT const char *
lapps_conn_query(const lapps_conn *conn)
{
    return conn->query ? conn->query : "";
}

LAPPS_EXPORT size_t
lapps_conn_buffered(const lapps_conn *conn)
{
    return conn->out_bytes + (conn->w->cork_conn == conn ? conn->w->cork_total : 0);
}

LAPPS_EXPORT void
lapps_conn_set_user_data(lapps_conn *conn, void *data)
{
    conn->user_data = data;
}

LAPPS_EXPORT void *
lapps_conn_get_user_data(const lapps_conn *conn)
{
    return conn->user_data;
}

/* ---- any thread ---- */

struct lapps__worker *
lapps__worker_of(struct lapps_server *srv, uint64_t id)
{
    unsigned wi = (unsigned)(id >> (LAPPS__ID_SLOT_BITS + LAPPS__ID_GEN_BITS));
    if (!srv->workers || wi >= srv->n_workers || id >> 46)
        return NULL;
    struct lapps__worker *w = &srv->workers[wi];
    uint32_t slot = (uint32_t)(id >> LAPPS__ID_GEN_BITS) & LAPPS__ID_SLOT_MASK;
    if (slot >= w->n_slots)
        return NULL;
    uint32_t live = atomic_load_explicit(&w->slot_live[slot], memory_order_acquire);
    if (live != ((uint32_t)(id & LAPPS__ID_GEN_MASK) << 1 | 1))
        return NULL;
    return w;
}

int
lapps__post_to(struct lapps_server *srv, uint64_t id, uint8_t kind, uint8_t op, uint16_t code,
               uint64_t seq, const void *data, size_t len)
{
    struct lapps__worker *w = lapps__worker_of(srv, id);
    if (!w)
        return LAPPS_ERR_NOT_FOUND;
    struct lapps__post *p = malloc(sizeof *p + len);
    if (!p)
        return LAPPS_ERR_NOMEM;
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->opcode = op;
    p->code = code;
    p->id = id;
    p->seq = seq;
    p->len = len;
    if (len)
        memcpy(p->data, data, len);
    int rv = lapps__worker_post(w, p);
    if (rv != 0)
        free(p);
    return rv;
}

LAPPS_EXPORT int
lapps_send(lapps_server *srv, uint64_t conn_id, lapps_opcode op, const void *data, size_t len)
{
    if (!srv || (op != LAPPS_OP_TEXT && op != LAPPS_OP_BINARY) || (len && !data))
        return LAPPS_ERR_INVAL;
    return lapps__post_to(srv, conn_id, POST_SEND, (uint8_t)op, 0, 0, data, len);
}

LAPPS_EXPORT int
lapps_close(lapps_server *srv, uint64_t conn_id, uint16_t code, const char *reason)
{
    size_t rlen;
    if (!srv || check_close(code, reason, &rlen) != 0)
        return LAPPS_ERR_INVAL;
    /* Longer reasons are cut on a character boundary when the frame is built. */
    return lapps__post_to(srv, conn_id, POST_CLOSE, 0, code, 0, reason, rlen > 127 ? 127 : rlen);
}
