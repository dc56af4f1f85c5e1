/* rpc.c — the LAppS protocol on a connection: decoding each binary message, answering
 * bad input, calling on_request, and keeping responses in request order.
 *
 * Every message that owes a response (a request, or input answered with an error) takes
 * the connection's next sequence number. A response whose turn has come is sent at once
 * (corked with the read that caused it); one that is early — a request answered in its
 * callback while an earlier one was deferred — is held, copied, until the earlier ones
 * are sent. Held bytes count against the outbound limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "proto/message.h"
#include "util/utf8.h"

enum { RQ_OPEN, RQ_ANSWERED, RQ_DEFERRED };

struct lapps_request {
    struct lapps_server *srv;
    struct lapps_conn *conn; /* in the callback only; NULL in a deferred handle */
    uint64_t conn_id;
    uint64_t seq;
    uint64_t cid;
    const char *method;
    const struct lapps_value *params;
    const struct lapps_value *message;
    uint8_t state;
    bool heap; /* a deferred handle */
};

struct lapps__held {
    struct lapps__held *next;
    uint64_t seq;
    size_t len;
    uint8_t data[];
};

/* ---- ordering ---- */

static void
send_response(struct lapps_conn *c, const uint8_t *data, size_t len)
{
    lapps__out_send(c, LAPPS_OP_BINARY, data, len);
    c->rq_sent++;
}

void
lapps__rpc_answer(struct lapps_conn *c, uint64_t seq, const uint8_t *data, size_t len)
{
    if (c->state != CONN_OPEN)
        return; /* closing: nothing more is sent */
    if (seq != c->rq_sent) {
        size_t limit = c->w->srv->opts.max_outbound;
        struct lapps__held *h = malloc(sizeof *h + len);
        if (!h || c->held_bytes + len > limit) {
            free(h);
            lapps__conn_fail_outbound(c);
            return;
        }
        h->seq = seq;
        h->len = len;
        memcpy(h->data, data, len);
        struct lapps__held **at = &c->held;
        while (*at && (*at)->seq < seq)
            at = &(*at)->next;
        h->next = *at;
        *at = h;
        c->held_bytes += len;
        return;
    }
    send_response(c, data, len);
    while (c->held && c->held->seq == c->rq_sent && c->state == CONN_OPEN) {
        struct lapps__held *h = c->held;
        c->held = h->next;
        c->held_bytes -= h->len;
        send_response(c, h->data, h->len);
        free(h);
    }
}

void
lapps__rpc_conn_free(struct lapps_conn *c)
{
    while (c->held) {
        struct lapps__held *h = c->held;
        c->held = h->next;
        free(h);
    }
    c->held_bytes = 0;
}

/* The worker's encoding buffer, emptied (one message is encoded at a time). */
static struct lapps__wbuf *
scratch(struct lapps__worker *w)
{
    w->wbuf.len = 0;
    w->wbuf.failed = false;
    return &w->wbuf;
}

/* Encodes an error response into the worker's buffer and answers seq with it. */
static void
answer_error(struct lapps_conn *c, uint64_t seq, int code, const char *message)
{
    struct lapps__wbuf *b = scratch(c->w);
    lapps__msg_error(b, 0, code, message, strlen(message), NULL);
    if (b->failed) {
        lapps__conn_begin_close(c, 1011, NULL, 0, LAPPS_CLOSED_SERVICE_ERROR);
        return;
    }
    lapps__rpc_answer(c, seq, b->p, b->len);
}

/* ---- inbound ---- */

