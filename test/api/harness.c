/* harness.c — the API test harness (see harness.h): the counting test service, server
 * set-up and tear-down with the exactly-once checks, child processes with deadlines,
 * and fd counting. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#define CONN_MAGIC 0x4c415050u /* "LAPP" */

struct conn_rec {
    uint32_t magic;
    uint64_t id;
    unsigned produce_left; /* "!cmd:produce": messages still to send */
    unsigned produce_size;
};

static uint8_t flood_buf[1u << 20];

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
api_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the test service ---- */

static void
check_thread(struct api_server *s, unsigned worker)
{
    if (worker >= API_MAX_WORKERS || !atomic_load(&s->worker_known[worker]) ||
        !pthread_equal(s->worker_thread[worker], pthread_self()))
        atomic_fetch_add(&s->c.wrong_thread, 1);
}

static int
svc_start(lapps_instance *inst, void *ud)
{
    struct api_server *s = ud;
    unsigned w = lapps_instance_worker(inst);
    if (w < API_MAX_WORKERS) {
        /* Two services may start instances on one worker: the thread is the same. */
        s->worker_thread[w] = pthread_self();
        atomic_store(&s->worker_known[w], true);
    }
    atomic_fetch_add(&s->c.starts, 1);
    return 0;
}

static void
svc_shutdown(lapps_instance *inst, void *ud)
{
    struct api_server *s = ud;
    check_thread(s, lapps_instance_worker(inst));
    atomic_fetch_add(&s->c.shutdowns, 1);
}

static void
note_send(struct api_server *s, int rv)
{
    if (rv == LAPPS_ERR_LIMIT)
        atomic_fetch_add(&s->c.limit_errors, 1);
    else if (rv != 0)
        atomic_fetch_add(&s->c.send_errors, 1);
}

static void
svc_open(lapps_conn *conn, void *ud)
{
    struct api_server *s = ud;
    unsigned w = lapps_conn_worker(conn);
    check_thread(s, w);
    struct conn_rec *r = malloc(sizeof *r);
    if (r) {
        r->magic = CONN_MAGIC;
        r->id = lapps_conn_id(conn);
        r->produce_left = r->produce_size = 0;
        atomic_fetch_add(&s->c.live_conn_data, 1);
    }
    lapps_conn_set_user_data(conn, r);
    if (w < API_MAX_WORKERS)
        atomic_fetch_add(&s->c.per_worker[w], 1);
    const char *q = lapps_conn_query(conn);
    if (q[0])
        atomic_fetch_add(&s->c.query_seen, 1);
    atomic_fetch_add(lapps_conn_is_tls(conn) ? &s->c.tls_opens : &s->c.plain_opens, 1);
    pthread_mutex_lock(&s->ids_lock);
    if (s->n_ids < API_MAX_IDS)
        s->ids[s->n_ids++] = lapps_conn_id(conn);
    pthread_mutex_unlock(&s->ids_lock);
    int cur = atomic_fetch_add(&s->c.current, 1) + 1;
    int peak = atomic_load(&s->c.peak);
    while (cur > peak && !atomic_compare_exchange_weak(&s->c.peak, &peak, cur))
        ;
    atomic_fetch_add(&s->c.opens, 1);
    /* "?send=N": N messages from on_open; "?close=CODE": close at once. */
    unsigned n;
    if (sscanf(q, "send=%u", &n) == 1) {
        for (unsigned i = 0; i < n; i++) {
            char m[32];
            int k = snprintf(m, sizeof m, "open %u", i);
            note_send(s, lapps_conn_send(conn, LAPPS_OP_TEXT, m, (size_t)k));
        }
    } else if (sscanf(q, "close=%u", &n) == 1) {
        if (lapps_conn_close(conn, (uint16_t)n, "from on_open") != 0)
            atomic_fetch_add(&s->c.send_errors, 1);
    }
}

/* A service that applies backpressure as lapps_conn_buffered() and on_drain invite it
 * to: it sends while no more than half the outbound limit waits, then waits for
 * on_drain. Says "produced" when all were sent. */
