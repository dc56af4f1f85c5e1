/* bcast.c — broadcast channels: the registry, subscriptions and the fan-out.
 *
 * Channels sit in a hash table under one mutex; they are never removed before the server
 * is freed, so a channel found once may be used without the lock. Each channel keeps, per
 * worker, the list of that worker's subscribers, which only that worker reads or writes:
 * a subscription made on another thread, and every broadcast, reach the worker through
 * its inbox, in the order they were posted. So the message path takes no lock: a send
 * builds its frame once, posts one reference to it to each worker that has subscribers
 * (the channel's per-worker counts say which), and each worker writes it to its own
 * connections (lapps__out_shared: written now, queued by reference if the kernel does not
 * take it). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapps/bcast.h>

#include "net/net.h"
#include "proto/message.h"
#include "util/utf8.h"

__thread struct lapps__worker *lapps__this_worker;

/* ---- the registry ---- */

static size_t
bucket_of(uint64_t id, size_t n_buckets)
{
    /* Fibonacci hashing: channel ids are often small consecutive numbers. */
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (n_buckets - 1);
}

/* The channel, or NULL. Caller holds chan_lock. */
static struct lapps__chan *
find_locked(struct lapps_server *srv, uint64_t id)
{
    if (!srv->chans)
        return NULL;
    for (struct lapps__chan *ch = srv->chans[bucket_of(id, srv->chan_buckets)]; ch; ch = ch->next)
        if (ch->id == id)
            return ch;
    return NULL;
}

static struct lapps__chan *
find(struct lapps_server *srv, uint64_t id)
{
    pthread_mutex_lock(&srv->chan_lock);
    struct lapps__chan *ch = find_locked(srv, id);
    pthread_mutex_unlock(&srv->chan_lock);
    return ch;
}

/* Doubles the table when it holds as many channels as buckets. Caller holds chan_lock. */
static int
grow_locked(struct lapps_server *srv)
{
    size_t n = srv->chan_buckets ? srv->chan_buckets * 2 : 64;
    struct lapps__chan **t = calloc(n, sizeof *t);
    if (!t)
        return LAPPS_ERR_NOMEM;
    for (size_t i = 0; i < srv->chan_buckets; i++) {
        struct lapps__chan *ch = srv->chans[i];
        while (ch) {
            struct lapps__chan *next = ch->next;
            size_t b = bucket_of(ch->id, n);
            ch->next = t[b];
            t[b] = ch;
            ch = next;
        }
    }
    free(srv->chans);
    srv->chans = t;
    srv->chan_buckets = n;
    return 0;
}

LAPPS_EXPORT int
lapps_bcast_create(lapps_server *srv, uint64_t channel)
{
    if (!srv)
        return LAPPS_ERR_INVAL;
    int rv = 0;
    pthread_mutex_lock(&srv->chan_lock);
    if (find_locked(srv, channel))
        goto out;
    if (srv->n_chans >= srv->chan_buckets && (rv = grow_locked(srv)) != 0)
        goto out;
    struct lapps__chan *ch =
        calloc(1, sizeof *ch + srv->n_workers * sizeof(struct lapps__chan_worker));
    if (!ch) {
        rv = LAPPS_ERR_NOMEM;
        goto out;
    }
    ch->id = channel;
    size_t b = bucket_of(channel, srv->chan_buckets);
    ch->next = srv->chans[b];
    srv->chans[b] = ch;
    srv->n_chans++;
out:
    pthread_mutex_unlock(&srv->chan_lock);
    return rv;
}

void
lapps__bcast_free(struct lapps_server *srv)
{
    for (size_t i = 0; i < srv->chan_buckets; i++) {
        struct lapps__chan *ch = srv->chans[i];
        while (ch) {
            struct lapps__chan *next = ch->next;
            for (unsigned k = 0; k < srv->n_workers; k++)
                free(ch->w[k].m);
            free(ch);
            ch = next;
        }
    }
    free(srv->chans);
    srv->chans = NULL;
    srv->chan_buckets = srv->n_chans = 0;
}

