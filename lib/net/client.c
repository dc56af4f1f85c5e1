/* client.c — an outgoing WebSocket connection over a non-blocking socket (see client.h):
 * the connect, TLS (lib/tls/client.c), the opening handshake of lib/ws/client-handshake.c
 * and the framing of lib/ws/client.c, glued to recv/send or the TLS session.
 *
 * Phases: HANDSHAKE (the request goes out, the 101 comes in, under one deadline), OPEN,
 * ENDING (the close handshake is over or the connection failed: what is queued — our
 * close frame — is flushed under a deadline), then END is reported and nothing more
 * happens. Our own close (lapps__cws_close) stays OPEN for the framing layer's CLOSING
 * state, with the close deadline. Sends use MSG_NOSIGNAL (and the TLS BIO does), so a
 * server that vanishes never raises SIGPIPE in the host. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lapps/error.h>

#include "net/client.h"
#include "tls/tls.h"
#include "util/clock.h"
#include "ws/client.h"

#define READ_CHUNK  (16u << 10)
#define READ_BUDGET (256u << 10)

enum phase { HANDSHAKE, OPEN, ENDING, DONE };

struct lapps__cws {
    int fd;
    enum phase phase;
    int timeout_ms;
    int64_t deadline; /* -1: none */
    struct lapps__tls_client_ctx *tctx;
    struct lapps__tls *tls;
    struct lapps__wsc ws;
    char accept[29];
    char *req; /* the upgrade request, req[req_off..req_len) still to send */
    size_t req_off, req_len;
    bool open_pending; /* OPEN is to be reported */
    bool opened;       /* it was */
    bool want_write;   /* the last write stopped on a full socket */
    bool eof;          /* the server closed its side */
    /* The end, once known. */
    bool clean;
    uint16_t code;
    uint8_t close_payload[125];
    size_t close_len;
    char error[320];
};

/* Waits for a non-blocking connect to end, up to @p deadline. Returns 0 or -errno. */
static int
connect_wait(int fd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - (int64_t)lapps__now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            return -errno;
        return -err;
    }
}

/* Connects to the first address of @p uri that answers before the deadline. */
static int
dial(const struct lapps__ws_uri *uri, int timeout_ms, int *out, char *why, size_t why_len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
    struct addrinfo *res;
    if (uri->ip6)
        hints.ai_flags = AI_NUMERICHOST;
    hints.ai_flags |= AI_NUMERICSERV;
    int g = getaddrinfo(uri->host, uri->port, &hints, &res);
    if (g != 0) {
        snprintf(why, why_len, "cannot resolve %s: %s", uri->host, gai_strerror(g));
        return LAPPS_ERR_INVAL;
    }
    int64_t deadline = (int64_t)lapps__now_ms() + timeout_ms;
    int rv = -ECONNREFUSED;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            rv = -errno;
            continue;
        }
        rv = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : -errno;
        if (rv == -EINPROGRESS)
            rv = connect_wait(fd, deadline);
        if (rv == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *out = fd;
            freeaddrinfo(res);
            return 0;
        }
        close(fd);
        if (rv == -ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    snprintf(why, why_len, "cannot connect to %s port %s: %s", uri->host, uri->port, strerror(-rv));
    return rv;
}