static void
produce(struct api_server *s, lapps_conn *conn)
{
    struct conn_rec *r = lapps_conn_get_user_data(conn);
    size_t half = (s->cfg.max_outbound ? s->cfg.max_outbound : 16u << 20) / 2;
    if (!r || !r->produce_left)
        return;
    while (r->produce_left && lapps_conn_buffered(conn) <= half) {
        int rv = lapps_conn_send(conn, LAPPS_OP_BINARY, flood_buf, r->produce_size);
        note_send(s, rv);
        if (rv != 0)
            return;
        r->produce_left--;
    }
    if (!r->produce_left)
        note_send(s, lapps_conn_send(conn, LAPPS_OP_TEXT, "produced", 8));
}

/* "!cmd:..." text messages let a client drive the service. */
static int
command(struct api_server *s, lapps_conn *conn, const char *cmd, size_t len)
{
    char buf[256];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, cmd, len);
    buf[len] = 0;
    unsigned code, n, size;
    char reason[200];
    if (strcmp(buf, "fail") == 0)
        return -1; /* on_message error: the server closes with 1011 */
    if (strcmp(buf, "stop") == 0) {
        lapps_server_stop(s->srv); /* allowed from a callback */
        return 0;
    }
    if (strcmp(buf, "query") == 0) {
        const char *q = lapps_conn_query(conn);
        note_send(s, lapps_conn_send(conn, LAPPS_OP_TEXT, q, strlen(q)));
        return 0;
    }
    if (strcmp(buf, "tls") == 0) {
        const char *t = lapps_conn_is_tls(conn) ? "tls 1" : "tls 0";
        note_send(s, lapps_conn_send(conn, LAPPS_OP_TEXT, t, strlen(t)));
        return 0;
    }
    if (strcmp(buf, "peer") == 0) {
        char peer[64];
        int k = lapps_conn_peer(conn, peer, sizeof peer);
        note_send(s, k < 0 ? k : lapps_conn_send(conn, LAPPS_OP_TEXT, peer, (size_t)k));
        return 0;
    }
    if (sscanf(buf, "produce %u %u", &n, &size) == 2 && size <= sizeof flood_buf) {
        struct conn_rec *r = lapps_conn_get_user_data(conn);
        if (r) {
            r->produce_left = n;
            r->produce_size = size;
            produce(s, conn);
        }
        return 0;
    }
    if (sscanf(buf, "send %u %u", &n, &size) == 2 && size <= sizeof flood_buf) {
        for (unsigned i = 0; i < n; i++)
            note_send(s, lapps_conn_send(conn, LAPPS_OP_BINARY, flood_buf, size));
        return 0;
    }
    reason[0] = 0;
    if (sscanf(buf, "close %u %199[^\n]", &code, reason) >= 1) {
        int rv = lapps_conn_close(conn, (uint16_t)code, reason[0] ? reason : NULL);
        if (rv == 0) {
            /* Once closing, a second close and any send are refused. */
            if (lapps_conn_close(conn, 1000, NULL) != LAPPS_ERR_STATE ||
                lapps_conn_send(conn, LAPPS_OP_TEXT, "late", 4) != LAPPS_ERR_STATE)
                atomic_fetch_add(&s->c.send_errors, 1);
        } else {
            /* An invalid code is refused and the connection goes on: say so. */
            char ack[64];
            int k = snprintf(ack, sizeof ack, "close refused %d", rv);
            note_send(s, lapps_conn_send(conn, LAPPS_OP_TEXT, ack, (size_t)k));
        }
        return 0;
    }
    return 0;
}