LAPPS_EXPORT size_t
lapps_bcast_subscribers(lapps_server *srv, uint64_t channel)
{
    struct lapps__chan *ch = srv ? find(srv, channel) : NULL;
    size_t n = 0;
    for (unsigned k = 0; ch && k < srv->n_workers; k++)
        n += atomic_load_explicit(&ch->w[k].count, memory_order_relaxed);
    return n;
}

/* ---- memberships (on the connection's worker only) ---- */

static int
grow(void **p, uint32_t *cap, size_t size)
{
    uint32_t n = *cap ? *cap * 2 : 4;
    void *q = realloc(*p, n * size);
    if (!q)
        return LAPPS_ERR_NOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int
join(struct lapps_conn *c, struct lapps__chan *ch)
{
    struct lapps__chan_worker *cw = &ch->w[c->w->index];
    for (uint32_t i = 0; i < c->n_subs; i++)
        if (c->subs[i].ch == ch)
            return 1; /* already subscribed */
    if (c->n_subs == c->cap_subs && grow((void **)&c->subs, &c->cap_subs, sizeof *c->subs) != 0)
        return LAPPS_ERR_NOMEM;
    if (cw->n == cw->cap && grow((void **)&cw->m, &cw->cap, sizeof *cw->m) != 0)
        return LAPPS_ERR_NOMEM;
    c->subs[c->n_subs] = (struct lapps__sub){ch, cw->n};
    cw->m[cw->n++] = (struct lapps__member){c, c->n_subs++};
    return 0;
}

/* Removes membership @p i of @p c from both lists, moving the last entry of each into
 * the hole (and fixing its back-index). */
static void
leave_at(struct lapps_conn *c, uint32_t i)
{
    struct lapps__chan *ch = c->subs[i].ch;
    struct lapps__chan_worker *cw = &ch->w[c->w->index];
    uint32_t m = c->subs[i].member;
    cw->m[m] = cw->m[--cw->n];
    if (m < cw->n)
        cw->m[m].c->subs[cw->m[m].sub].member = m;
    c->subs[i] = c->subs[--c->n_subs];
    if (i < c->n_subs)
        cw->m[c->subs[i].member].sub = i;
    atomic_fetch_sub_explicit(&cw->count, 1, memory_order_relaxed);
}

static int
leave(struct lapps_conn *c, struct lapps__chan *ch)
{
    for (uint32_t i = 0; i < c->n_subs; i++)
        if (c->subs[i].ch == ch) {
            leave_at(c, i);
            return 0;
        }
    return LAPPS_ERR_NOT_FOUND;
}

void
lapps__bcast_conn_gone(struct lapps_conn *c)
{
    while (c->n_subs)
        leave_at(c, c->n_subs - 1);
    free(c->subs);
    c->subs = NULL;
    c->cap_subs = 0;
}

/* Subscribes on the worker that holds the connection. The channel's count was raised by
 * the caller; it stays raised only for a new membership. */
static int
apply_subscribe(struct lapps__worker *w, struct lapps__chan *ch, uint64_t id)
{
    struct lapps_conn *c = lapps__conn_by_id(w, id);
    int rv = c && c->state == CONN_OPEN ? join(c, ch) : LAPPS_ERR_NOT_FOUND;
    if (rv != 0)
        atomic_fetch_sub_explicit(&ch->w[w->index].count, 1, memory_order_relaxed);
    return rv < 0 ? rv : 0;
}

static int
apply_unsubscribe(struct lapps__worker *w, struct lapps__chan *ch, uint64_t id)
{
    struct lapps_conn *c = lapps__conn_by_id(w, id);
    return c ? leave(c, ch) : LAPPS_ERR_NOT_FOUND;
}

static int
post_membership(struct lapps__worker *w, struct lapps__chan *ch, uint64_t id, uint8_t kind)
{
    struct lapps__post *p = calloc(1, sizeof *p);
    if (!p)
        return LAPPS_ERR_NOMEM;
    p->kind = kind;
    p->id = id;
    p->chan = ch;
    int rv = lapps__worker_post(w, p);
    if (rv != 0)
        free(p);
    return rv;
}

static int
membership(lapps_server *srv, uint64_t channel, uint64_t conn_id, bool subscribe)
{
    if (!srv)
        return LAPPS_ERR_INVAL;
    struct lapps__chan *ch = find(srv, channel);
    struct lapps__worker *w = ch ? lapps__worker_of(srv, conn_id) : NULL;
    if (!w)
        return LAPPS_ERR_NOT_FOUND;
    atomic_uint *count = &ch->w[w->index].count;
    if (subscribe)
        atomic_fetch_add_explicit(count, 1, memory_order_relaxed);
    if (lapps__this_worker == w)
        return subscribe ? apply_subscribe(w, ch, conn_id) : apply_unsubscribe(w, ch, conn_id);
    /* Another thread: the worker applies it in inbox order, before any broadcast posted
     * after this returns (the raised count makes senders post there meanwhile). */
    int rv = post_membership(w, ch, conn_id, subscribe ? POST_SUBSCRIBE : POST_UNSUBSCRIBE);
    if (rv != 0 && subscribe)
        atomic_fetch_sub_explicit(count, 1, memory_order_relaxed);
    return rv;
}

LAPPS_EXPORT int
lapps_bcast_subscribe(lapps_server *srv, uint64_t channel, uint64_t conn_id)
{
    return membership(srv, channel, conn_id, true);
}

LAPPS_EXPORT int
lapps_bcast_unsubscribe(lapps_server *srv, uint64_t channel, uint64_t conn_id)
{
    return membership(srv, channel, conn_id, false);
}

/* ---- the fan-out ---- */

/* Writes frames to this worker's subscribers of the channel, all of them to each member
 * in one system call (those its protocol takes). Closing a connection here (its
 * outbound limit) only marks it dead: memberships go when it is reaped, after the loop,
 * so the list does not change under it. */
static void
write_members(struct lapps__worker *w, struct lapps__chan *ch, struct lapps__shared *const *sh,
              int n, bool all_lapps)
{
    struct lapps__chan_worker *cw = &ch->w[w->index];
    struct lapps__shared *mine[LAPPS__FAN_BATCH];
    for (uint32_t i = 0; i < cw->n; i++) {
        struct lapps_conn *c = cw->m[i].c;
        if (c->state != CONN_OPEN)
            continue;
        if (all_lapps || c->inst->svc->protocol == LAPPS_PROTO_RAW) {
            lapps__out_shared(c, sh, n);
            continue;
        }
        int k = 0; /* a LAppS connection takes LAppS messages only */
        for (int j = 0; j < n; j++)
            if (sh[j]->lapps)
                mine[k++] = sh[j];
        if (k)
            lapps__out_shared(c, mine, k);
    }
}

struct lapps__post *
lapps__bcast_fan_out(struct lapps__worker *w, struct lapps__post *p)
{
    /* The broadcasts that wait behind this one on the same channel leave with it: a
     * subscriber gets them in one write instead of one each. */
    struct lapps__shared *batch[LAPPS__FAN_BATCH];
    struct lapps__chan *ch = p->chan;
    bool all_lapps = p->shared->lapps;
    int n = 0;
    batch[n++] = p->shared;
    free(p);
    while (n < LAPPS__FAN_BATCH && (p = lapps__mpsc_pop(&w->inbox)) && p->kind == POST_BCAST &&
           p->chan == ch) {
        all_lapps = all_lapps && p->shared->lapps;
        batch[n++] = p->shared;
        free(p);
        p = NULL;
    }
    if (n == LAPPS__FAN_BATCH)
        p = NULL;
    write_members(w, ch, batch, n, all_lapps);
    for (int i = 0; i < n; i++)
        lapps__shared_unref(batch[i]);
    return p;
}

void
lapps__bcast_handle(struct lapps__worker *w, struct lapps__post *p)
{
    if (p->kind == POST_SUBSCRIBE)
        apply_subscribe(w, p->chan, p->id);
    else
        apply_unsubscribe(w, p->chan, p->id);
}

/* Posts one reference to @p sh to worker @p w, waiting for room when the caller is not a
 * worker (a standalone service can wait; a worker must not, or two workers posting to
 * each other could wait forever). */
static int
post_frame(struct lapps_server *srv, struct lapps__worker *w, struct lapps__chan *ch,
           struct lapps__shared *sh)
{
    struct lapps__post *p = calloc(1, sizeof *p);
    if (!p)
        return LAPPS_ERR_NOMEM;
    p->kind = POST_BCAST;
    p->chan = ch;
    p->shared = sh;
    atomic_fetch_add_explicit(&sh->refs, 1, memory_order_relaxed);
    int rv;
    while ((rv = lapps__worker_post(w, p)) == LAPPS_ERR_AGAIN && !lapps__this_worker &&
           atomic_load_explicit(&srv->state, memory_order_acquire) == SRV_RUNNING)
        nanosleep(&(struct timespec){0, 100000}, NULL);
    if (rv != 0) {
        lapps__shared_unref(sh);
        free(p);
    }
    return rv;
}

/* Sends a built frame to every worker with subscribers; consumes the caller's reference. */
static int
broadcast(struct lapps_server *srv, uint64_t channel, struct lapps__shared *sh)
{
    int rv = 0, again = 0;
    struct lapps__chan *ch = find(srv, channel);
    if (!ch)
        rv = LAPPS_ERR_NOT_FOUND;
    else if (atomic_load_explicit(&srv->state, memory_order_acquire) != SRV_RUNNING)
        rv = LAPPS_ERR_STATE;
    for (unsigned k = 0; rv == 0 && k < srv->n_workers; k++) {
        if (atomic_load_explicit(&ch->w[k].count, memory_order_relaxed) == 0)
            continue;
        int r = post_frame(srv, &srv->workers[k], ch, sh);
        if (r == LAPPS_ERR_AGAIN)
            again = r; /* the other workers still get it */
        else
            rv = r;
    }
    lapps__shared_unref(sh);
    return rv ? rv : again;
}

/* A frame of @p len payload bytes, header written, payload to be filled in. */
static struct lapps__shared *
shared_new(uint8_t opcode, size_t len, bool lapps, uint8_t **payload)
{
    if (len > UINT32_MAX - LAPPS__FRAME_MAX_HEADER)
        return NULL;
    size_t hn = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
    struct lapps__shared *sh = malloc(sizeof *sh + hn + len);
    if (!sh)
        return NULL;
    atomic_init(&sh->refs, 1);
    sh->lapps = lapps;
    sh->len = (uint32_t)(hn + len);
    lapps__frame_header(sh->data, opcode, true, len, NULL);
    *payload = sh->data + hn;
    return sh;
}

LAPPS_EXPORT int
lapps_bcast_send(lapps_server *srv, uint64_t channel, lapps_opcode op, const void *data, size_t len)
{
    if (!srv || (op != LAPPS_OP_TEXT && op != LAPPS_OP_BINARY) || (len && !data))
        return LAPPS_ERR_INVAL;
    if (op == LAPPS_OP_TEXT) {
        uint32_t st = LAPPS__UTF8_ACCEPT;
        if (lapps__utf8_validate(&st, data, len) != 0 || !lapps__utf8_complete(st))
            return LAPPS_ERR_INVAL;
    }
    uint8_t *payload;
    struct lapps__shared *sh = shared_new((uint8_t)op, len, false, &payload);
    if (!sh)
        return LAPPS_ERR_NOMEM;
    if (len)
        memcpy(payload, data, len);
    return broadcast(srv, channel, sh);
}

LAPPS_EXPORT int
lapps_bcast_notify(lapps_server *srv, uint64_t channel, uint64_t cid, const lapps_value *message)
{
    if (!srv || cid == 0 || !message || lapps_value_type_of(message) != LAPPS_VALUE_ARRAY)
        return LAPPS_ERR_INVAL;
    struct lapps__wbuf b = {0};
    lapps__msg_notify(&b, cid, message);
    uint8_t *payload;
    struct lapps__shared *sh = b.failed ? NULL : shared_new(LAPPS_OP_BINARY, b.len, true, &payload);
    if (sh)
        memcpy(payload, b.p, b.len);
    lapps__wbuf_free(&b);
    return sh ? broadcast(srv, channel, sh) : LAPPS_ERR_NOMEM;
}
