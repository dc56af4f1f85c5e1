/* isolated.c — instances of a Lua service on threads of their own.
 *
 * Every worker hosts a forwarding instance: its callbacks copy each message (and defer
 * each request) into the queue of one Lua thread, chosen from the connection id, so all
 * events of a connection reach the same lua_State in order. The Lua threads answer by
 * connection id (lapps_send, lapps_close, deferred replies), which posts to the
 * connection's worker. Queues are bounded: a worker never waits for Lua; a connection
 * whose thread is too far behind is closed with 1013 ("try again later").
 *
 * The first worker to start starts the threads (each creates its state and runs
 * onStart); the last worker to shut down stops them, after its connections' on_close
 * events were queued, so every onDisconnect runs before onShutdown. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lua/isolated.h"

#define QUEUE_MAX_EVENTS 16384
#define QUEUE_MAX_BYTES  (64u << 20)

enum ev_kind { EV_RAW, EV_LAPPS, EV_DISCONNECT };

struct ev {
    struct ev *next;
    enum ev_kind kind;
    uint64_t conn_id;
    int type;             /* opcode or LAppS message type */
    lapps_request *req;   /* EV_LAPPS requests: the deferred handle */
    lapps_value *message; /* EV_LAPPS: a copy */
    size_t len;
    uint8_t data[];
};

struct iso_thread {
    struct lapps__lua_iso *iso;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ev *head, **tail;
    size_t count, bytes;
    bool stop, ready, running;
    int start_rv;
    struct lapps__lua_inst li;
};

struct lapps__lua_iso {
    struct lapps__lua_svc *svc;
    unsigned n;
    struct iso_thread *t;
    pthread_mutex_t lock;
    unsigned routers; /* workers whose forwarding instance is up */
    bool started, failed;
};

/* ---- the Lua threads ---- */

static struct ev *
next_event(struct iso_thread *t)
{
    pthread_mutex_lock(&t->mu);
    while (!t->head && !t->stop)
        pthread_cond_wait(&t->cv, &t->mu);
    struct ev *e = t->head;
    if (e) {
        t->head = e->next;
        if (!t->head)
            t->tail = &t->head;
        t->count--;
        t->bytes -= e->len;
    }
    pthread_mutex_unlock(&t->mu);
    return e;
}

static void
handle(struct iso_thread *t, struct ev *e)
{
    struct lapps__lua_inst *li = &t->li;
    lapps_server *srv = li->svc->srv;
    struct lapps__lua_call k = {.li = li, .conn_id = e->conn_id, .kind = e->type};
    switch (e->kind) {
    case EV_RAW: {
        k.cb = CB_ON_MESSAGE_RAW;
        k.data = e->data;
        k.len = e->len;
        int rv = lapps__lua_call(&k);
        if (rv != 0 || !k.returned_true) {
            if (rv == 0)
                lapps__lua_log_not_true(li);
            lapps_close(srv, e->conn_id, 1011, NULL);
        }
        break;
    }
    case EV_LAPPS: {
        k.cb = CB_ON_MESSAGE_LAPPS;
        k.message = e->message;
        li->cur_req = e->req;
        li->cur_conn_id = e->conn_id;
        li->cur_answered = false;
        int rv = lapps__lua_call(&k);
        /* Closed before any answer to the request, as on a worker. */
        if (rv == 0 && !k.returned_true) {
            lapps__lua_log_not_true(li);
            lapps_close(srv, e->conn_id, 1011, NULL);
        }
        lapps__lua_after_request(li, rv, k.returned_true, true);
        lapps_value_free(e->message);
        break;
    }
    case EV_DISCONNECT:
        k.cb = CB_ON_DISCONNECT;
        lapps__lua_call(&k);
        lapps__lua_drop_pending(li, e->conn_id, false);
        break;
    }
    free(e);
}

/* The stop hook of the thread's state: nap's sleeps and mqr's waits end when the thread
 * is told to stop (stop_threads), so a blocked callback cannot hold up the shutdown. */
static int
thread_must_stop(void *ctx)
{
    struct iso_thread *t = ctx;
    pthread_mutex_lock(&t->mu);
    bool stop = t->stop;
    pthread_mutex_unlock(&t->mu);
    return stop;
}