static int
svc_message(lapps_conn *conn, const lapps_message *msg, void *ud)
{
    struct api_server *s = ud;
    check_thread(s, lapps_conn_worker(conn));
    atomic_fetch_add(&s->c.messages, 1);
    if (s->cfg.mode == API_FLOOD) {
        size_t size = s->cfg.flood_size;
        int rv = lapps_conn_send(conn, LAPPS_OP_BINARY, flood_buf, size);
        note_send(s, rv);
        if (rv == 0) {
            size_t b = lapps_conn_buffered(conn);
            size_t m = atomic_load(&s->c.max_buffered);
            while (b > m && !atomic_compare_exchange_weak(&s->c.max_buffered, &m, b))
                ;
        }
        return 0;
    }
    if (msg->opcode == LAPPS_OP_TEXT && msg->len >= 5 && memcmp(msg->data, "!cmd:", 5) == 0)
        return command(s, conn, (const char *)msg->data + 5, msg->len - 5);
    note_send(s, lapps_conn_send(conn, msg->opcode, msg->data, msg->len));
    return 0;
}

static void
svc_drain(lapps_conn *conn, void *ud)
{
    struct api_server *s = ud;
    check_thread(s, lapps_conn_worker(conn));
    atomic_fetch_add(&s->c.drains, 1);
    produce(s, conn);
}

static void
svc_close(lapps_conn *conn, const lapps_close_info *info, void *ud)
{
    struct api_server *s = ud;
    check_thread(s, lapps_conn_worker(conn));
    struct conn_rec *r = lapps_conn_get_user_data(conn);
    if (!r || r->magic != CONN_MAGIC || r->id != lapps_conn_id(conn)) {
        atomic_fetch_add(&s->c.bad_close, 1);
    } else {
        r->magic = 0;
        free(r);
        atomic_fetch_sub(&s->c.live_conn_data, 1);
    }
    lapps_conn_set_user_data(conn, NULL);
    if ((unsigned)info->reason < 8)
        atomic_fetch_add(&s->c.reasons[info->reason], 1);
    atomic_fetch_add(&s->c.codes[info->code > 5000 ? 5000 : info->code], 1);
    atomic_store(&s->c.last_reason, (int)info->reason);
    atomic_store(&s->c.last_code, (int)info->code);
    atomic_fetch_sub(&s->c.current, 1);
    atomic_fetch_add(&s->c.closes, 1);
}

static void
log_line(lapps_log_level level, const char *msg, void *user_data)
{
    struct api_server *s = user_data;
    if (level <= LAPPS_LOG_WARN || getenv("LAPPS_API_VERBOSE"))
        fprintf(stderr, "lapps[%d]: %s\n", (int)level, msg);
    if (level != LAPPS_LOG_ERROR)
        return;
    atomic_fetch_add(&s->c.log_errors, 1);
    pthread_mutex_lock(&s->log_lock);
    size_t room = sizeof s->errlog - s->errlog_len;
    int k = snprintf(s->errlog + s->errlog_len, room, "%s\n", msg);
    if (k > 0 && (size_t)k < room)
        s->errlog_len += (size_t)k;
    pthread_mutex_unlock(&s->log_lock);
}

/* ---- the server ---- */

static unsigned
hosts_of(unsigned workers, unsigned instances)
{
    unsigned n = workers ? workers : 1;
    return instances == 0 || instances > n ? n : instances;
}

