/* worker.c — one worker's event loop: its listening sockets, its connections, its timer
 * wheel and its inbox. Nothing here is shared with another worker except the inbox
 * (a lock-free queue plus an eventfd) and the counters other threads read. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "net/acl.h"
#include "net/net.h"

/* epoll data for the descriptors that are not connections: their addresses are unique
 * and never those of a lapps_conn. */
static char tag_wake, tag_timer, tag_listen[LAPPS__MAX_LISTENERS];

static int
add_fd(struct lapps__worker *w, int fd, void *tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int
lapps__worker_init(struct lapps__worker *w, struct lapps_server *srv, unsigned index)
{
    const struct lapps_opts *o = &srv->opts;
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->index = index;
    w->epfd = w->wakefd = w->timerfd = -1;
    for (size_t i = 0; i < LAPPS__MAX_LISTENERS; i++)
        w->listen_fds[i] = -1;
    w->now_ms = lapps__now_ms();
    /* Handshaking connections count too: room for twice the open limit. */
    w->n_slots = 2 * o->max_connections + 16;
    if (w->n_slots > LAPPS__ID_SLOT_MASK)
        w->n_slots = LAPPS__ID_SLOT_MASK;
    w->conns = calloc(w->n_slots, sizeof *w->conns);
    w->slot_live = calloc(w->n_slots, sizeof *w->slot_live);
    w->free_slots = malloc(w->n_slots * sizeof *w->free_slots);
    w->dead = malloc(w->n_slots * sizeof *w->dead);
    w->instances = calloc(srv->n_services ? srv->n_services : 1, sizeof *w->instances);
    w->rbuf = malloc(LAPPS__RBUF_SIZE);
    lapps__arena_init(&w->arena, 16u << 10);
    w->cork = malloc(LAPPS__CORK_BUF);
    if (!w->conns || !w->slot_live || !w->free_slots || !w->dead || !w->instances || !w->rbuf ||
        !w->cork)
        return LAPPS_ERR_NOMEM;
    for (size_t i = 0; i < w->n_slots; i++)
        w->free_slots[i] = (uint32_t)i;
    w->free_count = w->n_slots;
    int rv = lapps__wheel_init(&w->wheel, w->now_ms);
    if (rv != 0)
        return rv;
    if ((rv = lapps__mpsc_init(&w->inbox, LAPPS__INBOX_SIZE)) != 0)
        return rv;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->wakefd < 0)
        return -errno;
    if ((rv = add_fd(w, w->wakefd, &tag_wake)) != 0)
        return rv;
    if (srv->embedded) {
        w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (w->timerfd < 0)
            return -errno;
        if ((rv = add_fd(w, w->timerfd, &tag_timer)) != 0)
            return rv;
    }
    for (size_t i = 0; i < o->n_listeners; i++) {
        int fd = lapps__listen_open(o->listeners[i].addr, srv->ports[i]);
        if (fd < 0)
            return fd;
        w->listen_fds[i] = fd;
        if ((rv = add_fd(w, fd, &tag_listen[i])) != 0)
            return rv;
    }
    for (size_t i = 0; i < srv->n_services; i++) {
        struct lapps_service *s = srv->services[i];
        for (unsigned h = 0; h < s->n_hosts; h++) {
            if (s->hosts[h] != index)
                continue;
            struct lapps_instance *inst = calloc(1, sizeof *inst);
            if (!inst)
                return LAPPS_ERR_NOMEM;
            inst->svc = s;
            inst->w = w;
            w->instances[i] = inst;
        }
    }
    return 0;
}

static void
close_listeners(struct lapps__worker *w)
{
    for (size_t i = 0; i < LAPPS__MAX_LISTENERS; i++) {
        if (w->listen_fds[i] >= 0) {
            close(w->listen_fds[i]);
            w->listen_fds[i] = -1;
        }
    }
}

void
lapps__worker_free(struct lapps__worker *w)
{
    if (!w->srv)
        return;
    /* Connections still here (a server freed without a graceful stop) are dropped. */
    for (size_t i = 0; w->conns && i < w->n_slots; i++) {
        struct lapps_conn *c = w->conns[i];
        if (c && c->state != CONN_DEAD)
            lapps__conn_abort(c, LAPPS_CLOSED_SHUTDOWN, 1001);
    }
    if (w->dead)
        lapps__conn_reap(w);
    struct lapps__post *p = w->held_post;
    if (w->inbox.slots) {
        for (; p || (p = lapps__mpsc_pop(&w->inbox)); p = NULL) {
            if (p->kind == POST_ADOPT) {
                lapps__tls_free(p->tls);
                close(p->fd);
                free(p->query);
            } else if (p->kind == POST_BCAST) {
                lapps__shared_unref(p->shared);
            }
            free(p);
        }
        lapps__mpsc_free(&w->inbox);
    }
    close_listeners(w);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->wakefd >= 0)
        close(w->wakefd);
    if (w->timerfd >= 0)
        close(w->timerfd);
    lapps__wheel_free(&w->wheel);
    for (size_t i = 0; w->instances && i < w->srv->n_services; i++)
        free(w->instances[i]);
    free(w->instances);
    free(w->conns);
    free(w->slot_live);
    free(w->free_slots);
    free(w->dead);
    free(w->rbuf);
    free(w->cork);
    free(w->spare_msg);
    lapps__arena_free(&w->arena);
    lapps__wbuf_free(&w->wbuf);
    if (lapps__this_worker == w)
        lapps__this_worker = NULL;
    w->srv = NULL;
}