int
lapps__cws_open(struct lapps__cws **out, const char *uri_text, const struct lapps__cws_opts *o,
                char *why, size_t why_len)
{
    struct lapps__ws_uri *uri = malloc(sizeof *uri);
    struct lapps__cws *c = calloc(1, sizeof *c);
    int rv;
    if (!uri || !c) {
        rv = LAPPS_ERR_NOMEM;
        snprintf(why, why_len, "out of memory");
        goto free_c;
    }
    c->fd = -1;
    c->deadline = -1;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : LAPPS__CWS_DEFAULT_TIMEOUT_MS;
    if ((rv = lapps__ws_uri_parse(uri_text, uri)) != 0) {
        snprintf(why, why_len, "not a ws:// or wss:// URI: %.200s", uri_text);
        goto free_c;
    }
    if (uri->tls &&
        (rv = lapps__tls_client_ctx_new(&c->tctx, !o->no_verify, o->ca_file, why, why_len)) != 0)
        goto free_c;
    char key[25];
    c->ws.max_message = o->max_message;
    c->ws.max_output = o->max_output;
    if ((rv = lapps__wsc_init(&c->ws)) != 0 || (rv = lapps__wsc_key(key, c->accept)) != 0) {
        snprintf(why, why_len, "no random bytes for the key: %s",
                 strerror(rv < -5000 ? ENOMEM : -rv));
        goto free_ws;
    }
    size_t cap = LAPPS__WS_URI_MAX_TARGET + LAPPS__WS_URI_MAX_HOST + 256;
    if (!(c->req = malloc(cap))) {
        rv = LAPPS_ERR_NOMEM;
        snprintf(why, why_len, "out of memory");
        goto free_ws;
    }
    lapps_ssize n = lapps__wsc_request(c->req, cap, uri, key);
    if (n < 0) {
        rv = (int)n;
        snprintf(why, why_len, "the request does not fit");
        goto free_ws;
    }
    c->req_len = (size_t)n;
    if ((rv = dial(uri, c->timeout_ms, &c->fd, why, why_len)) != 0)
        goto free_ws;
    if (uri->tls && !(c->tls = lapps__tls_client_new(c->tctx, c->fd, uri->host))) {
        rv = LAPPS_ERR_NOMEM;
        snprintf(why, why_len, "cannot make a TLS session for %s", uri->host);
        goto close_fd;
    }
    c->phase = HANDSHAKE;
    c->deadline = (int64_t)lapps__now_ms() + c->timeout_ms;
    free(uri);
    *out = c;
    return 0;
close_fd:
    close(c->fd);
free_ws:
    free(c->req);
    lapps__wsc_free(&c->ws);
    lapps__tls_client_ctx_free(c->tctx);
free_c:
    free(uri);
    free(c);
    return rv;
}

void
lapps__cws_free(struct lapps__cws *c)
{
    if (!c)
        return;
    if (c->tls) {
        lapps__tls_close_notify(c->tls);
        lapps__tls_free(c->tls);
    }
    if (c->fd >= 0)
        close(c->fd);
    lapps__tls_client_ctx_free(c->tctx);
    lapps__wsc_free(&c->ws);
    free(c->req);
    free(c);
}

int
lapps__cws_fd(const struct lapps__cws *c)
{
    return c->fd;
}

short
lapps__cws_poll_events(const struct lapps__cws *c)
{
    if (c->phase == DONE)
        return 0;
    return (short)(POLLIN | (c->want_write ? POLLOUT : 0));
}

int64_t
lapps__cws_deadline(const struct lapps__cws *c)
{
    return c->phase == DONE ? -1 : c->deadline;
}

bool
lapps__cws_ready(const struct lapps__cws *c)
{
    return c->phase != DONE && c->tls && lapps__tls_pending(c->tls);
}

bool
lapps__cws_done(const struct lapps__cws *c)
{
    return c->phase == DONE;
}

/* The connection is over abnormally: say why ("msg: detail"); END follows at the next
 * lapps__cws_next(). */