static void
server_new(struct api_server *s, const struct api_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    pthread_mutex_init(&s->ids_lock, NULL);
    pthread_mutex_init(&s->log_lock, NULL);
    memset(flood_buf, 'F', sizeof flood_buf);
    lapps_opts *o;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, cfg->workers), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    if (cfg->tls_cert) {
        lapps_tls *t;
        cr_assert_eq(lapps_tls_new(&t), 0);
        cr_assert_eq(lapps_tls_set_certificate(t, cfg->tls_cert, cfg->tls_key), 0);
        if (cfg->tls_client_ca)
            cr_assert_eq(lapps_tls_set_client_ca(t, cfg->tls_client_ca, cfg->tls_verify), 0);
        if (cfg->tls_min_version)
            cr_assert_eq(lapps_tls_set_min_version(t, cfg->tls_min_version), 0);
        if (cfg->tls_ciphers12 || cfg->tls_ciphers13)
            cr_assert_eq(lapps_tls_set_ciphers(t, cfg->tls_ciphers12, cfg->tls_ciphers13), 0);
        cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, t), 0);
        lapps_tls_free(t); /* the listener has its own copy */
    }
    if (cfg->ipv6)
        cr_assert_eq(lapps_opts_add_listener(o, "::1", 0, NULL), 0);
    if (cfg->acl)
        cr_assert_eq(lapps_opts_set_acl(o, cfg->acl), 0);
    if (cfg->max_connections)
        cr_assert_eq(lapps_opts_set_max_connections(o, cfg->max_connections), 0);
    if (cfg->max_message)
        cr_assert_eq(lapps_opts_set_max_message_size(o, cfg->max_message), 0);
    if (cfg->max_outbound)
        cr_assert_eq(lapps_opts_set_max_outbound(o, cfg->max_outbound), 0);
    if (cfg->max_handshake)
        cr_assert_eq(lapps_opts_set_max_handshake_size(o, cfg->max_handshake), 0);
    cr_assert_eq(lapps_opts_set_timeouts(o, cfg->handshake_ms ? cfg->handshake_ms : 5000,
                                         cfg->close_ms ? cfg->close_ms : 5000, cfg->idle_ms,
                                         cfg->ping_ms),
                 0);
    cr_assert_eq(lapps_opts_set_log(o, log_line, LAPPS_LOG_DEBUG, s), 0);
    int rv = lapps_server_new(&s->srv, o);
    lapps_opts_free(o);
    cr_assert_eq(rv, 0, "lapps_server_new: %s", lapps_strerror(rv));

    lapps_service *svc;
    cr_assert_eq(lapps_service_new(&svc, "test", "/echo"), 0);
    cr_assert_eq(lapps_service_set_instances(svc, cfg->instances), 0);
    cr_assert_eq(lapps_service_set_callbacks(svc, svc_start, svc_open, svc_message, svc_drain,
                                             svc_close, svc_shutdown),
                 0);
    cr_assert_eq(lapps_service_set_user_data(svc, s), 0);
    if (cfg->service_acl)
        cr_assert_eq(lapps_service_set_acl(svc, cfg->service_acl), 0);
    cr_assert_eq(lapps_service_register(s->srv, svc), 0);
    lapps_service_free(svc);
    /* A second service with its own 1 KiB message limit, on every worker. */
    cr_assert_eq(lapps_service_new(&svc, "small", "/small"), 0);
    cr_assert_eq(lapps_service_set_max_message_size(svc, 1024), 0);
    cr_assert_eq(lapps_service_set_callbacks(svc, svc_start, svc_open, svc_message, svc_drain,
                                             svc_close, svc_shutdown),
                 0);
    cr_assert_eq(lapps_service_set_user_data(svc, s), 0);
    cr_assert_eq(lapps_service_register(s->srv, svc), 0);
    lapps_service_free(svc);

    s->port = lapps_server_port(s->srv, 0);
    cr_assert_neq(s->port, 0);
    snprintf(s->port_str, sizeof s->port_str, "%u", s->port);
    snprintf(s->uri, sizeof s->uri, "ws://127.0.0.1:%u/echo", s->port);
    if (cfg->tls_cert) {
        s->tls_port = lapps_server_port(s->srv, 1);
        cr_assert_neq(s->tls_port, 0);
        cr_assert_neq(s->tls_port, s->port);
        snprintf(s->tls_port_str, sizeof s->tls_port_str, "%u", s->tls_port);
        snprintf(s->tls_uri, sizeof s->tls_uri, "wss://127.0.0.1:%u/echo", s->tls_port);
    }
    size_t n_listeners = 1 + (cfg->tls_cert != NULL);
    if (cfg->ipv6) {
        s->v6_port = lapps_server_port(s->srv, n_listeners++);
        cr_assert_neq(s->v6_port, 0);
        snprintf(s->v6_port_str, sizeof s->v6_port_str, "%u", s->v6_port);
    }
    cr_assert_eq(lapps_server_port(s->srv, n_listeners), 0, "no other listener");
}

static int
expected_starts(const struct api_config *cfg)
{
    return (int)(hosts_of(cfg->workers, cfg->instances) + hosts_of(cfg->workers, 0));
}

