/* loadgen — WebSocket (or raw TCP) echo load generator.
 *
 * One thread, epoll, non-blocking sockets. Opens N connections to a ws:// URL (real
 * RFC 6455 client handshake, Sec-WebSocket-Accept checked) or, with --raw, to a plain
 * TCP echo server. Each connection keeps K messages of S bytes in flight: every echo
 * that comes back completely triggers the next send, and all frames due on one
 * connection after a read go out in one send(). After the connections are up and a
 * warm-up, it measures for D seconds and prints one line: echoes per second, p50/p99
 * round-trip latency, wire MB/s each way and, given the server's PID, the server's
 * user and system CPU per message from /proc/PID/stat.
 *
 * Every echoed byte is checked: message n of connection c carries a slice of a
 * pseudo-random pattern chosen by (n, c), so a lost, reordered, truncated or corrupted
 * echo fails the run loudly, as does any protocol error (masked server frame, RSV bits,
 * non-minimal length, text frame, close frame, ...).
 *
 * When the window ends no new message is sent; each connection closes cleanly (close
 * handshake, or for raw TCP a shutdown and EOF) once its last echo is back, so the
 * server sees no reset, within a few seconds at most.
 *
 * --idle: open the connections, send nothing, and report the server's VmRSS growth per
 * connection after a settle time (-w), then hold them for -d seconds.
 *
 * wss:// URLs: the same over TLS (OpenSSL, non-blocking: the TLS handshake is driven by
 * the epoll loop, then the WebSocket handshake and frames go through SSL_read and
 * SSL_write). The server's certificate is NOT verified (a benchmark, not a client).
 * The plain path pays one branch per I/O call for this.
 *
 * --lapps: the LAppS protocol (a LAppS echo service such as lappsd's /echo_lapps). Each
 * message is the CBOR request {"lapps": 1, "method": "echo", "params": [<byte string of S
 * bytes>]}, the byte string being the message's slice of the pattern; the answer must be
 * exactly the CBOR bytes {"cid": 0, "result": [<the same byte string>], "status": 1}.
 * Requests and expected responses are built once, for each slice of the pattern (payloads
 * up to 64 KiB; above, the CBOR around the slice is built once and the slice masked and
 * compared apart), so a message costs one mask pass and one memcmp as in the plain mode.
 * Every answer is compared byte for byte. A request and its response count as one
 * message. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "benchutil.h"
#include "wsclient.h"

#define RBUF_SIZE      (256u << 10)
#define MAX_CONNECTING 128 /* handshakes in progress at once: stays below any backlog */
#define RAMP_TIMEOUT   60.0
#define HS_MAX         8192
#define PAT_SHIFTS     256
#define MAX_EVENTS     512
#define LAPPS_PREBUILT (64u << 10) /* larger --lapps payloads: built per message */
#define CLOSE_TIMEOUT  3.0         /* plus 1 s per 2000 connections, plus twice the drain time */

/* Latency histogram: exact below 64 ns, then 32 sub-buckets per power of two (~3 %). */
#define HIST_SUB     32
#define HIST_BUCKETS (2 * HIST_SUB + 58 * HIST_SUB)

enum conn_state { ST_CONNECTING, ST_TLS, ST_HANDSHAKE, ST_OPEN };
enum phase { PH_RAMP, PH_WARM, PH_MEASURE, PH_HOLD, PH_CLOSE, PH_DONE };

struct conn {
    int fd;
    SSL *ssl; /* wss:// only */
    uint32_t id;
    uint8_t state;
    bool want_out; /* EPOLLOUT is registered */
    bool closing;  /* we sent a close frame (raw: shut down our side) */
    bool closed;
    uint32_t rng;
    uint64_t sent;  /* messages sent */
    uint64_t recvd; /* echoes completed */
    uint64_t *ts;   /* send times of the messages in flight, ring of K */
    uint32_t due;   /* echoes completed in this read whose successors are not sent yet */
    /* receive side */
    uint8_t hdr[14];
    uint8_t hdr_have;
    uint8_t hdr_need;
    uint8_t opcode;
    bool fin;
    bool in_frame;
    bool in_msg;
    uint64_t frame_left;
    uint64_t msg_off;
    uint8_t ctl[125];
    uint8_t ctl_len;
    /* send side: bytes the socket did not take yet */
    uint8_t *out;
    size_t out_off;
    size_t out_len;
    size_t out_cap;
    struct wsc_handshake hs; /* ST_HANDSHAKE only */
};

struct counters {
    uint64_t msgs;
    uint64_t bytes_out;
    uint64_t bytes_in;
};

static struct {
    /* options */
    unsigned conns;
    unsigned inflight;
    size_t size;
    double duration;
    double warmup;
    long pid;
    bool raw;
    bool json;
    bool idle;
    bool tls;
    bool lapps;               /* --lapps: CBOR requests, CBOR responses */
    const char *ciphersuites; /* --tls-ciphersuites */
    struct wsc_target target;
    /* state */
    int ep;
    SSL_CTX *ssl_ctx;
    char tls_desc[96]; /* protocol/cipher of the first TLS connection */
    struct conn *c;
    uint64_t *ts;
    uint8_t *pat;
    size_t msg_len; /* the bytes of an echo: S, or with --lapps a whole CBOR response */
    /* --lapps: request = req_pre + slice; response = resp_pre + slice + resp_suf */
    uint8_t req_pre[48];
    size_t req_pre_len;
    uint8_t resp_pre[48];
    size_t resp_pre_len;
    uint8_t resp_suf[8];
    size_t resp_suf_len;
    /* --lapps with S <= LAPPS_PREBUILT: the whole request and the whole expected
     * response for each of the PAT_SHIFTS slices, so that a message costs one mask pass
     * and one memcmp, as in the plain mode */
    uint8_t *lreq;  /* PAT_SHIFTS x req_len */
    uint8_t *lresp; /* PAT_SHIFTS x msg_len */
    size_t req_len;
    uint8_t *scratch;
    uint8_t *rbuf;
    unsigned started;
    unsigned connecting;
    unsigned open;
    enum phase phase;
    struct counters cnt;
    uint64_t hist[HIST_BUCKETS];
    uint64_t hist_n;
    uint64_t unanswered; /* echoes still in flight when a connection closed */
    unsigned abrupt;     /* connections that ended without a clean close */
} g;

