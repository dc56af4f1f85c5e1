/* output.c — the write path of a connection.
 *
 * A send goes straight to the socket when nothing is queued (one sendmsg of header and
 * payload, MSG_NOSIGNAL so the host never sees SIGPIPE); only what the kernel does not
 * take is copied into the connection's queue, and EPOLLOUT is armed only while that
 * queue is not empty. While the worker handles one read of a connection, that
 * connection's sends are corked instead: copied into the worker's cork buffer and sent
 * together when the read is handled, so a client that pipelines eight requests gets its
 * eight replies in one system call. On a TLS connection the same bytes go through the
 * session instead of sendmsg (gathered into records), with the same queue rules. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "net/net.h"
#include "util/sys.h"

#define CHUNK_MIN 4096u

static void
set_epollout(struct lapps_conn *c, bool on)
{
    on = on || (c->flags & CF_TLS_READ_WANTS_WRITE);
    if (!!(c->flags & CF_EPOLLOUT) == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->flags ^= CF_EPOLLOUT;
}

void
lapps__shared_unref(struct lapps__shared *sh)
{
    if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) == 1)
        free(sh);
}

static void
chunk_free(struct lapps__chunk *k)
{
    if (k->ref)
        lapps__shared_unref(k->ref);
    free(k);
}

/* Copies bytes to the end of the queue. */
static int
enqueue(struct lapps_conn *c, const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        while (len) {
            struct lapps__chunk *t = c->out_tail;
            if (!t || t->off + t->len == t->cap) {
                size_t cap = len > CHUNK_MIN ? len : CHUNK_MIN;
                t = malloc(sizeof *t + cap);
                if (!t)
                    return LAPPS_ERR_NOMEM;
                t->next = NULL;
                t->off = t->len = 0;
                t->cap = (uint32_t)cap;
                t->ref = NULL;
                if (c->out_tail)
                    c->out_tail->next = t;
                else
                    c->out_head = t;
                c->out_tail = t;
            }
            size_t room = t->cap - t->off - t->len;
            size_t k = len < room ? len : room;
            memcpy(t->data + t->off + t->len, p, k);
            t->len += (uint32_t)k;
            c->out_bytes += k;
            p += k;
            len -= k;
        }
    }
    return 0;
}

/* Writes iov to the socket; returns bytes written (possibly 0), or -1 when the
 * connection failed (it is then aborted). */
static ssize_t
write_iov(struct lapps_conn *c, struct iovec *iov, int n)
{
    if (c->tls) {
        size_t done;
        enum lapps__tls_io o = lapps__tls_write(c->tls, iov, n, &done);
        STAT_ADD(c->w, writes, 1);
        STAT_ADD(c->w, bytes_out, done);
        if (o == LAPPS__TLS_OK || o == LAPPS__TLS_WANT_WRITE || o == LAPPS__TLS_WANT_READ)
            return (ssize_t)done;
        lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
        return -1;
    }
    long w;
    do {
        if (n == 1) {
            w = lapps__sys6(SYS_sendto, c->fd, (long)iov[0].iov_base, (long)iov[0].iov_len,
                            MSG_NOSIGNAL | MSG_DONTWAIT, 0, 0);
        } else {
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
            w = lapps__sys6(SYS_sendmsg, c->fd, (long)&mh, MSG_NOSIGNAL | MSG_DONTWAIT, 0, 0, 0);
        }
    } while (w == -EINTR);
    STAT_ADD(c->w, writes, 1);
    if (w >= 0) {
        STAT_ADD(c->w, bytes_out, (uint64_t)w);
        return w;
    }
    if (w == -EAGAIN || w == -EWOULDBLOCK)
        return 0;
    lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
    return -1;
}

/* Sends iov now if nothing is queued, queueing what the kernel does not take. */
static int
send_or_queue(struct lapps_conn *c, struct iovec *iov, int n)
{
    if (c->state == CONN_DEAD)
        return LAPPS_ERR_STATE;
    if (!c->out_head) {
        ssize_t w = write_iov(c, iov, n);
        if (w < 0)
            return LAPPS_ERR_STATE;
        size_t left = (size_t)w;
        while (n > 0 && left >= iov[0].iov_len) {
            left -= iov[0].iov_len;
            iov++;
            n--;
        }
        if (n == 0)
            return 0;
        iov[0].iov_base = (uint8_t *)iov[0].iov_base + left;
        iov[0].iov_len -= left;
    }
    int rv = enqueue(c, iov, n);
    if (rv == 0)
        set_epollout(c, true);
    return rv;
}