void
lapps__rpc_deliver(struct lapps_conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    struct lapps__worker *w = c->w;
    struct lapps_service *s = c->inst->svc;
    if (opcode != LAPPS_OP_BINARY) {
        lapps__conn_begin_close(c, 1003, "LAppS messages are binary", 25, LAPPS_CLOSED_PROTOCOL);
        return;
    }
    lapps__arena_reset(&w->arena);
    struct lapps_value *root;
    int rv = lapps__cbor_decode(&w->arena, data, len, &root);
    if (rv == LAPPS_ERR_PROTO) {
        answer_error(c, c->rq_next++, LAPPS__RPC_PARSE_ERROR, "parse error: not well-formed CBOR");
        return;
    }
    if (rv == LAPPS_ERR_INVAL) {
        answer_error(c, c->rq_next++, LAPPS__RPC_INVALID_REQUEST,
                     "invalid request: CBOR tags and undefined are not accepted");
        return;
    }
    if (rv != 0) {
        lapps__conn_begin_close(c, 1011, NULL, 0, LAPPS_CLOSED_SERVICE_ERROR);
        return;
    }
    struct lapps__req r;
    const char *why;
    if (lapps__req_parse(root, &r, &why) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "invalid request: %s", why);
        answer_error(c, c->rq_next++, LAPPS__RPC_INVALID_REQUEST, msg);
        return;
    }
    char *method = lapps__arena_alloc(&w->arena, r.method_len + 1);
    if (!method) {
        lapps__conn_begin_close(c, 1011, NULL, 0, LAPPS_CLOSED_SERVICE_ERROR);
        return;
    }
    memcpy(method, r.method, r.method_len);
    method[r.method_len] = '\0';
    struct lapps_request req = {
        .srv = w->srv,
        .conn = c,
        .conn_id = lapps_conn_id(c),
        .seq = r.cid ? 0 : c->rq_next++,
        .cid = r.cid,
        .method = method,
        .params = r.params,
        .message = root,
        .state = r.cid ? RQ_ANSWERED : RQ_OPEN, /* a notification is owed nothing */
    };
    if (!s->on_request) {
        if (!r.cid)
            answer_error(c, req.seq, LAPPS__RPC_METHOD_NOT_FOUND, "method not found");
        return;
    }
    s->on_request(c, &req, s->user_data);
    if (req.state == RQ_OPEN)
        answer_error(c, req.seq, LAPPS__RPC_INTERNAL_ERROR,
                     "internal error: the service did not answer");
}

/* ---- the public API ---- */

LAPPS_EXPORT const char *
lapps_request_method(const lapps_request *req)
{
    return req ? req->method : NULL;
}

LAPPS_EXPORT const lapps_value *
lapps_request_params(const lapps_request *req)
{
    return req ? req->params : NULL;
}

LAPPS_EXPORT uint64_t
lapps_request_cid(const lapps_request *req)
{
    return req ? req->cid : 0;
}

LAPPS_EXPORT const lapps_value *
lapps_request_message(const lapps_request *req)
{
    return req ? req->message : NULL;
}

LAPPS_EXPORT lapps_request *
lapps_request_defer(lapps_request *req)
{
    if (!req || req->heap || req->state != RQ_OPEN)
        return NULL;
    lapps_request *h = malloc(sizeof *h);
    if (!h)
        return NULL; /* on_request's caller answers -32603 */
    *h = *req;
    h->heap = true;
    h->conn = NULL;
    h->method = NULL; /* borrowed from the message */
    h->params = NULL;
    h->message = NULL;
    req->state = RQ_DEFERRED;
    return h;
}

LAPPS_EXPORT int
lapps_request_cancel(lapps_request *req)
{
    if (!req || !req->heap)
        return LAPPS_ERR_INVAL;
    free(req);
    return 0;
}

/* Sends (in the callback) or posts (deferred) one encoded response. */
static int
answer(lapps_request *req, struct lapps__wbuf *b)
{
    if (b->failed) {
        if (req->heap)
            free(req); /* as documented: only INVAL and AGAIN keep a handle */
        return LAPPS_ERR_NOMEM;
    }
    if (!req->heap) {
        req->state = RQ_ANSWERED;
        lapps__rpc_answer(req->conn, req->seq, b->p, b->len);
        return req->conn->state == CONN_OPEN ? 0 : LAPPS_ERR_STATE;
    }
    int rv = lapps__post_to(req->srv, req->conn_id, POST_REPLY, 0, 0, req->seq, b->p, b->len);
    if (rv == LAPPS_ERR_AGAIN)
        return rv; /* the handle stays valid: the caller may try again */
    free(req);
    return rv;
}