static void
end_error(struct lapps__cws *c, uint16_t code, const char *msg, const char *detail)
{
    if (c->phase >= ENDING && c->error[0])
        return;
    snprintf(c->error, sizeof c->error, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
    c->code = code;
    c->clean = false;
    c->phase = ENDING;
    c->deadline = 0; /* nothing more to flush: end now */
}

/* Sends what is queued: the request during the handshake, frames once open. */
static void
flush(struct lapps__cws *c)
{
    c->want_write = false;
    for (;;) {
        const uint8_t *p;
        size_t len;
        if (c->req_off < c->req_len) {
            p = (const uint8_t *)c->req + c->req_off;
            len = c->req_len - c->req_off;
        } else if (c->phase == HANDSHAKE || c->phase == DONE) {
            return; /* frames wait for the 101 */
        } else {
            p = lapps__wsc_output(&c->ws, &len);
        }
        if (len == 0)
            return;
        size_t done = 0;
        if (c->tls) {
            struct iovec iov = {(void *)p, len};
            enum lapps__tls_io r = lapps__tls_write(c->tls, &iov, 1, &done);
            if (r == LAPPS__TLS_ERROR || r == LAPPS__TLS_EOF) {
                char why[256];
                lapps__tls_client_error(c->tls, why, sizeof why);
                end_error(c, 1006, c->opened ? "TLS error" : "TLS handshake failed", why);
                return;
            }
            if (done == 0) {
                c->want_write = r == LAPPS__TLS_WANT_WRITE;
                return;
            }
        } else {
            ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    c->want_write = true;
                    return;
                }
                end_error(c, 1006, "send failed", strerror(errno));
                return;
            }
            done = (size_t)n;
        }
        if (c->req_off < c->req_len)
            c->req_off += done;
        else
            lapps__wsc_output_done(&c->ws, done);
    }
}

/* Reads into the framing layer's input, up to READ_BUDGET. */
static void
fill(struct lapps__cws *c)
{
    size_t total = 0;
    while (total < READ_BUDGET && !c->eof) {
        size_t cap;
        uint8_t *space = lapps__wsc_in_space(&c->ws, READ_CHUNK, &cap);
        if (!space) {
            end_error(c, 1006, "out of memory", NULL);
            return;
        }
        size_t got = 0;
        if (c->tls) {
            enum lapps__tls_io r = lapps__tls_read(c->tls, space, cap, &got);
            if (r == LAPPS__TLS_EOF) {
                c->eof = true;
            } else if (r == LAPPS__TLS_ERROR) {
                char why[256];
                lapps__tls_client_error(c->tls, why, sizeof why);
                end_error(c, 1006, c->opened ? "TLS error" : "TLS handshake failed", why);
                return;
            } else if (r != LAPPS__TLS_OK) {
                if (r == LAPPS__TLS_WANT_WRITE)
                    c->want_write = true;
                return;
            }
        } else {
            ssize_t n = recv(c->fd, space, cap, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    end_error(c, 1006, "recv failed", strerror(errno));
                return;
            }
            if (n == 0)
                c->eof = true;
            got = (size_t)n;
        }
        lapps__wsc_in_commit(&c->ws, got);
        total += got;
    }
}

/* During the handshake: is the 101 complete and right? */
static void
check_response(struct lapps__cws *c)
{
    size_t len;
    const uint8_t *buf = lapps__wsc_in_data(&c->ws, &len);
    char why[256];
    lapps_ssize n = lapps__wsc_response((const char *)buf, len, c->accept, why, sizeof why);
    if (n == LAPPS_ERR_AGAIN) {
        if (c->eof)
            end_error(c, 1006, "the server closed the connection during the handshake", NULL);
        return;
    }
    if (n < 0) {
        end_error(c, 1006, "handshake failed", why);
        return;
    }
    lapps__wsc_in_drop(&c->ws, (size_t)n);
    c->phase = OPEN;
    c->opened = c->open_pending = true;
    c->deadline = -1;
    free(c->req);
    c->req = NULL;
    c->req_off = c->req_len = 0;
}

void
lapps__cws_io(struct lapps__cws *c, short revents)
{
    if (c->phase == DONE)
        return;
    if (c->phase == ENDING) {
        flush(c);
        return;
    }
    if (revents & (POLLERR | POLLNVAL)) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        end_error(c, 1006, "socket error", strerror(err ? err : EIO));
        return;
    }
    flush(c);
    if (c->phase == ENDING)
        return;
    fill(c);
    if (c->phase == HANDSHAKE) {
        check_response(c);
        if (c->phase == OPEN)
            flush(c); /* messages queued before the 101 */
    }
    if (c->phase == HANDSHAKE && (int64_t)lapps__now_ms() >= c->deadline)
        end_error(c, 1006, "no WebSocket handshake within the timeout", NULL);
}

