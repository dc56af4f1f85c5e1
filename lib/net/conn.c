/* conn.c — one connection's life on its worker: the handshake, frames in, the close
 * handshake, timers, and the end that on_close reports exactly once.
 *
 * A connection is only freed by lapps__conn_reap() at the end of the worker's loop turn
 * that killed it, after every event of that epoll batch: code that runs after a callback
 * (which may have closed or aborted the connection), and a later event of the batch for
 * the same connection, can still look at c->state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/acl.h"
#include "net/net.h"
#include "util/sys.h"
#include "ws/close.h"

#define CARRY_MAX (LAPPS__FRAME_MAX_HEADER + LAPPS__FRAME_MAX_CONTROL)

/* ---- slots and ids ---- */

struct lapps_conn *
lapps__conn_by_id(struct lapps__worker *w, uint64_t id)
{
    uint32_t slot = (uint32_t)(id >> LAPPS__ID_GEN_BITS) & LAPPS__ID_SLOT_MASK;
    uint16_t gen = (uint16_t)(id & LAPPS__ID_GEN_MASK);
    if (slot >= w->n_slots)
        return NULL;
    struct lapps_conn *c = w->conns[slot];
    if (!c || c->gen != gen || c->state == CONN_DEAD || c->state == CONN_HANDSHAKE)
        return NULL;
    return c;
}

static void
mark_live(struct lapps_conn *c, bool open)
{
    atomic_store_explicit(&c->w->slot_live[c->slot], (uint32_t)c->gen << 1 | open,
                          memory_order_release);
}

/* A worker's count of open connections is raised by whichever worker completes the
 * handshake (itself, or one handing the connection over), so it only changes by atomic
 * read-modify-write. A place is taken on the worker that will hold the connection before
 * the 101 leaves, so max_connections holds there whoever accepted the TCP connection. */