const char bench_progname[] = "loadgen";

__attribute__((format(printf, 2, 3), noreturn)) static void
conn_die(const struct conn *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "loadgen: conn %u (sent %" PRIu64 ", echoed %" PRIu64 "): ", c->id, c->sent,
            c->recvd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint32_t
xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* ---- histogram ------------------------------------------------------------------- */

static unsigned
hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 5; /* >= 1: v >> shift lies in [32, 63] */
    unsigned idx = 2 * HIST_SUB + (shift - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static double
hist_value(unsigned idx)
{
    if (idx < 2 * HIST_SUB)
        return idx;
    unsigned shift = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
    uint64_t sub = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
    uint64_t lo = sub << shift;
    return (double)lo + (double)(1ull << shift) / 2.0; /* middle of the bucket */
}

static double
hist_quantile(double q)
{
    if (g.hist_n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)g.hist_n);
    if (rank < 1)
        rank = 1;
    uint64_t sum = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        sum += g.hist[i];
        if (sum >= rank)
            return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

/* ---- /proc ------------------------------------------------------------------------ */

static long
proc_rss_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* ---- payload pattern -------------------------------------------------------------- */

/* Message n of connection c is pat[shift .. shift + S), shift depending on (n, c). */
static size_t
msg_shift(const struct conn *c, uint64_t seq)
{
    return (seq * 97u + c->id * 13u) & (PAT_SHIFTS - 1);
}

static const uint8_t *
msg_bytes(const struct conn *c, uint64_t seq)
{
    return g.pat + msg_shift(c, seq);
}

/* ---- sending ---------------------------------------------------------------------- */

static void
set_events(struct conn *c, bool want_out)
{
    if (c->want_out == want_out)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        bench_die("epoll_ctl: %s", strerror(errno));
    c->want_out = want_out;
}

/* ---- TLS (wss://) ------------------------------------------------------------------ */

__attribute__((noreturn)) static void
tls_die(const struct conn *c, const char *what, int rv)
{
    int saved = errno;
    int err = SSL_get_error(c->ssl, rv);
    unsigned long e = ERR_get_error();
    char buf[256];
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    else if (err == SSL_ERROR_SYSCALL)
        snprintf(buf, sizeof buf, "%s", saved ? strerror(saved) : "unexpected EOF");
    else
        snprintf(buf, sizeof buf, "SSL_get_error %d", err);
    conn_die(c, "%s: %s", what, buf);
}

/* Hands p[0..n) to the TLS session until the socket is full. In partial-write mode
 * SSL_write_ex returns after each record it sent; when it says WANT_WRITE it has already
 * sealed the next record from these bytes, so the caller keeps p[returned..n) and offers
 * exactly them again first (same bytes, at least as many; the buffer may move). Returns
 * the bytes the session took. */
static size_t
tls_send(struct conn *c, const uint8_t *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t w = 0;
        int rv = SSL_write_ex(c->ssl, p + done, n - done, &w);
        if (rv <= 0) {
            int e = SSL_get_error(c->ssl, rv);
            if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                break;
            tls_die(c, "SSL_write", rv);
        }
        done += w;
    }
    return done;
}

static void
tls_init(void)
{
    g.ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!g.ssl_ctx)
        bench_die("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(g.ssl_ctx, TLS1_2_VERSION);
    /* A benchmark: the server's certificate is not verified (self-signed is fine). */
    SSL_CTX_set_verify(g.ssl_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(g.ssl_ctx, SSL_SESS_CACHE_OFF);
    /* a TCP EOF without close_notify reads as a plain EOF, as recv() returning 0 */
    SSL_CTX_set_options(g.ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* Idle connections: let OpenSSL free its record buffers, so that 10 000 of them fit.
     * Under load the buffers stay (as a busy server's would). */
    SSL_CTX_set_mode(g.ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                    (g.idle ? SSL_MODE_RELEASE_BUFFERS : 0));
    /* read as much as the socket has, then hand out records from the buffer: one recv
     * per wakeup instead of two per record */
    SSL_CTX_set_read_ahead(g.ssl_ctx, 1);
    if (g.ciphersuites && !SSL_CTX_set_ciphersuites(g.ssl_ctx, g.ciphersuites))
        bench_die("bad TLS 1.3 ciphersuites \"%s\"", g.ciphersuites);
}

static void
out_append(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + n > c->out_cap) {
        if (c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        if (c->out_len + n > c->out_cap) {
            size_t cap = c->out_cap ? c->out_cap : 4096;
            while (cap < c->out_len + n)
                cap *= 2;
            c->out = realloc(c->out, cap);
            if (!c->out)
                bench_die("out of memory");
            c->out_cap = cap;
        }
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void
conn_write(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->out_len > c->out_off) { /* keep order behind what is already waiting */
        out_append(c, p, n);
        return;
    }
    ssize_t w;
    if (c->ssl) {
        w = (ssize_t)tls_send(c, p, n);
    } else {
        w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_die(c, "send: %s", strerror(errno));
            w = 0;
        }
    }
    g.cnt.bytes_out += (uint64_t)w;
    if ((size_t)w < n) {
        out_append(c, p + w, n - (size_t)w);
        set_events(c, true);
    }
}

static void
conn_flush(struct conn *c)
{
    while (c->out_len > c->out_off) {
        if (c->ssl) {
            size_t left = c->out_len - c->out_off, w = tls_send(c, c->out + c->out_off, left);
            g.cnt.bytes_out += w;
            c->out_off += w;
            if (w < left)
                return;
            continue;
        }
        ssize_t w =
            send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_die(c, "send: %s", strerror(errno));
        }
        g.cnt.bytes_out += (uint64_t)w;
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    set_events(c, false);
    if (g.raw && c->closing)
        shutdown(c->fd, SHUT_WR);
}

/* --lapps: the next n requests of c in one send(). */
static __attribute__((noinline)) void
send_lapps(struct conn *c, unsigned n, uint64_t now)
{
    uint8_t *p = g.scratch;
    for (unsigned i = 0; i < n; i++) {
        uint32_t r = xorshift32(&c->rng);
        uint8_t key[4];
        memcpy(key, &r, 4);
        p += wsc_frame_header(p, 0x82, g.req_len, key);
        if (g.lreq) { /* prebuilt: one mask pass */
            wsc_mask_copy(p, g.lreq + msg_shift(c, c->sent) * g.req_len, g.req_len, key);
        } else { /* large payloads: CBOR head and slice masked apart */
            uint8_t key2[4];
            size_t pre = g.req_pre_len;
            wsc_mask_copy(p, g.req_pre, pre, key);
            for (unsigned j = 0; j < 4; j++) /* the mask goes on where the head ended */
                key2[j] = key[(pre + j) & 3];
            wsc_mask_copy(p + pre, msg_bytes(c, c->sent), g.size, key2);
        }
        p += g.req_len;
        c->ts[c->sent % g.inflight] = now;
        c->sent++;
    }
    conn_write(c, g.scratch, (size_t)(p - g.scratch));
}

/* Sends the next n messages of c in one send(). */
static void
send_msgs(struct conn *c, unsigned n, uint64_t now)
{
    if (g.lapps) {
        send_lapps(c, n, now);
        return;
    }
    uint8_t *p = g.scratch;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *src = msg_bytes(c, c->sent);
        if (g.raw) {
            memcpy(p, src, g.size);
            p += g.size;
        } else {
            uint32_t r = xorshift32(&c->rng);
            uint8_t key[4];
            memcpy(key, &r, 4);
            p += wsc_frame_header(p, 0x82, g.size, key);
            wsc_mask_copy(p, src, g.size, key);
            p += g.size;
        }
        c->ts[c->sent % g.inflight] = now;
        c->sent++;
    }
    conn_write(c, g.scratch, (size_t)(p - g.scratch));
}

static void
send_pong(struct conn *c)
{
    if (c->closing)
        return; /* nothing may follow our close frame */
    uint8_t frame[6 + 125];
    uint32_t r = xorshift32(&c->rng);
    uint8_t key[4];
    memcpy(key, &r, 4);
    size_t h = wsc_frame_header(frame, 0x8A, c->ctl_len, key);
    wsc_mask_copy(frame + h, c->ctl, c->ctl_len, key);
    conn_write(c, frame, h + c->ctl_len);
}

/* Ends c once every echo is back: a close frame (code 1000) after whatever is queued, or
 * for raw TCP a shutdown of our side once the queue is flushed; then read until the
 * server's close frame (or EOF). */
static void
start_close(struct conn *c)
{
    c->closing = true;
    if (g.raw) {
        if (c->out_len == c->out_off)
            shutdown(c->fd, SHUT_WR);
        return;
    }
    uint8_t frame[8], key[4];
    uint32_t r = xorshift32(&c->rng);
    memcpy(key, &r, 4);
    size_t h = wsc_frame_header(frame, 0x88, 2, key);
    frame[h] = 0x03 ^ key[0]; /* 1000 */
    frame[h + 1] = 0xE8 ^ key[1];
    conn_write(c, frame, h + 2);
}

static void
conn_finish(struct conn *c, bool clean)
{
    if (c->ssl) {
        if (clean) { /* our close_notify; the server's is not awaited */
            SSL_shutdown(c->ssl);
            ERR_clear_error();
        }
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    close(c->fd);
    c->closed = true;
    g.open--;
    g.unanswered += c->sent - c->recvd;
    if (!clean)
        g.abrupt++;
}

/* No new messages from now on; each connection closes once its echoes are back. */
static void
begin_close(void)
{
    for (unsigned i = 0; i < g.conns; i++)
        if (g.c[i].recvd == g.c[i].sent)
            start_close(&g.c[i]);
}

/* ---- receiving -------------------------------------------------------------------- */

static void
message_done(struct conn *c, uint64_t now)
{
    if (c->recvd >= c->sent)
        conn_die(c, "echo of a message that was never sent");
    if (g.phase == PH_MEASURE) {
        uint64_t rtt = now - c->ts[c->recvd % g.inflight];
        g.hist[hist_index(rtt)]++;
        g.hist_n++;
    }
    c->recvd++;
    c->due++;
    g.cnt.msgs++;
}

static void
verify(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->msg_off + n > g.size)
        conn_die(c, "echo longer than the %zu bytes sent", g.size);
    if (c->recvd >= c->sent)
        conn_die(c, "%zu bytes arrived with no message in flight", n);
    const uint8_t *want = msg_bytes(c, c->recvd) + c->msg_off;
    if (memcmp(p, want, n) != 0) {
        size_t i = 0;
        while (p[i] == want[i])
            i++;
        conn_die(c, "wrong echo: byte %" PRIu64 " of message %" PRIu64 " is 0x%02x, sent 0x%02x",
                 c->msg_off + i, c->recvd, p[i], want[i]);
    }
    c->msg_off += n;
}

/* ---- --lapps: the CBOR around the payload ------------------------------------------ */

/* A CBOR head (major type, argument) in the shortest form; returns its length. */
static size_t
cbor_head(uint8_t *p, unsigned major, uint64_t arg)
{
    uint8_t m = (uint8_t)(major << 5);
    if (arg < 24) {
        p[0] = m | (uint8_t)arg;
        return 1;
    }
    unsigned bytes = arg <= 0xff ? 1 : arg <= 0xffff ? 2 : arg <= 0xffffffffu ? 4 : 8;
    p[0] = m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27);
    for (unsigned i = 0; i < bytes; i++)
        p[1 + i] = (uint8_t)(arg >> (8 * (bytes - 1 - i)));
    return 1 + bytes;
}

static size_t
cbor_text(uint8_t *p, const char *s)
{
    size_t n = strlen(s), h = cbor_head(p, 3, n);
    memcpy(p + h, s, n);
    return h + n;
}

/* Request {"lapps": 1, "method": "echo", "params": [h'<S bytes>']} and response
 * {"cid": 0, "result": [h'<S bytes>'], "status": 1} (the order lappsd writes, as LAppS
 * did), without the S bytes, which are the message's slice of the pattern. */
static void
lapps_init(void)
{
    uint8_t *p = g.req_pre;
    p += cbor_head(p, 5, 3);
    p += cbor_text(p, "lapps");
    p += cbor_head(p, 0, 1);
    p += cbor_text(p, "method");
    p += cbor_text(p, "echo");
    p += cbor_text(p, "params");
    p += cbor_head(p, 4, 1);
    p += cbor_head(p, 2, g.size);
    g.req_pre_len = (size_t)(p - g.req_pre);
    p = g.resp_pre;
    p += cbor_head(p, 5, 3);
    p += cbor_text(p, "cid");
    p += cbor_head(p, 0, 0);
    p += cbor_text(p, "result");
    p += cbor_head(p, 4, 1);
    p += cbor_head(p, 2, g.size);
    g.resp_pre_len = (size_t)(p - g.resp_pre);
    p = g.resp_suf;
    p += cbor_text(p, "status");
    p += cbor_head(p, 0, 1);
    g.resp_suf_len = (size_t)(p - g.resp_suf);
    g.msg_len = g.resp_pre_len + g.size + g.resp_suf_len;
    g.req_len = g.req_pre_len + g.size;
    if (g.size > LAPPS_PREBUILT)
        return;
    g.lreq = bench_xmalloc(PAT_SHIFTS * g.req_len);
    g.lresp = bench_xmalloc(PAT_SHIFTS * g.msg_len);
    for (size_t sh = 0; sh < PAT_SHIFTS; sh++) {
        uint8_t *q = g.lreq + sh * g.req_len;
        memcpy(q, g.req_pre, g.req_pre_len);
        memcpy(q + g.req_pre_len, g.pat + sh, g.size);
        q = g.lresp + sh * g.msg_len;
        memcpy(q, g.resp_pre, g.resp_pre_len);
        memcpy(q + g.resp_pre_len, g.pat + sh, g.size);
        memcpy(q + g.resp_pre_len + g.size, g.resp_suf, g.resp_suf_len);
    }
}

__attribute__((noreturn)) static void
lapps_mismatch(struct conn *c, const uint8_t *p, size_t n, size_t i)
{
    /* what the message should be at that offset, and the bytes that came (hex) */
    uint64_t off = c->msg_off + i;
    const char *part = off < g.resp_pre_len            ? "the CBOR head (cid, result)"
                       : off < g.resp_pre_len + g.size ? "the echoed params byte string"
                                                       : "the CBOR tail (status)";
    char got[3 * 24 + 1] = "";
    size_t m = n - i < 24 ? n - i : 24;
    for (size_t j = 0; j < m; j++)
        snprintf(got + 3 * j, 4, "%02x ", p[i + j]);
    conn_die(c,
             "wrong LAppS response: byte %" PRIu64 " of response %" PRIu64 " (in %s) differs; "
             "received from there: %s(expected {\"cid\":0,\"result\":[h'<%zu bytes>'],"
             "\"status\":1}, %zu bytes)",
             off, c->recvd, part, got, g.size, g.msg_len);
}

/* Compares p[0..n) with the expected response at offset c->msg_off (prebuilt, or part by
 * part: CBOR head, the slice, CBOR tail). */
static void
verify_lapps(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->recvd >= c->sent)
        conn_die(c, "%zu bytes arrived with no message in flight", n);
    if (c->msg_off + n > g.msg_len) {
        size_t ok = g.msg_len - c->msg_off;
        verify_lapps(c, p, ok); /* a wrong byte first, if there is one */
        conn_die(c, "LAppS response longer than the %zu bytes expected", g.msg_len);
    }
    if (g.lresp) { /* precomputed: one comparison, as verify() does */
        const uint8_t *want = g.lresp + msg_shift(c, c->recvd) * g.msg_len + c->msg_off;
        if (memcmp(p, want, n) != 0) {
            size_t j = 0;
            while (p[j] == want[j])
                j++;
            lapps_mismatch(c, p, n, j);
        }
        c->msg_off += n;
        return;
    }
    size_t i = 0;
    while (i < n) {
        uint64_t off = c->msg_off + i;
        const uint8_t *want;
        size_t seg;
        if (off < g.resp_pre_len) {
            want = g.resp_pre + off;
            seg = g.resp_pre_len - off;
        } else if (off < g.resp_pre_len + g.size) {
            want = msg_bytes(c, c->recvd) + (off - g.resp_pre_len);
            seg = g.resp_pre_len + g.size - off;
        } else {
            want = g.resp_suf + (off - g.resp_pre_len - g.size);
            seg = g.msg_len - off;
        }
        if (seg > n - i)
            seg = n - i;
        if (memcmp(p + i, want, seg) != 0) {
            size_t j = 0;
            while (p[i + j] == want[j])
                j++;
            lapps_mismatch(c, p, n, i + j);
        }
        i += seg;
    }
    c->msg_off += n;
}

static void
process_raw(struct conn *c, const uint8_t *p, size_t n, uint64_t now)
{
    while (n > 0) {
        size_t take = g.size - c->msg_off;
        if (take > n)
            take = n;
        verify(c, p, take);
        p += take;
        n -= take;
        if (c->msg_off == g.size) {
            c->msg_off = 0;
            message_done(c, now);
        }
    }
}

static void
frame_end(struct conn *c, uint64_t now)
{
    c->in_frame = false;
    switch (c->opcode) {
    case 0x8: {
        if (c->closing) {
            conn_finish(c, true);
            return;
        }
        unsigned code = c->ctl_len >= 2 ? (unsigned)c->ctl[0] << 8 | c->ctl[1] : 0;
        conn_die(c, "server sent a close frame (code %u, reason \"%.*s\")", code,
                 c->ctl_len > 2 ? c->ctl_len - 2 : 0, (const char *)c->ctl + 2);
        break;
    }
    case 0x9:
        send_pong(c);
        return;
    case 0xA:
        return;
    default:
        if (!c->fin)
            return;
        if (c->msg_off != g.msg_len)
            conn_die(c, "short %s: %" PRIu64 " of %zu bytes", g.lapps ? "LAppS response" : "echo",
                     c->msg_off, g.msg_len);
        c->in_msg = false;
        c->msg_off = 0;
        message_done(c, now);
    }
}

static inline __attribute__((always_inline)) void
header_done(struct conn *c, uint64_t now)
{
    const uint8_t *h = c->hdr;
    uint64_t len = h[1] & 0x7f;
    if (len == 126) {
        len = (uint64_t)h[2] << 8 | h[3];
        if (len < 126)
            conn_die(c, "non-minimal 16-bit length %" PRIu64, len);
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        if (len >> 63)
            conn_die(c, "64-bit length with the top bit set");
        if (len <= 0xffff)
            conn_die(c, "non-minimal 64-bit length %" PRIu64, len);
    }
    c->fin = h[0] >> 7;
    c->opcode = h[0] & 0x0f;
    switch (c->opcode) {
    case 0x8:
    case 0x9:
    case 0xA:
        if (!c->fin)
            conn_die(c, "fragmented control frame (opcode %u)", c->opcode);
        if (len > 125)
            conn_die(c, "control frame of %" PRIu64 " bytes", len);
        c->ctl_len = 0;
        break;
    case 0x2:
        if (c->in_msg)
            conn_die(c, "new data frame while a fragmented message is open");
        c->in_msg = true;
        c->msg_off = 0;
        break;
    case 0x0:
        if (!c->in_msg)
            conn_die(c, "continuation frame with no message open");
        break;
    case 0x1:
        conn_die(c, "text frame echoed to a binary message");
        break;
    default:
        conn_die(c, "reserved opcode 0x%x", c->opcode);
    }
    c->frame_left = len;
    c->in_frame = true;
    c->hdr_have = c->hdr_need = 0;
    if (len == 0)
        frame_end(c, now);
}

/* Inlined twice (lapps false / true), so the plain mode's loop has no branch for --lapps. */
static inline __attribute__((always_inline)) void
process_frames(struct conn *c, const uint8_t *p, size_t n, uint64_t now, bool lapps)
{
    while (n > 0 && !c->closed) {
        if (!c->in_frame) {
            if (c->hdr_have < 2) {
                c->hdr[c->hdr_have++] = *p++;
                n--;
                if (c->hdr_have < 2)
                    continue;
                if (c->hdr[0] & 0x70)
                    conn_die(c, "RSV bits set (0x%02x) with no extension negotiated", c->hdr[0]);
                if (c->hdr[1] & 0x80)
                    conn_die(c, "masked frame from the server");
                uint8_t l7 = c->hdr[1] & 0x7f;
                c->hdr_need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
            }
            while (n > 0 && c->hdr_have < c->hdr_need) {
                c->hdr[c->hdr_have++] = *p++;
                n--;
            }
            if (c->hdr_have == c->hdr_need)
                header_done(c, now);
            continue;
        }
        size_t take = c->frame_left < n ? (size_t)c->frame_left : n;
        if (c->opcode & 0x8) {
            memcpy(c->ctl + c->ctl_len, p, take);
            c->ctl_len += (uint8_t)take;
        } else if (lapps) {
            verify_lapps(c, p, take);
        } else {
            verify(c, p, take);
        }
        p += take;
        n -= take;
        c->frame_left -= take;
        if (c->frame_left == 0)
            frame_end(c, now);
    }
}

static void
process_ws(struct conn *c, const uint8_t *p, size_t n, uint64_t now)
{
    if (g.lapps)
        process_frames(c, p, n, now, true);
    else
        process_frames(c, p, n, now, false);
}

/* ---- handshake -------------------------------------------------------------------- */

static void
start_handshake(struct conn *c)
{
    char req[2048];
    size_t n = wsc_handshake_start(&c->hs, &g.target, HS_MAX, req, sizeof req);
    c->state = ST_HANDSHAKE;
    conn_write(c, (const uint8_t *)req, n);
}

static void conn_ready(struct conn *c);

static void
process_handshake(struct conn *c, const uint8_t *p, size_t n, uint64_t now)
{
    char err[HS_MAX + 128];
    size_t head_len;
    int rv = wsc_handshake_feed(&c->hs, p, n, &head_len, err, sizeof err);
    if (rv == WSC_HS_FAILED)
        conn_die(c, "%s", err);
    if (rv == WSC_HS_AGAIN)
        return;
    conn_ready(c);
    if (c->hs.len > head_len) /* bytes after the head already belong to the frame stream */
        process_ws(c, (const uint8_t *)c->hs.buf + head_len, c->hs.len - head_len, now);
    wsc_handshake_free(&c->hs);
}

/* ---- connections ------------------------------------------------------------------ */

static void
conn_ready(struct conn *c)
{
    c->state = ST_OPEN;
    g.connecting--;
    g.open++;
}

static void
start_connects(void)
{
    while (g.started < g.conns && g.connecting < MAX_CONNECTING) {
        struct conn *c = &g.c[g.started];
        c->id = g.started++;
        c->ts = g.ts + (size_t)c->id * g.inflight;
        c->rng = 0x9E3779B9u ^ (c->id * 2654435761u);
        if (c->rng == 0)
            c->rng = 1;
        c->fd = wsc_connect_start(&g.target, c->id, g.ep, c);
        c->state = ST_CONNECTING;
        c->want_out = true;
        g.connecting++;
    }
}

/* One step of the TLS handshake, on any readiness; then the WebSocket handshake. */
static void
tls_handshake(struct conn *c)
{
    int rv = SSL_do_handshake(c->ssl);
    if (rv == 1) {
        if (!g.tls_desc[0])
            snprintf(g.tls_desc, sizeof g.tls_desc, "%s/%s", SSL_get_version(c->ssl),
                     SSL_get_cipher_name(c->ssl));
        set_events(c, false);
        start_handshake(c);
        return;
    }
    int e = SSL_get_error(c->ssl, rv);
    if (e == SSL_ERROR_WANT_READ)
        set_events(c, false);
    else if (e == SSL_ERROR_WANT_WRITE)
        set_events(c, true);
    else
        tls_die(c, "TLS handshake", rv);
}

static void
on_connected(struct conn *c)
{
    wsc_connect_finish(&g.target, c->id, c->fd, g.ep, c);
    c->want_out = false;
    if (g.raw) {
        conn_ready(c);
    } else if (g.tls) {
        c->ssl = SSL_new(g.ssl_ctx);
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
            bench_die("SSL_new failed (connection %u)", c->id);
        SSL_set_connect_state(c->ssl);
        struct in6_addr a6;
        if (inet_pton(AF_INET, g.target.host, &a6) != 1 &&
            inet_pton(AF_INET6, g.target.host, &a6) != 1)
            SSL_set_tlsext_host_name(c->ssl, g.target.host); /* SNI: names only, never addresses */
        c->state = ST_TLS;
        tls_handshake(c);
    } else {
        start_handshake(c);
    }
}

static void
conn_eof(struct conn *c)
{
    if (c->closing) { /* raw: the echo of our shutdown; ws: no close frame came */
        conn_finish(c, g.raw);
        return;
    }
    conn_die(c, "the server closed the connection%s",
             c->state == ST_HANDSHAKE ? " during the handshake" : "");
}

static void
conn_data(struct conn *c, const uint8_t *p, size_t n, uint64_t now)
{
    if (c->state == ST_HANDSHAKE) {
        process_handshake(c, p, n, now);
    } else {
        g.cnt.bytes_in += (uint64_t)n;
        /* on an idle connection any data byte fails verify(): nothing is in flight */
        if (g.raw)
            process_raw(c, p, n, now);
        else
            process_ws(c, p, n, now);
    }
}

/* wss:// reading: one record per SSL_read_ex, until what OpenSSL read ahead from the
 * socket is used up (epoll is level-triggered, so bytes still in the socket wake us). */
static void
tls_read(struct conn *c, uint64_t now)
{
    for (;;) {
        size_t n = 0;
        int rv = SSL_read_ex(c->ssl, g.rbuf, RBUF_SIZE, &n);
        if (rv > 0) {
            conn_data(c, g.rbuf, n, now);
            if (c->closed || !SSL_has_pending(c->ssl))
                return;
            continue;
        }
        switch (SSL_get_error(c->ssl, rv)) {
        case SSL_ERROR_WANT_READ:
            return;
        case SSL_ERROR_WANT_WRITE: /* a TLS message of ours to send first */
            set_events(c, true);
            return;
        case SSL_ERROR_ZERO_RETURN: /* close_notify, or EOF */
            conn_eof(c);
            return;
        default:
            if (c->closing) {
                conn_finish(c, false);
                return;
            }
            tls_die(c, "SSL_read", rv);
        }
    }
}

static void
on_event(struct conn *c, uint32_t events)
{
    uint64_t now = bench_now_ns();
    if (c->closed)
        return;
    if (c->state == ST_CONNECTING) {
        on_connected(c);
        return;
    }
    if (c->state == ST_TLS) {
        tls_handshake(c);
        return;
    }
    if (events & EPOLLOUT)
        conn_flush(c);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    if (c->ssl) {
        tls_read(c, now);
        if (c->closed)
            return;
    } else {
        ssize_t n = recv(c->fd, g.rbuf, RBUF_SIZE, MSG_DONTWAIT);
        if (n == 0) {
            conn_eof(c);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            if (c->closing) {
                conn_finish(c, false);
                return;
            }
            conn_die(c, "recv: %s", strerror(errno));
        }
        conn_data(c, g.rbuf, (size_t)n, now);
    }
    if (c->due && !c->closed) {
        unsigned due = c->due;
        c->due = 0;
        if (g.phase == PH_WARM || g.phase == PH_MEASURE)
            send_msgs(c, due, now);
        else if (g.phase == PH_CLOSE && !c->closing && c->recvd == c->sent)
            start_close(c); /* drained */
    }
}

/* ---- options ---------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fputs("usage: loadgen [options] ws://HOST:PORT/PATH | wss://HOST:PORT/PATH | --raw HOST:PORT\n"
          "  -c N        connections (default 100)\n"
          "  -k N        messages in flight per connection (default 1)\n"
          "  -s BYTES    payload size, suffix k/m for KiB/MiB (default 20)\n"
          "  -d SECONDS  measured window (default 10; with --idle: hold time, default 0)\n"
          "  -w SECONDS  warm-up after all connections are up (default 2;\n"
          "              with --idle: settle time before reading VmRSS, default 3)\n"
          "  -p PID      server PID: report its CPU per message (or RSS with --idle)\n"
          "  --raw       plain TCP echo: send S bytes, read S bytes back\n"
          "  --lapps     LAppS protocol: CBOR {lapps:1, method:\"echo\", params:[h'S bytes']},\n"
          "              answer must be {cid:0, result:[the same], status:1} byte for byte\n"
          "  --idle      open the connections, send nothing, report server RSS per conn\n"
          "  --json      print the result as one JSON object\n"
          "  --tls-ciphersuites LIST  wss://: TLS 1.3 suites to offer (OpenSSL syntax)\n"
          "wss:// does NOT verify the server's certificate (a benchmark, not a client).\n",
          f);
}

static unsigned long long
parse_num(const char *s, const char *what, bool suffix)
{
    unsigned long long v;
    if (!bench_parse_uint(s, suffix, &v))
        bench_die("bad %s \"%s\"", what, s);
    return v;
}

static void
parse_url(const char *url)
{
    const char *p = url;
    bool ws = strncmp(p, "ws://", 5) == 0;
    g.tls = strncmp(p, "wss://", 6) == 0;
    if (ws)
        p += 5;
    else if (g.tls)
        p += 6;
    else if (strncmp(p, "tcp://", 6) == 0)
        p += 6;
    else if (strstr(p, "://"))
        bench_die("unsupported URL scheme in \"%s\" (ws:// or wss://)", url);
    if (g.tls && g.raw)
        bench_die("--raw is plain TCP: no wss:// URL");
    if (!ws && !g.tls && !g.raw)
        bench_die("\"%s\" is not a ws:// or wss:// URL (use --raw for plain TCP)", url);
    wsc_target_parse(&g.target, url, p, g.tls ? "443" : "80");
}

/* ---- main ------------------------------------------------------------------------- */

static void
report_idle(long rss0, long rss1)
{
    double per = g.conns ? (double)(rss1 - rss0) * 1024.0 / g.conns : 0;
    if (g.json) {
        printf("{\"mode\":\"idle\",\"conns\":%u,\"rss_before_kB\":%ld,\"rss_after_kB\":%ld,"
               "\"bytes_per_conn\":%.0f",
               g.conns, rss0, rss1, per);
        if (g.tls)
            printf(",\"tls\":\"%s\"", g.tls_desc);
        printf("}\n");
    } else {
        printf("idle conns=%u rss_before_kB=%ld rss_after_kB=%ld bytes/conn=%.0f", g.conns, rss0,
               rss1, per);
        if (g.tls)
            printf(" tls=%s", g.tls_desc);
        printf("\n");
    }
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"raw", no_argument, NULL, 'R'},
        {"lapps", no_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'J'},
        {"idle", no_argument, NULL, 'I'},
        {"tls-ciphersuites", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    g.conns = 100;
    g.inflight = 1;
    g.size = 20;
    g.duration = -1;
    g.warmup = -1;
    g.pid = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:k:s:d:w:p:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            g.conns = (unsigned)parse_num(optarg, "connection count", false);
            break;
        case 'k':
            g.inflight = (unsigned)parse_num(optarg, "in-flight count", false);
            break;
        case 's':
            g.size = (size_t)parse_num(optarg, "payload size", true);
            break;
        case 'd':
            g.duration = bench_parse_secs(optarg, "duration", 86400);
            break;
        case 'w':
            g.warmup = bench_parse_secs(optarg, "warm-up", 86400);
            break;
        case 'p':
            g.pid = (long)parse_num(optarg, "PID", false);
            break;
        case 'R':
            g.raw = true;
            break;
        case 'L':
            g.lapps = true;
            break;
        case 'J':
            g.json = true;
            break;
        case 'I':
            g.idle = true;
            break;
        case 'T':
            g.ciphersuites = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (g.duration < 0)
        g.duration = g.idle ? 0 : 10;
    if (g.warmup < 0)
        g.warmup = g.idle ? 3 : 2;
    if (g.conns < 1 || g.conns > 1000000)
        bench_die("connection count must be 1..1000000");
    if (g.inflight < 1 || g.inflight > 4096)
        bench_die("in-flight count must be 1..4096");
    if (g.size < 1 || g.size > (256u << 20))
        bench_die("payload size must be 1 B..256 MiB");
    if (!g.idle && g.duration <= 0)
        bench_die("the measured window (-d) must be longer than 0 s");
    if (g.idle && g.pid == 0)
        bench_die("--idle needs the server's PID (-p)");
    if (g.lapps && g.raw)
        bench_die("--lapps speaks WebSocket: not with --raw");
    parse_url(argv[optind]);
    if (g.tls)
        tls_init();
    signal(SIGPIPE, SIG_IGN);
    bench_raise_nofile(g.conns + 32, g.conns);

    uint64_t u0 = 0, s0 = 0, u1 = 0, s1 = 0;
    if (g.pid && !bench_proc_cpu(g.pid, &u0, &s0))
        bench_die("cannot read /proc/%ld/stat: is the server running?", g.pid);

    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (g.ep < 0)
        bench_die("epoll_create1: %s", strerror(errno));
    g.c = calloc(g.conns, sizeof *g.c);
    g.ts = calloc((size_t)g.conns * g.inflight, sizeof *g.ts);
    g.pat = bench_xmalloc(g.size + PAT_SHIFTS);
    g.scratch = bench_xmalloc((size_t)g.inflight * (g.size + 14 + sizeof g.req_pre));
    g.rbuf = bench_xmalloc(RBUF_SIZE);
    if (!g.c || !g.ts)
        bench_die("out of memory");
    uint32_t seed = 0x2545F491u;
    for (size_t i = 0; i < g.size + PAT_SHIFTS; i++)
        g.pat[i] = (uint8_t)(xorshift32(&seed) >> 24);
    g.msg_len = g.size;
    if (g.lapps)
        lapps_init(); /* after the pattern: it copies its slices */

    long rss0 = g.idle ? proc_rss_kb(g.pid) : 0, rss1 = 0;
    if (g.idle && rss0 < 0)
        bench_die("cannot read VmRSS of PID %ld", g.pid);

    double close_timeout = CLOSE_TIMEOUT + g.conns / 2000.0;
    struct epoll_event evs[MAX_EVENTS];
    struct counters c0 = {0}, c1 = {0};
    double cpu0 = 0, cpu1 = 0;
    uint64_t t_start = bench_now_ns(), t_phase = t_start, t_m0 = 0, t_m1 = 0;
    g.phase = PH_RAMP;
    while (g.phase != PH_DONE) {
        uint64_t now = bench_now_ns();
        double in_phase = (double)(now - t_phase) / 1e9;
        double wait_s = 0.1;
        switch (g.phase) {
        case PH_RAMP:
            start_connects();
            if (g.open == g.conns) {
                /* load starts when every connection is up: a server busy echoing for the
                 * first connections would otherwise starve the handshakes of the rest */
                if (!g.idle)
                    for (unsigned i = 0; i < g.conns; i++)
                        send_msgs(&g.c[i], g.inflight, now);
                g.phase = PH_WARM;
                t_phase = now;
                continue;
            }
            if ((double)(now - t_start) / 1e9 > RAMP_TIMEOUT)
                bench_die("only %u of %u connections established after %.0f s", g.open, g.conns,
                          RAMP_TIMEOUT);
            break;
        case PH_WARM:
            if (in_phase >= g.warmup) {
                if (g.idle) {
                    rss1 = proc_rss_kb(g.pid);
                    if (rss1 < 0)
                        bench_die("cannot read VmRSS of PID %ld: did the server exit?", g.pid);
                    report_idle(rss0, rss1);
                    g.phase = PH_HOLD;
                } else {
                    if (g.pid && !bench_proc_cpu(g.pid, &u0, &s0))
                        bench_die("cannot read /proc/%ld/stat: did the server exit?", g.pid);
                    c0 = g.cnt;
                    cpu0 = bench_self_cpu_secs();
                    memset(g.hist, 0, sizeof g.hist);
                    g.hist_n = 0;
                    g.phase = PH_MEASURE;
                    t_m0 = now;
                }
                t_phase = now;
                continue;
            }
            wait_s = g.warmup - in_phase;
            break;
        case PH_MEASURE:
            if (in_phase >= g.duration) {
                if (g.pid && !bench_proc_cpu(g.pid, &u1, &s1))
                    bench_die("cannot read /proc/%ld/stat: did the server exit?", g.pid);
                c1 = g.cnt;
                cpu1 = bench_self_cpu_secs();
                t_m1 = now;
                /* the messages in flight drain at about the measured rate */
                double rate = (double)(c1.msgs - c0.msgs) / ((double)(t_m1 - t_m0) / 1e9);
                double drain = (double)g.conns * g.inflight / (rate > 1 ? rate : 1);
                close_timeout += 2 * (drain < 30 ? drain : 30);
                begin_close();
                g.phase = PH_CLOSE;
                t_phase = now;
                continue;
            }
            wait_s = g.duration - in_phase;
            break;
        case PH_HOLD:
            if (in_phase >= g.duration) {
                begin_close();
                g.phase = PH_CLOSE;
                t_phase = now;
                continue;
            }
            wait_s = g.duration - in_phase;
            break;
        case PH_CLOSE:
            if (g.open == 0 || in_phase >= close_timeout) {
                g.phase = PH_DONE;
                continue;
            }
            wait_s = close_timeout - in_phase;
            break;
        case PH_DONE:
            break;
        }
        int timeout = (int)(wait_s * 1000.0) + 1;
        if (timeout > 100)
            timeout = 100;
        int n = epoll_wait(g.ep, evs, MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            bench_die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
    }
    if (g.open)
        fprintf(stderr, "loadgen: note: %u connections still open %.0f s after the load ended\n",
                g.open, close_timeout);
    if (g.abrupt)
        fprintf(stderr, "loadgen: note: %u connections ended without a clean close\n", g.abrupt);
    if (g.unanswered)
        fprintf(stderr,
                "loadgen: note: %" PRIu64 " echoes in flight were not returned before the "
                "server closed\n",
                g.unanswered);
    if (g.idle)
        return 0;

    double win = (double)(t_m1 - t_m0) / 1e9;
    uint64_t msgs = c1.msgs - c0.msgs;
    if (msgs == 0)
        bench_die("no echo completed in the %.2f s window", win);
    double rate = (double)msgs / win;
    double tx = (double)(c1.bytes_out - c0.bytes_out) / win / 1e6;
    double rx = (double)(c1.bytes_in - c0.bytes_in) / win / 1e6;
    double p50 = hist_quantile(0.50) / 1e3, p99 = hist_quantile(0.99) / 1e3;
    double lg_cpu = (cpu1 - cpu0) / win * 100.0;
    double hz = (double)sysconf(_SC_CLK_TCK);
    double user = 0, sys = 0;
    if (g.pid) {
        user = (double)(u1 - u0) / hz * 1e6 / (double)msgs;
        sys = (double)(s1 - s0) / hz * 1e6 / (double)msgs;
    }
    const char *mode = g.raw     ? "raw"
                       : g.lapps ? (g.tls ? "wss-lapps" : "lapps")
                       : g.tls   ? "wss"
                                 : "ws";
    if (g.json) {
        printf("{\"mode\":\"%s\",\"conns\":%u,\"inflight\":%u,\"size\":%zu,\"window_s\":%.3f,"
               "\"msgs\":%" PRIu64 ",\"msgs_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
               "\"tx_MBps\":%.2f,\"rx_MBps\":%.2f,",
               mode, g.conns, g.inflight, g.size, win, msgs, rate, p50, p99, tx, rx);
        if (g.pid)
            printf("\"user_us_per_msg\":%.3f,\"sys_us_per_msg\":%.3f,", user, sys);
        else
            printf("\"user_us_per_msg\":null,\"sys_us_per_msg\":null,");
        if (g.tls)
            printf("\"tls\":\"%s\",", g.tls_desc);
        printf("\"loadgen_cpu_pct\":%.0f}\n", lg_cpu);
    } else {
        printf("%s c=%u k=%u s=%zu window=%.2fs msgs/s=%.0f p50_us=%.1f p99_us=%.1f "
               "tx_MB/s=%.2f rx_MB/s=%.2f",
               mode, g.conns, g.inflight, g.size, win, rate, p50, p99, tx, rx);
        if (g.pid)
            printf(" user_us/msg=%.3f sys_us/msg=%.3f", user, sys);
        printf(" loadgen_cpu=%.0f%%", lg_cpu);
        if (g.tls)
            printf(" tls=%s", g.tls_desc);
        printf("\n");
    }
    fflush(stdout);
    return 0;
}