/* The framing layer ended the connection (close exchanged, or the server failed it). */
static void
ending(struct lapps__cws *c, const struct lapps__wsc_event *wev)
{
    c->phase = ENDING;
    c->deadline = (int64_t)lapps__now_ms() + c->timeout_ms;
    c->code = wev->code;
    if (wev->kind == LAPPS__WSC_CLOSE) {
        c->clean = true;
        c->close_len = wev->len;
        memcpy(c->close_payload, wev->data, wev->len);
        return;
    }
    const char *what = wev->code == 1007   ? "invalid UTF-8 in a text message"
                       : wev->code == 1009 ? "a message over the size limit"
                                           : "a protocol violation";
    snprintf(c->error, sizeof c->error, "the server sent %s: closed with %u", what, wev->code);
}

static int
end_event(struct lapps__cws *c, struct lapps__cws_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = LAPPS__CWS_END;
    ev->opened = c->opened;
    ev->clean = c->clean;
    ev->code = c->code;
    if (c->clean) {
        ev->data = c->close_payload;
        ev->len = c->close_len;
        if (c->close_len > 2) {
            ev->reason = c->close_payload + 2;
            ev->reason_len = c->close_len - 2;
        }
    } else {
        ev->error = c->error;
    }
    c->phase = DONE;
    if (c->tls) {
        if (c->clean)
            lapps__tls_close_notify(c->tls);
        lapps__tls_free(c->tls);
        c->tls = NULL;
    }
    close(c->fd);
    c->fd = -1;
    return 1;
}

int
lapps__cws_next(struct lapps__cws *c, struct lapps__cws_event *ev)
{
    if (c->open_pending) {
        c->open_pending = false;
        memset(ev, 0, sizeof *ev);
        ev->kind = LAPPS__CWS_OPEN;
        return 1;
    }
    if (c->phase == OPEN) {
        struct lapps__wsc_event wev;
        int rv = lapps__wsc_next(&c->ws, &wev);
        if (rv > 0 && wev.kind == LAPPS__WSC_MESSAGE) {
            memset(ev, 0, sizeof *ev);
            ev->kind = LAPPS__CWS_MESSAGE;
            ev->opcode = wev.opcode;
            ev->data = wev.data;
            ev->len = wev.len;
            return 1;
        }
        if (rv > 0) {
            ending(c, &wev);
        } else if (rv < 0) {
            end_error(c, 1006, "out of memory", NULL);
        } else if (c->eof) {
            end_error(c, 1006, "the server closed the connection without a close frame", NULL);
        } else if (c->deadline >= 0 && (int64_t)lapps__now_ms() >= c->deadline) {
            end_error(c, 1006, "no close frame from the server within the timeout", NULL);
        }
    }
    if (c->phase == ENDING) {
        flush(c);
        size_t left;
        lapps__wsc_output(&c->ws, &left);
        if (left == 0 || (int64_t)lapps__now_ms() >= c->deadline)
            return end_event(c, ev);
    }
    return 0;
}

void
lapps__cws_flush(struct lapps__cws *c)
{
    if (c->phase != DONE)
        flush(c);
}

int
lapps__cws_send(struct lapps__cws *c, uint8_t opcode, const void *data, size_t len)
{
    if (c->phase != HANDSHAKE && c->phase != OPEN)
        return LAPPS_ERR_STATE;
    int rv = lapps__wsc_send(&c->ws, opcode, data, len);
    if (rv == 0 && c->phase == OPEN)
        flush(c);
    return rv;
}

int
lapps__cws_close(struct lapps__cws *c, uint16_t code, const char *reason, size_t reason_len)
{
    if (c->phase == HANDSHAKE) {
        c->phase = DONE;
        return 1;
    }
    if (c->phase != OPEN || lapps__wsc_state(&c->ws) != LAPPS__WSC_OPEN)
        return 0;
    int rv = lapps__wsc_close(&c->ws, code, reason, reason_len);
    if (rv != 0)
        return rv;
    c->deadline = (int64_t)lapps__now_ms() + c->timeout_ms;
    flush(c);
    return 0;
}