void
api_server_start(struct api_server *s, const struct api_config *cfg)
{
    server_new(s, cfg);
    int rv = lapps_server_start(s->srv);
    cr_assert_eq(rv, 0, "lapps_server_start: %s", lapps_strerror(rv));
    cr_assert_eq(lapps_server_start(s->srv), LAPPS_ERR_STATE, "a second start is refused");
    /* Threads say so in on_start; the caller's thread did in embedded mode. */
    cr_assert_eq(api_wait_atleast(&s->c.starts, expected_starts(cfg), 10000), expected_starts(cfg));
    if (cfg->workers == 0)
        cr_assert_geq(lapps_server_get_fd(s->srv), 0);
    else
        cr_assert_eq(lapps_server_get_fd(s->srv), LAPPS_ERR_STATE);
}

static void *
runner(void *arg)
{
    struct api_server *s = arg;
    s->run_rv = lapps_server_run(s->srv);
    atomic_store(&s->run_returned, true);
    return NULL;
}

void
api_server_run_async(struct api_server *s, const struct api_config *cfg)
{
    cr_assert_gt(cfg->workers, 0);
    server_new(s, cfg);
    cr_assert_eq(pthread_create(&s->runner, NULL, runner, s), 0);
    s->has_runner = true;
    cr_assert_eq(api_wait_atleast(&s->c.starts, expected_starts(cfg), 10000), expected_starts(cfg));
}

bool
api_server_join(struct api_server *s, int timeout_ms)
{
    if (!s->has_runner)
        return true;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(s->runner, NULL, &ts) != 0)
        return false;
    s->has_runner = false;
    return true;
}

void
api_server_finish(struct api_server *s)
{
    if (s->has_runner) {
        lapps_server_stop(s->srv);
        cr_assert(api_server_join(s, 20000), "lapps_server_run did not return after stop");
        cr_assert_eq(s->run_rv, 0);
    }
    lapps_server_free(s->srv);
    s->srv = NULL;
    int opens = atomic_load(&s->c.opens), closes = atomic_load(&s->c.closes);
    cr_assert_eq(closes, opens, "on_close must fire once per on_open: %d opens, %d closes", opens,
                 closes);
    cr_assert_eq(atomic_load(&s->c.bad_close), 0, "on_close without a matching on_open");
    cr_assert_eq(atomic_load(&s->c.live_conn_data), 0);
    cr_assert_eq(atomic_load(&s->c.current), 0);
    cr_assert_eq(atomic_load(&s->c.wrong_thread), 0,
                 "a callback ran on another thread than its worker's");
    cr_assert_eq(atomic_load(&s->c.shutdowns), atomic_load(&s->c.starts),
                 "on_shutdown once per started instance");
    pthread_mutex_destroy(&s->ids_lock);
    pthread_mutex_destroy(&s->log_lock);
}

int
api_wait_atleast(atomic_int *v, int want, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    int x;
    while ((x = atomic_load(v)) < want && now_ms() < end)
        api_sleep_ms(2);
    return atomic_load(v);
}

bool
api_wait_all_closed(struct api_server *s, int opens, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int o = atomic_load(&s->c.opens), c = atomic_load(&s->c.closes);
        if (o >= opens && c == o)
            return true;
        if (now_ms() >= end)
            return false;
        if (s->cfg.workers == 0)
            api_embedded_pump(s, 5);
        else
            api_sleep_ms(2);
    }
}

bool
api_log_has(struct api_server *s, const char *needle)
{
    pthread_mutex_lock(&s->log_lock);
    bool found = strstr(s->errlog, needle) != NULL;
    pthread_mutex_unlock(&s->log_lock);
    return found;
}

uint64_t
api_id(struct api_server *s, size_t i)
{
    pthread_mutex_lock(&s->ids_lock);
    uint64_t id = i < s->n_ids ? s->ids[i] : 0;
    pthread_mutex_unlock(&s->ids_lock);
    return id;
}

lapps_stats
api_stats(const struct api_server *s)
{
    lapps_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    cr_assert_eq(lapps_server_stats(s->srv, &st), 0);
    return st;
}