static int
check_limit(struct lapps_conn *c, size_t add)
{
    size_t limit = c->w->srv->opts.max_outbound;
    size_t queued = c->out_bytes + (c->w->cork_conn == c ? c->w->cork_total : 0);
    /* A message is always taken when nothing waits (so one message of any size can be
     * sent); otherwise what waits plus the message must stay within the limit. */
    if (queued && queued + add > limit) {
        lapps_log(c->w->srv, LAPPS_LOG_INFO, "connection %u: outbound limit reached, closing",
                  c->slot);
        lapps__conn_fail_outbound(c);
        return LAPPS_ERR_LIMIT;
    }
    if (queued + add > limit / 2)
        c->flags |= CF_WANT_DRAIN;
    return 0;
}

/* Sends what the cork holds; the connection stays corked. */
static void
flush_cork(struct lapps__worker *w)
{
    struct lapps_conn *c = w->cork_conn;
    int n = w->cork_n;
    if (n && c->state != CONN_DEAD)
        send_or_queue(c, w->cork_iov, n); /* what the kernel does not take is copied */
    w->cork_len = 0;
    w->cork_total = 0;
    w->cork_n = 0;
}

/* Room for n more bytes in the cork buffer, as the continuation of the last piece when
 * that piece ends there. */
static inline uint8_t *
cork_reserve(struct lapps__worker *w, size_t n)
{
    uint8_t *dst = w->cork + w->cork_len;
    struct iovec *last = w->cork_n ? &w->cork_iov[w->cork_n - 1] : NULL;
    if (last && (uint8_t *)last->iov_base + last->iov_len == dst)
        last->iov_len += n;
    else
        w->cork_iov[w->cork_n++] = (struct iovec){dst, n};
    w->cork_len += n;
    w->cork_total += n;
    return dst;
}

void
lapps__out_uncork(struct lapps__worker *w)
{
    if (!w->cork_conn)
        return;
    struct lapps_conn *c = w->cork_conn;
    if (w->cork_n == 1 && !c->out_head && c->state != CONN_DEAD) {
        /* One piece and nothing queued, the usual reply to one read: write it and
         * queue only what the kernel does not take. */
        ssize_t k = write_iov(c, w->cork_iov, 1);
        if (k >= 0 && (size_t)k < w->cork_iov[0].iov_len) {
            struct iovec rest = {(uint8_t *)w->cork_iov[0].iov_base + k,
                                 w->cork_iov[0].iov_len - (size_t)k};
            if (enqueue(c, &rest, 1) == 0)
                set_epollout(c, true);
            else
                lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
        }
        w->cork_len = w->cork_total = 0;
        w->cork_n = 0;
    } else {
        flush_cork(w);
    }
    c->flags &= (uint8_t)~CF_IN_BATCH;
    w->cork_conn = NULL;
    /* Sends the FIN a close handshake left pending, and calls the on_drain owed when the
     * cork held more than half the limit but the kernel took it all (then no EPOLLOUT
     * will come to do it). */
    if (c->state != CONN_DEAD &&
        ((c->flags & CF_SHUT_WR) || ((c->flags & CF_WANT_DRAIN) && !c->out_head)))
        lapps__out_flush(c);
}

/* Broadcast frames, in order: written now in one system call if nothing waits, and what
 * the kernel does not take is queued by reference (a shared chunk is never appended to,
 * so the queue stays a list of whole frames). They count in full against the outbound
 * limit, as copies would. */