/* The buffer a response is encoded into: the worker's in the callback, a fresh one for
 * a deferred handle (any thread). */
static struct lapps__wbuf *
buffer_for(lapps_request *req, struct lapps__wbuf *local)
{
    if (req->heap)
        return local;
    return scratch(req->conn->w);
}

static bool
answerable(const lapps_request *req)
{
    return req && req->cid == 0 && (req->heap || req->state == RQ_OPEN);
}

LAPPS_EXPORT int
lapps_reply_result(lapps_request *req, const lapps_value *result)
{
    if (!req || req->cid || (result && result->type != LAPPS_VALUE_ARRAY))
        return LAPPS_ERR_INVAL;
    if (!answerable(req))
        return LAPPS_ERR_STATE;
    struct lapps__wbuf local = {0};
    struct lapps__wbuf *b = buffer_for(req, &local);
    lapps__msg_result(b, 0, result);
    int rv = answer(req, b);
    lapps__wbuf_free(&local);
    return rv;
}

static bool
valid_text(const char *s)
{
    uint32_t st = LAPPS__UTF8_ACCEPT;
    return s && lapps__utf8_validate(&st, (const uint8_t *)s, strlen(s)) == 0 &&
           lapps__utf8_complete(st);
}

LAPPS_EXPORT int
lapps_reply_error(lapps_request *req, int64_t code, const char *message, const lapps_value *data)
{
    if (!req || req->cid || !valid_text(message))
        return LAPPS_ERR_INVAL;
    if (!answerable(req))
        return LAPPS_ERR_STATE;
    struct lapps__wbuf local = {0};
    struct lapps__wbuf *b = buffer_for(req, &local);
    lapps__msg_error(b, 0, code, message, strlen(message), data);
    int rv = answer(req, b);
    lapps__wbuf_free(&local);
    return rv;
}

static int
notify_checks(lapps_conn *conn, uint64_t cid, const lapps_value *message)
{
    if (!conn || !conn->inst || conn->inst->svc->protocol != LAPPS_PROTO_LAPPS || cid == 0 ||
        (message && message->type != LAPPS_VALUE_ARRAY))
        return LAPPS_ERR_INVAL;
    return conn->state == CONN_OPEN ? 0 : LAPPS_ERR_STATE;
}

LAPPS_EXPORT int
lapps_notify(lapps_conn *conn, uint64_t cid, const lapps_value *message)
{
    int rv = notify_checks(conn, cid, message);
    if (rv != 0)
        return rv;
    struct lapps__wbuf *b = scratch(conn->w);
    lapps__msg_notify(b, cid, message);
    return b->failed ? LAPPS_ERR_NOMEM : lapps__out_send(conn, LAPPS_OP_BINARY, b->p, b->len);
}

LAPPS_EXPORT int
lapps_notify_error(lapps_conn *conn, uint64_t cid, int64_t code, const char *message,
                   const lapps_value *data)
{
    int rv = notify_checks(conn, cid, NULL);
    if (rv != 0)
        return rv;
    if (!valid_text(message))
        return LAPPS_ERR_INVAL;
    struct lapps__wbuf *b = scratch(conn->w);
    lapps__msg_error(b, cid, code, message, strlen(message), data);
    return b->failed ? LAPPS_ERR_NOMEM : lapps__out_send(conn, LAPPS_OP_BINARY, b->p, b->len);
}

LAPPS_EXPORT int
lapps_notify_id(lapps_server *srv, uint64_t conn_id, uint64_t cid, const lapps_value *message)
{
    if (!srv || cid == 0 || (message && message->type != LAPPS_VALUE_ARRAY))
        return LAPPS_ERR_INVAL;
    struct lapps__wbuf b = {0};
    lapps__msg_notify(&b, cid, message);
    int rv = b.failed ? LAPPS_ERR_NOMEM
                      : lapps__post_to(srv, conn_id, POST_SEND, LAPPS_OP_BINARY, 0, 0, b.p, b.len);
    lapps__wbuf_free(&b);
    return rv;
}