static bool
take_place(struct lapps__worker *host, size_t max)
{
    uint64_t n = atomic_load_explicit(&host->stats.connections, memory_order_relaxed);
    do {
        if (n >= max)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&host->stats.connections, &n, n + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

static void
give_place(struct lapps__worker *host)
{
    atomic_fetch_sub_explicit(&host->stats.connections, 1, memory_order_relaxed);
}

static struct lapps_conn *
conn_new(struct lapps__worker *w, int fd)
{
    if (w->free_count == 0)
        return NULL;
    struct lapps_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    uint32_t slot = w->free_slots[w->free_head];
    w->free_head = (w->free_head + 1) % w->n_slots;
    w->free_count--;
    c->fd = fd;
    c->slot = slot;
    /* The generation of a slot advances on every use, so an old id never matches. */
    c->gen =
        (uint16_t)(((atomic_load_explicit(&w->slot_live[slot], memory_order_relaxed) >> 1) + 1) &
                   LAPPS__ID_GEN_MASK);
    c->w = w;
    c->state = CONN_HANDSHAKE;
    c->last_rx = (uint32_t)w->now_ms;
    w->conns[slot] = c;
    w->n_conns++;
    mark_live(c, false);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        lapps_log(w->srv, LAPPS_LOG_WARN, "epoll_ctl: %s", strerror(errno));
        /* The caller still owns the fd and closes it: the reap must not close it too. */
        c->fd = -1;
        c->state = CONN_DEAD;
        w->dead[w->n_dead++] = c;
        return NULL;
    }
    return c;
}

/* ---- ending ---- */

static void
kill(struct lapps_conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    c->state = CONN_DEAD;
    /* dead[] has room for every slot, so this cannot fail. */
    c->w->dead[c->w->n_dead++] = c;
}

static void
record_close(struct lapps_conn *c, lapps_close_reason why, uint16_t code)
{
    if (c->close_code == 0) {
        c->close_reason = (uint8_t)why;
        c->close_code = code;
    }
}

void
lapps__conn_abort(struct lapps_conn *c, lapps_close_reason why, uint16_t code)
{
    record_close(c, why, code);
    kill(c);
}

static void
arm(struct lapps_conn *c, uint32_t ms)
{
    lapps__timer_arm(&c->w->wheel, &c->timer, c->w->now_ms + ms);
}

/* After the close handshake, or to fail a connection: our FIN goes once the output is
 * flushed, and input is read and dropped until the peer's FIN (so the kernel does not
 * answer its last bytes with a reset that could destroy our close frame in flight). */
static void
drain(struct lapps_conn *c)
{
    c->state = CONN_DRAINING;
    c->flags |= CF_SHUT_WR;
    free(c->carry);
    c->carry = NULL;
    c->carry_len = 0;
    arm(c, c->w->srv->opts.close_ms);
    if (c->w->cork_conn != c)
        lapps__out_flush(c);
}

static void
send_close(struct lapps_conn *c, uint16_t code, const char *reason, size_t reason_len)
{
    uint8_t pl[125];
    size_t n = lapps__close_payload(pl, code, reason, reason_len);
    c->flags |= CF_CLOSE_SENT;
    lapps__out_send(c, LAPPS__OP_CLOSE, pl, n);
}

void
lapps__conn_begin_close(struct lapps_conn *c, uint16_t code, const char *reason, size_t reason_len,
                        lapps_close_reason why)
{
    if (c->state != CONN_OPEN)
        return;
    record_close(c, why, code);
    send_close(c, code, reason, reason_len);
    if (c->state == CONN_DEAD)
        return;
    c->state = CONN_CLOSING;
    arm(c, c->w->srv->opts.close_ms);
}

/* The peer stopped reading and what waits for it reached the outbound limit: nothing
 * more is taken for it, the close frame (1008) goes behind what is queued (a few bytes
 * past the limit), and the connection drains until the peer closes or close_ms passes.
 * A peer that never reads again never sees that frame; one that was only slow does. */
void
lapps__conn_fail_outbound(struct lapps_conn *c)
{
    if (c->state == CONN_DEAD || c->state == CONN_DRAINING)
        return;
    record_close(c, LAPPS_CLOSED_OUTBOUND, 1008);
    if (!(c->flags & CF_CLOSE_SENT))
        send_close(c, 1008, "outbound limit", 14);
    if (c->state != CONN_DEAD)
        drain(c);
}

/* The peer broke the protocol: close with the code the parser chose, stop reading
 * frames. */
static void
fail(struct lapps_conn *c, uint16_t code)
{
    record_close(c, LAPPS_CLOSED_PROTOCOL, code);
    if (!(c->flags & CF_CLOSE_SENT))
        send_close(c, code, NULL, 0);
    if (c->state != CONN_DEAD)
        drain(c);
}

void
lapps__conn_reap(struct lapps__worker *w)
{
    /* on_close may close other connections: take the list as it grows. */
    for (size_t i = 0; i < w->n_dead; i++) {
        struct lapps_conn *c = w->dead[i];
        if (w->cork_conn == c)
            lapps__out_uncork(w);
        lapps__timer_cancel(&w->wheel, &c->timer);
        lapps__tls_free(c->tls);
        /* -1: handed over, or never registered. Removed from epoll before the close: the
         * registration belongs to the open file, which a child forked by a service
         * (os.execute, popen) may still hold for a moment, and epoll would then go on
         * reporting events for this freed connection. */
        if (c->fd >= 0) {
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
        }
        if (c->flags & CF_OPENED) {
            give_place(w);
            struct lapps_service *s = c->inst->svc;
            if (s->on_close) {
                lapps_close_info info = {(lapps_close_reason)c->close_reason,
                                         c->close_code ? c->close_code : 1006};
                s->on_close(c, &info, s->user_data);
            }
        }
        lapps__bcast_conn_gone(c);
        lapps__out_free(c);
        lapps__rpc_conn_free(c);
        free(c->carry);
        free(c->msg);
        free(c->hs);
        free(c->query);
        w->conns[c->slot] = NULL;
        atomic_store_explicit(&w->slot_live[c->slot], (uint32_t)c->gen << 1, memory_order_release);
        w->free_slots[(w->free_head + w->free_count) % w->n_slots] = c->slot;
        w->free_count++;
        w->n_conns--;
        free(c);
    }
    w->n_dead = 0;
}

/* ---- messages ---- */

static void
deliver(struct lapps_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    struct lapps_service *s = c->inst->svc;
    STAT_ADD(c->w, messages_in, 1);
    if (s->protocol == LAPPS_PROTO_LAPPS) {
        lapps__rpc_deliver(c, opcode, data, len);
        return;
    }
    if (!s->on_message)
        return;
    lapps_message m = {(lapps_opcode)opcode, data, len};
    if (s->on_message(c, &m, s->user_data) < 0)
        lapps__conn_begin_close(c, 1011, NULL, 0, LAPPS_CLOSED_SERVICE_ERROR);
}

static void
data_event(struct lapps_conn *c, const struct lapps__frame_event *ev)
{
    if (c->state != CONN_OPEN)
        return; /* after our close frame, data is read and dropped (RFC 6455 §5.5.1) */
    if (ev->first && ev->last) {
        deliver(c, ev->opcode, ev->data, ev->len);
        return;
    }
    struct lapps__worker *w = c->w;
    if (!c->msg && w->spare_msg) {
        c->msg = w->spare_msg;
        c->msg_cap = w->spare_cap;
        w->spare_msg = NULL;
    }
    if (c->msg_len + ev->len > c->msg_cap) {
        size_t cap = c->msg_cap ? c->msg_cap : 4096;
        while (cap < c->msg_len + ev->len)
            cap *= 2;
        uint8_t *m = realloc(c->msg, cap);
        if (!m) {
            lapps__conn_begin_close(c, 1011, NULL, 0, LAPPS_CLOSED_SERVICE_ERROR);
            return;
        }
        c->msg = m;
        c->msg_cap = cap;
    }
    if (ev->len)
        memcpy(c->msg + c->msg_len, ev->data, ev->len);
    c->msg_len += ev->len;
    if (ev->last) {
        deliver(c, ev->opcode, c->msg, c->msg_len);
        /* No buffer stays with an idle connection; the worker keeps one (up to 1 MiB)
         * for the next message that spans reads, so a stream of them does not cost a
         * malloc and free each. */
        if (!w->spare_msg && c->msg_cap <= (1u << 20)) {
            w->spare_msg = c->msg;
            w->spare_cap = c->msg_cap;
        } else {
            free(c->msg);
        }
        c->msg = NULL;
        c->msg_len = c->msg_cap = 0;
    }
}

static void
control_event(struct lapps_conn *c, const struct lapps__frame_event *ev)
{
    switch (ev->opcode) {
    case LAPPS__OP_PING:
        if (c->state == CONN_OPEN)
            lapps__out_send(c, LAPPS__OP_PONG, ev->data, ev->len);
        break;
    case LAPPS__OP_CLOSE:
        if (c->state == CONN_OPEN) {
            record_close(c, LAPPS_CLOSED_BY_PEER, ev->close_code);
            /* Echo the peer's code (an empty close is answered with an empty one). */
            send_close(c, ev->close_code, NULL, 0);
        }
        if (c->state != CONN_DEAD)
            drain(c);
        break;
    default: /* pong: any frame already counts as a sign of life */
        break;
    }
}

static void
frames_input(struct lapps_conn *c, uint8_t *buf, size_t n)
{
    size_t off = 0;
    while (off < n && (c->state == CONN_OPEN || c->state == CONN_CLOSING)) {
        struct lapps__frame_event ev;
        lapps_ssize r = 0;
        if (!c->fp.in_frame && !c->fp.msg_op && n - off >= 6) {
            /* The common frame, parsed inline and delivered without the general
             * dispatch: a whole message in one frame. */
            r = lapps__frame_whole(&c->fp, buf + off, n - off, &ev);
            if (r > 0) {
                off += (size_t)r;
                if (c->state == CONN_OPEN)
                    deliver(c, ev.opcode, ev.data, ev.len);
                continue;
            }
        }
        if (r == 0) /* the whole-frame check already failed (or could not apply) */
            r = lapps__frame_parse_general(&c->fp, buf + off, n - off, &ev);
        if (r == LAPPS_ERR_AGAIN)
            break;
        if (r < 0) {
            fail(c, c->fp.close_code);
            return;
        }
        off += (size_t)r;
        if (ev.kind == LAPPS__FRAME_DATA)
            data_event(c, &ev);
        else if (ev.kind == LAPPS__FRAME_CONTROL)
            control_event(c, &ev);
    }
    if (off) { /* any frame is a sign of life: idle and ping timers start again */
        c->last_rx = (uint32_t)c->w->now_ms;
        c->flags &= (uint8_t)~CF_PING_OUT;
    }
    size_t left = n - off;
    if (left && (c->state == CONN_OPEN || c->state == CONN_CLOSING)) {
        if (!c->carry && !(c->carry = malloc(CARRY_MAX))) {
            lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
            return;
        }
        memcpy(c->carry, buf + off, left);
        c->carry_len = (uint8_t)left;
    } else if (c->carry) {
        free(c->carry);
        c->carry = NULL;
        c->carry_len = 0;
    }
}

/* ---- the handshake ---- */

static void
refuse(struct lapps_conn *c, int status)
{
    char resp[512];
    lapps_ssize n = lapps__hs_response_error(resp, sizeof resp, status);
    STAT_ADD(c->w, handshakes_failed, 1);
    free(c->hs);
    c->hs = NULL;
    if (n > 0)
        lapps__out_raw(c, resp, (size_t)n);
    if (c->state != CONN_DEAD)
        drain(c);
}

static struct lapps_service *
find_service(struct lapps_server *srv, const struct lapps__str *path)
{
    for (size_t i = 0; i < srv->n_services; i++) {
        struct lapps_service *s = srv->services[i];
        if (s->target_len == path->len && memcmp(s->target, path->p, path->len) == 0)
            return s;
    }
    return NULL;
}

static char *
dup_query(const struct lapps__str *q)
{
    if (!q->len)
        return NULL;
    char *s = malloc(q->len + 1);
    if (s) {
        memcpy(s, q->p, q->len);
        s[q->len] = 0;
    }
    return s;
}

/* The connection belongs to an instance on this worker from now on: frames may follow. */
static void
open_conn(struct lapps_conn *c, struct lapps_instance *inst, char *query)
{
    struct lapps_service *s = inst->svc;
    struct lapps__worker *w = c->w;
    c->inst = inst;
    c->query = query;
    c->state = CONN_OPEN;
    c->flags |= CF_OPENED;
    c->fp = (struct lapps__frame_parser){.max_message = s->max_message ? s->max_message
                                                                       : w->srv->opts.max_message};
    c->last_rx = (uint32_t)w->now_ms;
    const struct lapps_opts *o = &w->srv->opts;
    if (o->idle_ms || o->ping_ms)
        arm(c, o->ping_ms && (!o->idle_ms || o->ping_ms < o->idle_ms) ? o->ping_ms : o->idle_ms);
    else
        lapps__timer_cancel(&w->wheel, &c->timer);
    mark_live(c, true); /* its place was taken before the 101 */
    if (s->on_open)
        s->on_open(c, s->user_data);
}

/* Takes a place for the connection on a worker that hosts the service: this worker
 * when it does (no hand-over), else the hosts in round-robin order from a rotating start,
 * so one full host sends the connection to the next one. -1 when every host is full. */
static int
claim_host(struct lapps__worker *w, struct lapps_service *s)
{
    size_t max = w->srv->opts.max_connections;
    if (w->instances[s->index] && take_place(w, max))
        return (int)w->index;
    unsigned k = atomic_fetch_add_explicit(&s->next_host, 1, memory_order_relaxed);
    for (unsigned i = 0; i < s->n_hosts; i++) {
        unsigned h = s->hosts[(k + i) % s->n_hosts];
        if (h != w->index && take_place(&w->srv->workers[h], max))
            return (int)h;
    }
    return -1;
}

/* Hands a connection whose handshake succeeded on this worker to worker `to`, which
 * hosts the service (DESIGN.md §2): out of this epoll, the 101 written here, then the
 * fd and the bytes that followed the request go through the host's inbox. */
static void
hand_over(struct lapps_conn *c, struct lapps_service *s, unsigned to, const char *resp,
          size_t resp_len, const uint8_t *rest, size_t rest_len, const struct lapps__str *q)
{
    struct lapps__worker *w = c->w;
    struct lapps__post *p = malloc(sizeof *p + rest_len);
    if (!p) {
        give_place(&w->srv->workers[to]);
        refuse(c, 503);
        return;
    }
    memset(p, 0, sizeof *p);
    p->kind = POST_ADOPT;
    p->fd = c->fd;
    p->tls = c->tls;
    p->svc = s;
    p->query = dup_query(q);
    p->len = rest_len;
    if (rest_len)
        memcpy(p->data, rest, rest_len);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    /* A fresh socket's send buffer takes a 101 whole; if it does not, give up. */
    lapps_ssize sent = lapps__out_write_now(c, resp, resp_len);
    if (sent != (lapps_ssize)resp_len || lapps__worker_post(&w->srv->workers[to], p) != 0) {
        free(p->query);
        free(p);
        give_place(&w->srv->workers[to]);
        STAT_ADD(w, handshakes_failed, 1);
        lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
        return;
    }
    STAT_ADD(w, handed_over, 1);
    /* The fd and the session now belong to the host: this worker forgets them. */
    c->fd = -1;
    c->tls = NULL;
    kill(c);
}

static void
handshake_done(struct lapps_conn *c, const struct lapps__hs_request *req, uint8_t *rest,
               size_t rest_len)
{
    struct lapps__worker *w = c->w;
    struct lapps_server *srv = w->srv;
    struct lapps_service *s = find_service(srv, &req->path);
    if (!s) {
        refuse(c, 404);
        return;
    }
    /* The service's ACL and origins, on the worker that parsed the request: before a place
     * is taken on a host, before any hand-over and before the 101. */
    if (s->acl && !lapps__acl_allows_peer(s->acl, c->fd)) {
        STAT_ADD(w, acl_refused, 1);
        refuse(c, 403);
        return;
    }
    if (!lapps__svc_origin_allowed(s, &req->origin)) {
        refuse(c, 403);
        return;
    }
    /* A server that is stopping takes no new connection, whichever worker would host it. */
    int host = atomic_load_explicit(&srv->state, memory_order_acquire) >= 2 || w->stopping
                   ? -1
                   : claim_host(w, s);
    if (host < 0) {
        refuse(c, 503);
        return;
    }
    /* The service's extra headers and proto_alias are in this 101, which this worker
     * writes, also for a connection it hands over. */
    char resp[LAPPS__HS_MAX_RESPONSE];
    lapps_ssize n = lapps__svc_response_101(s, req, resp, sizeof resp);
    if (n < 0) {
        give_place(&srv->workers[host]);
        refuse(c, 500);
        return;
    }
    struct lapps_instance *inst = w->instances[s->index];
    if ((unsigned)host != w->index) {
        hand_over(c, s, (unsigned)host, resp, (size_t)n, rest, rest_len, &req->query);
        return;
    }
    char *query = dup_query(&req->query);
    /* rest may live in c->hs: move it to the read buffer before freeing that. */
    if (rest_len && (uint8_t *)rest != w->rbuf)
        memmove(w->rbuf, rest, rest_len);
    free(c->hs);
    c->hs = NULL;
    lapps__out_raw(c, resp, (size_t)n);
    if (c->state == CONN_DEAD) {
        give_place(w);
        free(query);
        return;
    }
    open_conn(c, inst, query);
    if (rest_len && c->state == CONN_OPEN)
        frames_input(c, w->rbuf, rest_len);
}

static void
handshake_input(struct lapps_conn *c, uint8_t *buf, size_t n)
{
    struct lapps__worker *w = c->w;
    struct lapps__hs_parser first = {.max_size = w->srv->opts.max_handshake};
    struct lapps__hs_parser *ps = &first;
    struct lapps__hs_request *req = &w->hs_req;
    const char *text = (const char *)buf;
    size_t len = n;
    if (c->hs) {
        ps = &c->hs->parser;
        req = &c->hs->req;
        text = c->hs->buf;
        len = c->hs->len;
    }
    lapps_ssize r = lapps__hs_parse(ps, text, len, req);
    if (r == LAPPS_ERR_AGAIN) {
        if (!c->hs) {
            /* The request spans reads: keep its bytes and the parser's progress. */
            size_t max = w->srv->opts.max_handshake;
            c->hs = malloc(sizeof *c->hs + max);
            if (!c->hs) {
                lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
                return;
            }
            c->hs->parser = first;
            c->hs->req = *req;
            memcpy(c->hs->buf, buf, n);
            c->hs->len = n;
        }
        return;
    }
    if (r < 0) {
        refuse(c, lapps__hs_error_status((int)r));
        return;
    }
    handshake_done(c, req, (uint8_t *)text + r, len - (size_t)r);
}

/* ---- events ---- */

/* Reads what the socket (or the TLS session) has, up to room bytes.
 * @return the bytes read; 0 when nothing is there yet; -1 at EOF or on an error. */
static lapps_ssize
conn_read(struct lapps_conn *c, uint8_t *buf, size_t room)
{
    STAT_ADD(c->w, reads, 1);
    if (c->tls) {
        size_t got;
        switch (lapps__tls_read(c->tls, buf, room, &got)) {
        case LAPPS__TLS_OK:
            return (lapps_ssize)got;
        case LAPPS__TLS_WANT_READ:
            return 0;
        case LAPPS__TLS_WANT_WRITE:
            /* The handshake has bytes for a full socket: read again once it drains. */
            c->flags |= CF_TLS_READ_WANTS_WRITE;
            lapps__out_flush(c);
            return 0;
        default:
            return -1;
        }
    }
    long r;
    do {
        r = lapps__sys6(SYS_recvfrom, c->fd, (long)buf, (long)room, 0, 0, 0);
    } while (r == -EINTR);
    if (r == -EAGAIN || r == -EWOULDBLOCK)
        return 0;
    return r > 0 ? r : -1;
}

static void
on_readable(struct lapps_conn *c)
{
    struct lapps__worker *w = c->w;
    /* One read per readiness; a TLS session may hold decrypted bytes that no epoll
     * event will announce, so it reads again while it does. */
    do {
        uint8_t *buf = w->rbuf;
        size_t room = LAPPS__READ_BUF, have = 0;
        if (c->state == CONN_HANDSHAKE && c->hs) {
            buf = (uint8_t *)c->hs->buf + c->hs->len;
            room = w->srv->opts.max_handshake - c->hs->len;
        } else if (c->carry_len) {
            memcpy(buf, c->carry, c->carry_len);
            have = c->carry_len;
        }
        lapps_ssize r = conn_read(c, buf + have, room);
        if (r == 0)
            return;
        if (r < 0) {
            /* EOF or a reset: the end of a close handshake, or a dropped connection (or,
             * before the 101, a failed handshake: TLS refused, or the client left). */
            if (c->state == CONN_HANDSHAKE)
                STAT_ADD(w, handshakes_failed, 1);
            lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
            return;
        }
        STAT_ADD(w, bytes_in, (uint64_t)r);
        switch (c->state) {
        case CONN_HANDSHAKE:
            if (c->hs) {
                c->hs->len += (size_t)r;
                handshake_input(c, (uint8_t *)c->hs->buf, c->hs->len);
            } else {
                handshake_input(c, buf, (size_t)r);
            }
            break;
        case CONN_OPEN:
        case CONN_CLOSING:
            c->carry_len = 0;
            /* Sends from the service while this input is handled leave together. */
            w->cork_conn = c;
            c->flags |= CF_IN_BATCH;
            frames_input(c, buf, have + (size_t)r);
            lapps__out_uncork(w);
            break;
        default: /* draining: the peer's bytes are dropped until its FIN */
            break;
        }
    } while (c->tls && c->state != CONN_DEAD && c->fd >= 0 && lapps__tls_pending(c->tls));
}

void
lapps__conn_on_event(struct lapps_conn *c, uint32_t events)
{
    if (c->state == CONN_DEAD)
        return;
    bool read = events & (EPOLLIN | EPOLLHUP | EPOLLERR);
    if ((events & EPOLLOUT) && (c->flags & CF_TLS_READ_WANTS_WRITE)) {
        c->flags &= (uint8_t)~CF_TLS_READ_WANTS_WRITE;
        read = true;
    }
    if (events & EPOLLOUT)
        lapps__out_flush(c);
    if (c->state != CONN_DEAD && read)
        on_readable(c);
}

void
lapps__conn_accept(struct lapps__worker *w, int fd, struct lapps__tls_ctx *tls)
{
    STAT_ADD(w, accepted, 1);
    /* Handshakes beyond twice the connection limit are not even read: memory stays
     * bounded whatever a flood of connects does. */
    if (w->n_conns >= 2 * w->srv->opts.max_connections + 16) {
        close(fd);
        STAT_ADD(w, handshakes_failed, 1);
        return;
    }
    struct lapps_conn *c = conn_new(w, fd);
    if (!c) {
        close(fd);
        return;
    }
    /* The TLS handshake counts against the handshake timeout too. */
    arm(c, w->srv->opts.handshake_ms);
    if (tls && !(c->tls = lapps__tls_new(tls, fd))) {
        lapps_log(w->srv, LAPPS_LOG_WARN, "cannot create a TLS session");
        lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
    }
}

void
lapps__conn_adopt(struct lapps__worker *w, struct lapps__post *p)
{
    struct lapps_conn *c = conn_new(w, p->fd);
    struct lapps_instance *inst = w->instances[p->svc->index];
    if (c)
        c->tls = p->tls; /* freed with the connection from here */
    if (!c || !inst) {
        give_place(w); /* taken by the worker that handed it over */
        if (c) {
            kill(c);
        } else {
            lapps__tls_free(p->tls);
            close(p->fd);
        }
        free(p->query);
        return;
    }
    open_conn(c, inst, p->query);
    if (w->stopping) {
        /* The stop began after the 101 left: the client gets a clean 1001, not a drop. */
        lapps__conn_begin_close(c, 1001, "server stopping", 15, LAPPS_CLOSED_SHUTDOWN);
        return;
    }
    if (p->len && c->state == CONN_OPEN) {
        memcpy(w->rbuf, p->data, p->len);
        w->cork_conn = c;
        c->flags |= CF_IN_BATCH;
        frames_input(c, w->rbuf, p->len);
        lapps__out_uncork(w);
    }
    /* Plaintext the session already decrypted raises no epoll event: read it now. */
    if (c->tls && c->state != CONN_DEAD && lapps__tls_pending(c->tls))
        on_readable(c);
}

void
lapps__conn_on_timer(struct lapps__timer *t, void *arg)
{
    struct lapps_conn *c = (struct lapps_conn *)((char *)t - offsetof(struct lapps_conn, timer));
    struct lapps__worker *w = arg;
    const struct lapps_opts *o = &w->srv->opts;
    switch (c->state) {
    case CONN_HANDSHAKE:
        STAT_ADD(w, handshakes_failed, 1);
        lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
        return;
    case CONN_OPEN: {
        uint32_t idle = (uint32_t)w->now_ms - c->last_rx;
        if (o->idle_ms && idle >= o->idle_ms) {
            lapps__conn_begin_close(c, 1001, "idle", 4, LAPPS_CLOSED_TIMEOUT);
            return;
        }
        if (o->ping_ms && idle >= o->ping_ms && !(c->flags & CF_PING_OUT)) {
            c->flags |= CF_PING_OUT;
            lapps__out_send(c, LAPPS__OP_PING, NULL, 0);
        }
        uint32_t next = UINT32_MAX;
        if (o->idle_ms)
            next = o->idle_ms - idle;
        if (o->ping_ms && !(c->flags & CF_PING_OUT) && o->ping_ms - idle < next)
            next = o->ping_ms - idle;
        if (next == UINT32_MAX) /* a ping is out and there is no idle limit */
            next = o->ping_ms;
        if (c->state == CONN_OPEN)
            arm(c, next);
        return;
    }
    default: /* the peer did not finish the close handshake in time */
        lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
        return;
    }
}