int
lapps__worker_start_instances(struct lapps__worker *w)
{
    for (size_t i = 0; i < w->srv->n_services; i++) {
        struct lapps_instance *inst = w->instances[i];
        if (!inst || !inst->svc->on_start)
            continue;
        int rv = inst->svc->on_start(inst, inst->svc->user_data);
        if (rv != 0)
            return rv < 0 ? rv : LAPPS_ERR_INVAL;
        inst->started = true;
    }
    for (size_t i = 0; i < w->srv->n_services; i++)
        if (w->instances[i])
            w->instances[i]->started = true;
    return 0;
}

static void
shutdown_instances(struct lapps__worker *w)
{
    for (size_t i = 0; i < w->srv->n_services; i++) {
        struct lapps_instance *inst = w->instances[i];
        if (inst && inst->started && inst->svc->on_shutdown)
            inst->svc->on_shutdown(inst, inst->svc->user_data);
        if (inst)
            inst->started = false;
    }
}

void
lapps__worker_wake(struct lapps__worker *w)
{
    uint64_t one = 1;
    /* Only fails when the counter would overflow, i.e. a wake-up is already pending. */
    ssize_t r = write(w->wakefd, &one, sizeof one);
    (void)r;
}

int
lapps__worker_post(struct lapps__worker *w, struct lapps__post *post)
{
    int rv = lapps__mpsc_push(&w->inbox, post);
    if (rv == 0)
        lapps__worker_wake(w);
    return rv;
}

static void
handle_post(struct lapps__worker *w, struct lapps__post *p)
{
    struct lapps_conn *c;
    switch (p->kind) {
    case POST_SEND:
        if ((c = lapps__conn_by_id(w, p->id)) && c->state == CONN_OPEN)
            lapps__out_send(c, p->opcode, p->data, p->len);
        break;
    case POST_CLOSE:
        if ((c = lapps__conn_by_id(w, p->id)))
            lapps__conn_begin_close(c, p->code, (const char *)p->data, p->len,
                                    LAPPS_CLOSED_BY_SERVICE);
        break;
    case POST_ADOPT:
        lapps__conn_adopt(w, p);
        break;
    case POST_REPLY:
        if ((c = lapps__conn_by_id(w, p->id)))
            lapps__rpc_answer(c, p->seq, p->data, p->len);
        break;
    case POST_SUBSCRIBE:
    case POST_UNSUBSCRIBE:
        lapps__bcast_handle(w, p);
        break;
    }
    free(p);
}

static void
begin_stop(struct lapps__worker *w)
{
    w->stopping = true;
    w->stop_deadline = w->now_ms + w->srv->opts.close_ms;
    close_listeners(w);
    for (size_t i = 0; i < w->n_slots; i++) {
        struct lapps_conn *c = w->conns[i];
        if (!c)
            continue;
        if (c->state == CONN_OPEN)
            lapps__conn_begin_close(c, 1001, "server stopping", 15, LAPPS_CLOSED_SHUTDOWN);
        else if (c->state == CONN_HANDSHAKE)
            lapps__conn_abort(c, LAPPS_CLOSED_SHUTDOWN, 1001);
    }
}

/* The graceful stop ends when every connection is gone or the close timeout passed. */
static void
check_stop(struct lapps__worker *w)
{
    if (!w->stopping || w->stopped)
        return;
    if (w->n_conns > 0 && w->now_ms < w->stop_deadline)
        return;
    for (size_t i = 0; i < w->n_slots; i++) {
        struct lapps_conn *c = w->conns[i];
        if (c && c->state != CONN_DEAD)
            lapps__conn_abort(c, LAPPS_CLOSED_SHUTDOWN, 1001);
    }
    lapps__conn_reap(w);
    shutdown_instances(w);
    w->stopped = true;
}