int
lapps__out_shared(struct lapps_conn *c, struct lapps__shared *const *sh, int n)
{
    struct lapps__worker *w = c->w;
    if (c->state != CONN_OPEN)
        return LAPPS_ERR_STATE;
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += sh[i]->len;
    int rv = check_limit(c, total);
    if (rv != 0)
        return rv;
    STAT_ADD(w, messages_out, (uint64_t)n);
    if (w->cork_conn == c)
        flush_cork(w); /* what the cork holds leaves first */
    int i = 0;
    size_t off = 0;
    if (!c->out_head) {
        struct iovec iov[LAPPS__FAN_BATCH];
        for (int k = 0; k < n; k++)
            iov[k] = (struct iovec){sh[k]->data, sh[k]->len};
        ssize_t k = write_iov(c, iov, n);
        if (k < 0)
            return LAPPS_ERR_STATE;
        for (off = (size_t)k; i < n && off >= sh[i]->len; i++)
            off -= sh[i]->len;
        if (i == n)
            return 0;
    }
    for (; i < n; i++, off = 0) {
        struct lapps__chunk *t = malloc(sizeof *t);
        if (!t) {
            /* A frame is cut or missing: nothing may follow on this connection. */
            lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
            return LAPPS_ERR_NOMEM;
        }
        atomic_fetch_add_explicit(&sh[i]->refs, 1, memory_order_relaxed);
        *t = (struct lapps__chunk){.off = (uint32_t)off,
                                   .len = (uint32_t)(sh[i]->len - off),
                                   .cap = sh[i]->len,
                                   .ref = sh[i]};
        if (c->out_tail)
            c->out_tail->next = t;
        else
            c->out_head = t;
        c->out_tail = t;
        c->out_bytes += t->len;
    }
    set_epollout(c, true);
    return 0;
}

int
lapps__out_raw(struct lapps_conn *c, const void *data, size_t len)
{
    struct iovec iov = {(void *)data, len};
    return send_or_queue(c, &iov, 1);
}

/* A long message in frames of opts.fragment bytes (lapps_opts_set_auto_fragment): the
 * first with the opcode, the rest continuations, FIN on the last; all of it taken or
 * refused at once, so the queue stays message-atomic. */
static int
out_fragmented(struct lapps_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    struct lapps__worker *w = c->w;
    size_t size = w->srv->opts.fragment, n = (len + size - 1) / size;
    int rv = check_limit(c, len + n * LAPPS__FRAME_MAX_HEADER);
    if (rv != 0)
        return rv;
    STAT_ADD(w, messages_out, 1);
    if (w->cork_conn == c)
        flush_cork(w); /* what the cork holds leaves first */
    enum { GROUP = 16 };
    uint8_t hdr[GROUP][LAPPS__FRAME_MAX_HEADER];
    struct iovec iov[2 * GROUP];
    for (size_t i = 0; i < n && rv == 0;) {
        int k = 0;
        for (; k < GROUP && i < n; k++, i++) {
            size_t piece = i + 1 < n ? size : len - i * size;
            size_t hn = lapps__frame_header(hdr[k], i == 0 ? opcode : 0, i + 1 == n, piece, NULL);
            iov[2 * k] = (struct iovec){hdr[k], hn};
            iov[2 * k + 1] = (struct iovec){(void *)(data + i * size), piece};
        }
        rv = send_or_queue(c, iov, 2 * k);
    }
    if (rv == LAPPS_ERR_NOMEM) /* part of the message is out: nothing may follow it */
        lapps__conn_abort(c, LAPPS_CLOSED_DROPPED, 1006);
    return rv;
}

/* Every send but the fast path below; out of line so that path has no register saves. */
static __attribute__((noinline)) int
out_send_slow(struct lapps_conn *c, uint8_t opcode, const void *data, size_t len)
{
    struct lapps__worker *w = c->w;
    if (opcode < LAPPS__OP_CLOSE && w->srv->opts.fragment && len >= 2 * w->srv->opts.fragment)
        return out_fragmented(c, opcode, data, len);
    size_t hn = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10; /* what lapps__frame_header writes */
    if (opcode != LAPPS__OP_CLOSE) {
        /* Pongs count too: a peer that pings and never reads must not grow our queue. */
        int rv = check_limit(c, hn + len);
        if (rv != 0)
            return rv;
        if (opcode < LAPPS__OP_CLOSE)
            STAT_ADD(w, messages_out, 1);
    }
    if (w->cork_conn == c) {
        /* A large payload still in the worker's read buffer (an echo, a forward) is corked
         * by reference: that buffer does not change until the read's replies are sent. */
        bool by_ref = len >= 1024 && (const uint8_t *)data >= w->rbuf &&
                      (const uint8_t *)data + len <= w->rbuf + LAPPS__RBUF_SIZE;
        size_t copy = hn + (by_ref ? 0 : len);
        if (w->cork_len + copy > LAPPS__CORK_BUF || w->cork_n + 2 > (int)LAPPS__CORK_IOV)
            flush_cork(w);
        if (!c->out_head && copy <= LAPPS__CORK_BUF - w->cork_len) {
            lapps__frame_header(cork_reserve(w, hn), opcode, true, len, NULL);
            if (by_ref) {
                w->cork_iov[w->cork_n++] = (struct iovec){(void *)data, len};
                w->cork_total += len;
            } else if (len) {
                memcpy(cork_reserve(w, len), data, len);
            }
            return 0;
        }
        flush_cork(w); /* what the cork holds leaves first */
    }
    uint8_t hdr[LAPPS__FRAME_MAX_HEADER];
    lapps__frame_header(hdr, opcode, true, len, NULL);
    struct iovec iov[2] = {{hdr, hn}, {(void *)data, len}};
    return send_or_queue(c, iov, len ? 2 : 1);
}