int
api_embedded_pump(struct api_server *s, int ms)
{
    int64_t end = now_ms() + ms;
    int rv = 0;
    int fd = lapps_server_get_fd(s->srv);
    if (fd < 0)
        return lapps_server_dispatch(s->srv);
    do {
        int64_t left = end - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        poll(&pfd, 1, left < 0 ? 0 : left > 10 ? 10 : (int)left);
        rv = lapps_server_dispatch(s->srv);
    } while (rv == 0 && now_ms() < end);
    return rv;
}

/* ---- child processes ---- */

void
api_spawn(struct api_proc *p, char *const argv[])
{
    memset(p, 0, sizeof *p);
    p->out_fd = -1;
    int fds[2];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec: the parent has threads. A
         * child dies with the test, even one that fails before it could stop it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    p->pid = pid;
    p->out_fd = fds[0];
    p->cap = 4096;
    p->out = calloc(1, p->cap);
    cr_assert_not_null(p->out);
}

/* Reads what is there; returns false at EOF. */
static bool
read_some(struct api_proc *p)
{
    for (;;) {
        if (p->cap - p->len < 4096) {
            p->cap *= 2;
            p->out = realloc(p->out, p->cap);
            cr_assert_not_null(p->out);
        }
        ssize_t r = read(p->out_fd, p->out + p->len, p->cap - p->len - 1);
        if (r > 0) {
            p->len += (size_t)r;
            p->out[p->len] = 0;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return true;
        close(p->out_fd);
        p->out_fd = -1;
        return false;
    }
}

void
api_proc_read(struct api_proc *p, int ms)
{
    if (p->out_fd < 0)
        return;
    struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) > 0)
        read_some(p);
}

static bool
try_reap(struct api_proc *p)
{
    if (p->reaped)
        return true;
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid)
        p->reaped = true;
    return p->reaped;
}

static int
exit_code(const struct api_proc *p)
{
    if (p->timed_out || !WIFEXITED(p->status))
        return -1;
    return WEXITSTATUS(p->status);
}

int
api_proc_wait(struct api_proc *p, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (!(p->reaped && p->out_fd < 0)) {
        int64_t left = end - now_ms();
        if (left <= 0) {
            fprintf(stderr, "client %d: killed at its %d ms deadline\n", (int)p->pid, timeout_ms);
            p->timed_out = true;
            if (!p->reaped) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, &p->status, 0);
                p->reaped = true;
            }
            if (p->out_fd >= 0) {
                read_some(p);
                if (p->out_fd >= 0) {
                    close(p->out_fd);
                    p->out_fd = -1;
                }
            }
            break;
        }
        if (p->out_fd >= 0)
            api_proc_read(p, left > 20 ? 20 : (int)left);
        else
            api_sleep_ms(2);
        try_reap(p);
    }
    return exit_code(p);
}

int
api_proc_kill(struct api_proc *p, int sig, int timeout_ms)
{
    if (!p->reaped)
        kill(p->pid, sig);
    int64_t end = now_ms() + timeout_ms;
    while (!try_reap(p) && now_ms() < end) {
        if (p->out_fd >= 0)
            api_proc_read(p, 10);
        else
            api_sleep_ms(2);
    }
    return api_proc_wait(p, 1000);
}

void
api_proc_free(struct api_proc *p)
{
    if (!p->reaped && p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &p->status, 0);
        p->reaped = true;
    }
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->out_fd = -1;
    free(p->out);
    p->out = NULL;
}

bool
api_proc_wait_line(struct api_proc *p, const char *line, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        if (api_has_line(p->out, line))
            return true;
        if (now_ms() >= end || (p->out_fd < 0 && try_reap(p)))
            return api_has_line(p->out, line);
        if (p->out_fd >= 0)
            api_proc_read(p, 20);
        else
            api_sleep_ms(2);
    }
}

int
api_embedded_wait_proc(struct api_server *s, struct api_proc *p, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    int sfd = lapps_server_get_fd(s->srv);
    cr_assert_geq(sfd, 0);
    while (!(p->reaped && p->out_fd < 0) && now_ms() < end) {
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN}, {.fd = p->out_fd, .events = POLLIN}};
        poll(pfd, p->out_fd >= 0 ? 2 : 1, 10);
        cr_assert_eq(lapps_server_dispatch(s->srv), 0);
        if (p->out_fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP)))
            read_some(p);
        try_reap(p);
    }
    return api_proc_wait(p, 0);
}