static void
accept_all(struct lapps__worker *w, size_t listener)
{
    int lfd = w->listen_fds[listener];
    const struct lapps_acl *acl = w->srv->opts.acl;
    /* A bounded batch per wake-up keeps one busy listener from starving connections. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(lfd, acl ? (struct sockaddr *)&peer : NULL, acl ? &peer_len : NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                lapps_log(w->srv, LAPPS_LOG_WARN, "accept: %s", strerror(errno));
            return;
        }
        /* The server's ACL: a refused peer costs this worker no read and no memory. */
        if (acl && !lapps__acl_allows_sockaddr(acl, (const struct sockaddr *)&peer)) {
            close(fd);
            STAT_ADD(w, accepted, 1);
            STAT_ADD(w, acl_refused, 1);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        lapps__conn_accept(w, fd, w->srv->tls[listener]);
    }
}

static void
drain_inbox(struct lapps__worker *w)
{
    uint64_t n;
    ssize_t r = read(w->wakefd, &n, sizeof n);
    (void)r;
    /* Bounded, so a producer in a tight loop cannot keep the worker from its sockets. A
     * broadcast takes the ones queued behind it too, and hands back the post after them. */
    struct lapps__post *p = w->held_post;
    w->held_post = NULL;
    for (int i = 0; i < 4096 && (p || (p = lapps__mpsc_pop(&w->inbox))); i++) {
        if (p->kind == POST_BCAST) {
            p = lapps__bcast_fan_out(w, p);
        } else {
            handle_post(w, p);
            p = NULL;
        }
    }
    if (p) { /* popped at the bound: first in line next time */
        w->held_post = p;
        lapps__worker_wake(w);
    }
    if (!lapps__mpsc_empty(&w->inbox))
        lapps__worker_wake(w);
}

static void
arm_timerfd(struct lapps__worker *w)
{
    int64_t t = lapps__wheel_timeout(&w->wheel, w->now_ms);
    if (w->stopping && !w->stopped) {
        int64_t left = (int64_t)(w->stop_deadline - w->now_ms);
        if (t < 0 || left < t)
            t = left < 0 ? 0 : left;
    }
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (t >= 0) {
        if (t == 0)
            t = 1;
        its.it_value.tv_sec = t / 1000;
        its.it_value.tv_nsec = (t % 1000) * 1000000;
    }
    timerfd_settime(w->timerfd, 0, &its, NULL);
}

void
lapps__worker_loop_once(struct lapps__worker *w, int timeout_ms)
{
    struct epoll_event evs[256];
    lapps__this_worker = w;
    int n = epoll_wait(w->epfd, evs, 256, timeout_ms);
    w->now_ms = lapps__now_ms();
    /* Checked every turn, not only on a wake-up: a stop that came before this worker's
     * first turn found no eventfd to write. */
    if (!w->stopping && atomic_load_explicit(&w->srv->state, memory_order_acquire) >= 2)
        begin_stop(w);
    for (int i = 0; i < n; i++) {
        void *tag = evs[i].data.ptr;
        if (tag == &tag_wake) {
            drain_inbox(w);
        } else if (tag == &tag_timer) {
            uint64_t x;
            ssize_t r = read(w->timerfd, &x, sizeof x);
            (void)r;
        } else if ((char *)tag >= tag_listen && (char *)tag < tag_listen + LAPPS__MAX_LISTENERS) {
            size_t listener = (size_t)((char *)tag - tag_listen);
            if (w->listen_fds[listener] >= 0)
                accept_all(w, listener);
        } else {
            lapps__conn_on_event(tag, evs[i].events);
        }
    }
    lapps__wheel_advance(&w->wheel, w->now_ms, lapps__conn_on_timer, w);
    /* Connections killed during this turn are freed only now: a later event of the same
     * epoll batch may still name one (its own readiness, after a post or the stop killed
     * it), and it must find a dead connection, not freed memory. */
    if (w->n_dead)
        lapps__conn_reap(w);
    check_stop(w);
    if (w->timerfd >= 0)
        arm_timerfd(w);
}

void *
lapps__worker_main(void *arg)
{
    struct lapps__worker *w = arg;
    struct lapps_server *srv = w->srv;
    int rv = lapps__worker_start_instances(w);
    pthread_mutex_lock(&srv->lock);
    if (rv != 0 && srv->start_error == 0)
        srv->start_error = rv;
    srv->started_workers++;
    pthread_cond_broadcast(&srv->cond);
    /* Nobody serves until every instance everywhere has started. */
    while (srv->started_workers < srv->n_workers)
        pthread_cond_wait(&srv->cond, &srv->lock);
    rv = srv->start_error;
    pthread_mutex_unlock(&srv->lock);
    if (rv != 0) {
        shutdown_instances(w);
        return NULL;
    }
    while (!w->stopped) {
        int64_t t = lapps__wheel_timeout(&w->wheel, w->now_ms);
        if (w->stopping) {
            int64_t left = (int64_t)(w->stop_deadline - w->now_ms);
            if (t < 0 || left < t)
                t = left < 0 ? 0 : left;
        }
        lapps__worker_loop_once(w, t < 0 ? -1 : t > 60000 ? 60000 : (int)t);
    }
    return NULL;
}