int
lapps__out_send(struct lapps_conn *c, uint8_t opcode, const void *data, size_t len)
{
    struct lapps__worker *w = c->w;
    /* The most frequent send: a small data frame corked behind the read that caused it,
     * with nothing queued. check_limit() cannot fire below half the limit, so it is
     * skipped; header and payload go into the cork as one piece. */
    if (w->cork_conn == c && len < 126 && opcode < LAPPS__OP_CLOSE && !c->out_head &&
        w->cork_len + 2 + len <= LAPPS__CORK_BUF && w->cork_n < (int)LAPPS__CORK_IOV - 1 &&
        w->cork_total + 2 + len <= w->srv->opts.max_outbound / 2) {
        uint8_t *dst = cork_reserve(w, 2 + len);
        dst[0] = (uint8_t)(0x80 | opcode);
        dst[1] = (uint8_t)len;
        if (len) /* an empty message may come with data NULL */
            memcpy(dst + 2, data, len);
        STAT_ADD(w, messages_out, 1);
        return 0;
    }
    return out_send_slow(c, opcode, data, len);
}

void
lapps__out_flush(struct lapps_conn *c)
{
    while (c->out_head && c->state != CONN_DEAD) {
        struct iovec iov[16];
        int n = 0;
        for (struct lapps__chunk *k = c->out_head; k && n < 16; k = k->next, n++)
            iov[n] = (struct iovec){(k->ref ? k->ref->data : k->data) + k->off, k->len};
        ssize_t w = write_iov(c, iov, n);
        if (w <= 0)
            break;
        size_t left = (size_t)w;
        c->out_bytes -= left;
        while (left) {
            struct lapps__chunk *k = c->out_head;
            if (left < k->len) {
                k->off += (uint32_t)left;
                k->len -= (uint32_t)left;
                break;
            }
            left -= k->len;
            c->out_head = k->next;
            if (!c->out_head)
                c->out_tail = NULL;
            chunk_free(k);
        }
    }
    if (c->state == CONN_DEAD)
        return;
    set_epollout(c, c->out_head != NULL);
    if ((c->flags & CF_WANT_DRAIN) && c->out_bytes <= c->w->srv->opts.max_outbound / 2) {
        c->flags &= (uint8_t)~CF_WANT_DRAIN;
        struct lapps_service *s = c->inst ? c->inst->svc : NULL;
        if (s && s->on_drain && c->state == CONN_OPEN)
            s->on_drain(c, s->user_data);
    }
    if (!c->out_head && (c->flags & CF_SHUT_WR)) {
        c->flags &= (uint8_t)~CF_SHUT_WR;
        if (c->tls)
            lapps__tls_close_notify(c->tls);
        shutdown(c->fd, SHUT_WR);
    }
}

/* Writes bytes now, without queueing (the 101 of a connection being handed over, which
 * a fresh socket takes whole). @return the bytes taken, or -1 (aborted). */
lapps_ssize
lapps__out_write_now(struct lapps_conn *c, const void *data, size_t len)
{
    struct iovec iov = {(void *)data, len};
    return write_iov(c, &iov, 1);
}

void
lapps__out_free(struct lapps_conn *c)
{
    struct lapps__chunk *k = c->out_head;
    while (k) {
        struct lapps__chunk *next = k->next;
        chunk_free(k);
        k = next;
    }
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
}