static void *
thread_main(void *arg)
{
    struct iso_thread *t = arg;
    char err[512];
    t->li.must_stop = thread_must_stop;
    t->li.must_stop_ctx = t;
    int rv = lapps__lua_inst_open(&t->li, err, sizeof err);
    if (rv != 0) {
        lapps_log(t->iso->svc->srv, LAPPS_LOG_ERROR, "%s", err);
    } else {
        struct lapps__lua_call k = {.li = &t->li, .cb = CB_ON_START};
        rv = lapps__lua_call(&k);
    }
    pthread_mutex_lock(&t->mu);
    t->start_rv = rv;
    t->ready = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (rv == 0) {
        struct ev *e;
        while ((e = next_event(t)))
            handle(t, e);
        struct lapps__lua_call k = {.li = &t->li, .cb = CB_ON_SHUTDOWN};
        lapps__lua_call(&k);
    }
    lapps__lua_inst_close(&t->li);
    return NULL;
}

static void
stop_threads(struct lapps__lua_iso *iso)
{
    for (unsigned i = 0; i < iso->n; i++) {
        struct iso_thread *t = &iso->t[i];
        if (!t->running)
            continue;
        pthread_mutex_lock(&t->mu);
        t->stop = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->tid, NULL);
        t->running = false;
    }
}

/* Starts every thread and waits until each has run onStart. */
static int
start_threads(struct lapps__lua_iso *iso)
{
    int rv = 0;
    for (unsigned i = 0; i < iso->n && rv == 0; i++) {
        struct iso_thread *t = &iso->t[i];
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            rv = LAPPS_ERR_NOMEM;
            break;
        }
        t->running = true;
        pthread_mutex_lock(&t->mu);
        while (!t->ready)
            pthread_cond_wait(&t->cv, &t->mu);
        rv = t->start_rv;
        pthread_mutex_unlock(&t->mu);
    }
    if (rv != 0)
        stop_threads(iso);
    return rv;
}

/* ---- the forwarding instances on the workers ---- */

static struct iso_thread *
thread_for(struct lapps__lua_iso *iso, uint64_t id)
{
    return &iso->t[(id ^ id >> 14 ^ id >> 38) % iso->n];
}