const char *
api_clients_dir(void)
{
    const char *d = getenv("LAPPS_API_CLIENTS");
    cr_assert_not_null(d, "LAPPS_API_CLIENTS is not set (run through meson test)");
    return d;
}

static void
python_argv(char **argv, size_t max, const char *script, va_list ap)
{
    static char path[4096];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", api_clients_dir(), script);
    argv[n++] = (char *)"/usr/bin/python3";
    argv[n++] = path;
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        cr_assert_lt(n, max - 1, "too many client arguments");
        argv[n++] = (char *)a;
    }
    argv[n] = NULL;
}

void
api_python_spawn(struct api_proc *p, const char *script, ...)
{
    char *argv[128];
    va_list ap;
    va_start(ap, script);
    python_argv(argv, 128, script, ap);
    va_end(ap);
    api_spawn(p, argv);
}

int
api_python(int timeout_ms, char **out, const char *script, ...)
{
    char *argv[128];
    va_list ap;
    va_start(ap, script);
    python_argv(argv, 128, script, ap);
    va_end(ap);
    struct api_proc p;
    api_spawn(&p, argv);
    int rc = api_proc_wait(&p, timeout_ms);
    *out = p.out;
    p.out = NULL;
    api_proc_free(&p);
    return rc;
}

bool
api_has_line(const char *out, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = out; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, line, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

int
api_count_prefix(const char *out, const char *prefix)
{
    int k = 0;
    size_t n = strlen(prefix);
    for (const char *p = out; p && *p;) {
        if (strncmp(p, prefix, n) == 0)
            k++;
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : NULL;
    }
    return k;
}

const char *
api_find_prefix(const char *out, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = out; p && *p;) {
        if (strncmp(p, prefix, n) == 0)
            return p;
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : NULL;
    }
    return NULL;
}

/* ---- process resources ---- */

int
api_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

void
api_raise_nofile(unsigned long want)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t target = want;
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max)
        target = rl.rlim_max;
    if (rl.rlim_cur < target) {
        rl.rlim_cur = target;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
}

uint16_t
api_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

int
api_wait_fds(int want, int timeout_ms)
{
    int n = api_fd_count();
    for (int t = 0; n != want && t < timeout_ms; t += 10) {
        api_sleep_ms(10);
        n = api_fd_count();
    }
    return n;
}

/* ---- a server's log, kept ---- */

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static char kept[1 << 16];
static size_t kept_len;

void
api_log_keep(lapps_log_level level, const char *msg, void *user_data)
{
    (void)level;
    (void)user_data;
    pthread_mutex_lock(&kept_lock);
    int n = snprintf(kept + kept_len, sizeof kept - kept_len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof kept - kept_len)
        kept_len += (size_t)n;
    else
        kept[kept_len] = '\0'; /* a cut line is dropped whole */
    pthread_mutex_unlock(&kept_lock);
}

void
api_log_clear(void)
{
    pthread_mutex_lock(&kept_lock);
    kept_len = 0;
    kept[0] = '\0';
    pthread_mutex_unlock(&kept_lock);
}

int
api_log_count(const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&kept_lock);
    for (const char *p = kept; (p = strstr(p, needle)); p++)
        n++;
    pthread_mutex_unlock(&kept_lock);
    return n;
}

int
api_log_wait(const char *needle, int want, int timeout_ms)
{
    int n = 0;
    for (int t = 0; t <= timeout_ms && (n = api_log_count(needle)) < want; t += 10)
        api_sleep_ms(10);
    return n;
}

bool
api_log_has_line(const char *line)
{
    pthread_mutex_lock(&kept_lock);
    bool r = api_has_line(kept, line);
    pthread_mutex_unlock(&kept_lock);
    return r;
}

const char *
api_log_text(void)
{
    return kept;
}