/* Queues an event; false when the thread is too far behind. */
static bool
post(struct lapps__lua_iso *iso, struct ev *e)
{
    struct iso_thread *t = thread_for(iso, e->conn_id);
    bool ok;
    e->next = NULL;
    pthread_mutex_lock(&t->mu);
    /* A disconnect is always queued: onDisconnect must fire once per connection. */
    ok = e->kind == EV_DISCONNECT ||
         (t->count < QUEUE_MAX_EVENTS && t->bytes + e->len <= QUEUE_MAX_BYTES);
    if (ok) {
        *t->tail = e;
        t->tail = &e->next;
        t->count++;
        t->bytes += e->len;
        pthread_cond_signal(&t->cv);
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

static struct ev *
ev_new(enum ev_kind kind, uint64_t id, int type, const void *data, size_t len)
{
    struct ev *e = malloc(sizeof *e + len);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->conn_id = id;
    e->type = type;
    e->len = len;
    if (len)
        memcpy(e->data, data, len);
    return e;
}

static void
overloaded(lapps_conn *c, struct lapps__lua_iso *iso)
{
    lapps_log(iso->svc->srv, LAPPS_LOG_WARN,
              "service %s: its Lua threads are too far behind; "
              "closing a connection",
              iso->svc->name);
    lapps_conn_close(c, 1013, "service overloaded");
}

static int
fwd_message(lapps_conn *c, const lapps_message *msg, void *ud)
{
    struct lapps__lua_svc *svc = ud;
    struct ev *e = ev_new(EV_RAW, lapps_conn_id(c), msg->opcode, msg->data, msg->len);
    if (!e)
        return LAPPS_ERR_NOMEM;
    if (!post(svc->iso, e)) {
        free(e);
        overloaded(c, svc->iso);
    }
    return 0;
}

static void
fwd_request(lapps_conn *c, lapps_request *req, void *ud)
{
    struct lapps__lua_svc *svc = ud;
    uint64_t cid = lapps_request_cid(req);
    const lapps_value *message = lapps_request_message(req);
    struct ev *e =
        ev_new(EV_LAPPS, lapps_conn_id(c), lapps__lua_message_type(message, cid), NULL, 0);
    if (!e || !(e->message = lapps_value_copy(message))) {
        free(e);
        return; /* the protocol layer answers -32603 */
    }
    if (!cid && !(e->req = lapps_request_defer(req))) {
        lapps_value_free(e->message);
        free(e);
        return;
    }
    if (!post(svc->iso, e)) {
        if (e->req)
            lapps__lua_release(e->req, "internal error: service overloaded");
        lapps_value_free(e->message);
        free(e);
        overloaded(c, svc->iso);
    }
}

static void
fwd_close(lapps_conn *c, const lapps_close_info *info, void *ud)
{
    (void)info;
    struct lapps__lua_svc *svc = ud;
    struct ev *e = ev_new(EV_DISCONNECT, lapps_conn_id(c), 0, NULL, 0);
    if (e)
        post(svc->iso, e);
    else
        lapps_log(svc->srv, LAPPS_LOG_ERROR,
                  "service %s: out of memory: an onDisconnect is "
                  "lost",
                  svc->name);
}

static int
fwd_start(lapps_instance *inst, void *ud)
{
    (void)inst;
    struct lapps__lua_iso *iso = ((struct lapps__lua_svc *)ud)->iso;
    int rv = 0;
    pthread_mutex_lock(&iso->lock);
    if (iso->failed) {
        rv = LAPPS_ERR_INVAL;
    } else if (!iso->started) {
        rv = start_threads(iso);
        iso->started = rv == 0;
        iso->failed = rv != 0;
    }
    if (rv == 0)
        iso->routers++;
    pthread_mutex_unlock(&iso->lock);
    return rv;
}

static void
fwd_shutdown(lapps_instance *inst, void *ud)
{
    (void)inst;
    struct lapps__lua_iso *iso = ((struct lapps__lua_svc *)ud)->iso;
    pthread_mutex_lock(&iso->lock);
    if (--iso->routers == 0 && iso->started) {
        stop_threads(iso);
        iso->started = false;
    }
    pthread_mutex_unlock(&iso->lock);
}

int
lapps__lua_iso_setup(struct lapps__lua_svc *svc, lapps_service *s)
{
    struct lapps__lua_iso *iso = calloc(1, sizeof *iso);
    unsigned n = svc->instances ? svc->instances : 1;
    if (!iso || !(iso->t = calloc(n, sizeof *iso->t))) {
        free(iso);
        return LAPPS_ERR_NOMEM;
    }
    iso->svc = svc;
    iso->n = n;
    pthread_mutex_init(&iso->lock, NULL);
    for (unsigned i = 0; i < n; i++) {
        struct iso_thread *t = &iso->t[i];
        t->iso = iso;
        t->tail = &t->head;
        t->li.svc = svc;
        pthread_mutex_init(&t->mu, NULL);
        pthread_cond_init(&t->cv, NULL);
    }
    svc->iso = iso;
    /* A forwarding instance on every worker: no connection is handed over for Lua. */
    lapps_service_set_instances(s, 0);
    lapps_service_set_callbacks(s, fwd_start, NULL, fwd_message, NULL, fwd_close, fwd_shutdown);
    if (svc->protocol == LAPPS_PROTO_LAPPS)
        lapps_service_set_on_request(s, fwd_request);
    return 0;
}

void
lapps__lua_iso_free(struct lapps__lua_iso *iso)
{
    if (!iso)
        return;
    stop_threads(iso);
    for (unsigned i = 0; i < iso->n; i++) {
        struct iso_thread *t = &iso->t[i];
        for (struct ev *e = t->head, *next; e; e = next) {
            next = e->next;
            if (e->req)
                lapps__lua_release(e->req, "internal error: server stopped");
            lapps_value_free(e->message);
            free(e);
        }
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
    }
    pthread_mutex_destroy(&iso->lock);
    free(iso->t);
    free(iso);
}
