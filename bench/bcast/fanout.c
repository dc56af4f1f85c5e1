/* fanout — broadcast fan-out client: one message to N subscribers, timed to the last one.
 *
 * One thread, epoll, non-blocking sockets. Opens N connections to a ws:// URL of a
 * broadcast room (a server that sends every message it receives to every connection, the
 * sender included: build/examples/bcast, bench/peers/ws-bcast.js), with a real RFC 6455
 * client handshake (Sec-WebSocket-Accept checked), at most 128 handshakes at once.
 * Connection 0 is the sender; all N connections, the sender included, are receivers.
 *
 * Each benchmark message is a masked binary frame of S bytes (16..125): its sequence
 * number (u64, little-endian), the sender's CLOCK_MONOTONIC time of send() in ns (u64),
 * then a pattern derived from the sequence number. Every connection must receive every
 * sequence number exactly once, in order, byte for byte; text frames are ignored (the
 * lappsd example broadcasts "tick N" every second), pings are answered. A message is
 * complete when the N-th connection has read it.
 *
 * Two phases on the same connections:
 *  - latency: M warm-up messages, then K measured, one at a time (the next is sent when
 *    the previous reached all N): send -> first delivery and send -> last delivery.
 *  - throughput: W messages in flight (a new one is sent whenever one completes), a
 *    warm-up of w seconds, then a window of d seconds: deliveries (frames read) per
 *    second, send -> last delivery of the messages completed in the window and, given
 *    the server's PID, its user and system CPU per delivery (/proc/PID/stat) and the CPU
 *    ticks of each of its threads (do both lappsd workers work?).
 * The time of a delivery is when this client's recv() returned it: with one client thread
 * reading N sockets, "last delivery" includes the client's own time to get to the last
 * socket (its CPU use is reported).
 *
 * Any error (wrong, missing, duplicated or reordered message, protocol violation, a
 * connection closed by the server, a message that does not reach all N within 10 s)
 * prints what happened and exits 1 without figures. At the end every connection closes
 * with a close handshake and waits for the server to close TCP first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

#include "benchutil.h"
#include "wsclient.h"

#define MAX_CONNECTING    128 /* handshakes in progress at once: stays below any backlog */
#define CONNECT_TIMEOUT_S 120.0
#define STALL_TIMEOUT_S   10.0 /* a message not at all N after this long: lost */
#define HS_MAX            4096
#define PAY_MAX           125  /* control frames and our messages; larger frames: error */
#define RING              1024 /* messages tracked at once; > any window */
#define MAX_WINDOW        256
#define MAX_EVENTS        1024
#define RBUF_SIZE         (64u << 10)
#define MAX_REPORTED      10 /* errors printed in full */
#define MAX_THREADS       64

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DONE };

struct conn {
    int fd;
    uint32_t id;
    uint8_t state;
    uint8_t hlen;    /* header bytes collected of the current frame */
    uint8_t plen;    /* its payload length (<= PAY_MAX) */
    uint8_t have;    /* payload bytes collected */
    bool in_payload; /* header complete, collecting the payload */
    bool got_close;  /* the server's close frame arrived */
    uint8_t hdr[14];
    uint8_t pay[PAY_MAX];
    uint64_t next_seq;       /* the sequence number this connection must receive next */
    struct wsc_handshake hs; /* ST_HANDSHAKE only */
};

struct msg {
    uint64_t seq;
    uint64_t t_send, t_first, t_last;
    uint32_t count; /* connections that have read it */
};

static struct {
    /* options */
    unsigned conns, size, lat_n, lat_warm, window;
    double tp_warm, tp_dur;
    long pid;
    bool json;
    struct wsc_target target;
    /* state */
    int ep;
    struct conn *c;
    unsigned started, connecting, open, closed;
    struct msg ring[RING];
    uint64_t sent, done; /* last sequence number sent; messages complete */
    bool sending;        /* throughput phase: send a new message when one completes */
    bool lat_phase;
    uint64_t lat_first_seq; /* first measured message of the latency phase */
    bool in_window;         /* throughput window open: record latencies */
    uint64_t deliveries;    /* benchmark frames read, all phases */
    uint64_t ticks, pings;
    uint64_t errors;
    /* samples, µs */
    double *lat_last, *lat_first, *tp_last;
    size_t n_lat, n_tp, cap_tp;
} g;

const char bench_progname[] = "fanout";

/* A verification error: counted, the first few printed; the run fails at its end. */
__attribute__((format(printf, 2, 3))) static void
report_error(const struct conn *c, const char *fmt, ...)
{
    if (++g.errors > MAX_REPORTED)
        return;
    va_list ap;
    fprintf(stderr, "fanout: error: conn %u: ", c->id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint8_t
pattern(uint64_t seq, unsigned i)
{
    return (uint8_t)(seq * 131u + i * 7u + 1u);
}

/* ---- /proc ------------------------------------------------------------------------ */

struct thread_cpu {
    long tid;
    uint64_t ticks;
};

/* The server's threads and their user + system ticks so far. */
static unsigned
proc_threads(long pid, struct thread_cpu *t, unsigned max)
{
    char path[320];
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        uint64_t u, s;
        snprintf(path, sizeof path, "/proc/%ld/task/%s/stat", pid, e->d_name);
        if (!bench_proc_stat_cpu(path, &u, &s))
            continue;
        t[n].tid = atol(e->d_name);
        t[n].ticks = u + s;
        n++;
    }
    closedir(d);
    return n;
}

/* ---- output to the server --------------------------------------------------------- */

/* Our frames are tiny and the socket buffer large: a short write means something is
 * badly wrong, so it ends the run rather than being queued. */
static void
conn_write(struct conn *c, const void *p, size_t n)
{
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w != (ssize_t)n)
        bench_die("conn %u: send of %zu bytes: %s", c->id, n,
                  w < 0 ? strerror(errno) : "short write");
}

static void
send_frame(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    uint8_t f[2 + 4 + PAY_MAX], key[4];
    uint32_t k = (uint32_t)random() | 1u;
    memcpy(key, &k, 4);
    size_t h = wsc_frame_header(f, (uint8_t)(0x80 | opcode), len, key); /* len <= 125: 6 */
    wsc_mask_copy(f + h, payload, len, key);
    conn_write(c, f, h + len);
}

/* Sends the next benchmark message from connection 0. */
static void
send_message(void)
{
    uint8_t p[PAY_MAX];
    uint64_t seq = ++g.sent;
    struct msg *m = &g.ring[seq % RING];
    if (m->seq && m->count < g.conns)
        bench_die("internal: ring slot of message %" PRIu64 " still in use", m->seq);
    for (unsigned i = 16; i < g.size; i++)
        p[i] = pattern(seq, i);
    put_u64(p, seq);
    m->seq = seq;
    m->count = 0;
    m->t_first = m->t_last = 0;
    m->t_send = bench_now_ns();
    put_u64(p + 8, m->t_send);
    send_frame(&g.c[0], 0x2, p, g.size);
}

/* ---- frames from the server ------------------------------------------------------- */

static void
message_complete(struct msg *m)
{
    g.done++;
    double last_us = (double)(m->t_last - m->t_send) / 1e3;
    if (g.lat_phase) {
        if (m->seq >= g.lat_first_seq) {
            g.lat_last[g.n_lat] = last_us;
            g.lat_first[g.n_lat] = (double)(m->t_first - m->t_send) / 1e3;
            g.n_lat++;
        }
        if (g.sent < g.lat_first_seq + g.lat_n - 1)
            send_message();
        return;
    }
    if (g.in_window) {
        if (g.n_tp == g.cap_tp) {
            g.cap_tp = g.cap_tp ? 2 * g.cap_tp : 4096;
            g.tp_last = realloc(g.tp_last, g.cap_tp * sizeof *g.tp_last);
            if (!g.tp_last)
                bench_die("out of memory");
        }
        g.tp_last[g.n_tp++] = last_us;
    }
    if (g.sending)
        send_message();
}

static void
benchmark_frame(struct conn *c, uint64_t now)
{
    if (c->plen != g.size) {
        report_error(c, "binary frame of %u bytes, expected %u", c->plen, g.size);
        return;
    }
    uint64_t seq = get_u64(c->pay);
    if (seq != c->next_seq) {
        report_error(c, "got message %" PRIu64 ", expected %" PRIu64 " (%s)", seq, c->next_seq,
                     seq < c->next_seq ? "duplicate or reordered" : "messages missing");
        if (seq < c->next_seq || seq > g.sent)
            return;
        c->next_seq = seq; /* count it, so the run goes on to report the rest */
    }
    struct msg *m = &g.ring[seq % RING];
    if (m->seq != seq || get_u64(c->pay + 8) != m->t_send) {
        report_error(c, "message %" PRIu64 ": wrong send time", seq);
        return;
    }
    for (unsigned i = 16; i < g.size; i++) {
        if (c->pay[i] != pattern(seq, i)) {
            report_error(c, "message %" PRIu64 ": byte %u is 0x%02x, expected 0x%02x", seq, i,
                         c->pay[i], pattern(seq, i));
            return;
        }
    }
    c->next_seq++;
    g.deliveries++;
    if (m->count++ == 0)
        m->t_first = now;
    if (m->count == g.conns) {
        m->t_last = now;
        message_complete(m);
    }
}

static void
frame_end(struct conn *c, uint8_t opcode, uint64_t now)
{
    switch (opcode) {
    case 0x1: /* text: the example's "tick N" */
        g.ticks++;
        break;
    case 0x2:
        benchmark_frame(c, now);
        break;
    case 0x8:
        if (c->state != ST_CLOSING)
            report_error(c, "the server sent a close frame (code %u)",
                         c->plen >= 2 ? (unsigned)(c->pay[0] << 8 | c->pay[1]) : 0);
        c->got_close = true;
        break;
    case 0x9:
        g.pings++;
        if (c->state != ST_CLOSING)
            send_frame(c, 0xA, c->pay, c->plen);
        break;
    case 0xA:
        break;
    default:
        report_error(c, "frame with opcode 0x%x", opcode);
    }
}

/* Frames arrive split and joined at any byte; the header is collected byte by byte. */
static void
process_frames(struct conn *c, const uint8_t *p, size_t n, uint64_t now)
{
    while (n) {
        if (!c->in_payload) {
            c->hdr[c->hlen++] = *p++;
            n--;
            if (c->hlen < 2)
                continue;
            uint8_t len7 = c->hdr[1] & 0x7f;
            unsigned need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
            if (c->hlen < need)
                continue;
            uint64_t len = len7;
            if (len7 == 126)
                len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
            else if (len7 == 127)
                for (unsigned i = 2; i < 10; i++)
                    len = len << 8 | c->hdr[i];
            if (c->hdr[1] & 0x80)
                bench_die("conn %u: masked frame from the server", c->id);
            if (c->hdr[0] & 0x70)
                bench_die("conn %u: RSV bits set (0x%02x)", c->id, c->hdr[0]);
            if (!(c->hdr[0] & 0x80))
                bench_die("conn %u: fragmented message (opcode 0x%x): not expected here", c->id,
                          c->hdr[0] & 0x0f);
            if ((len7 == 126 && len < 126) || (len7 == 127 && len < 65536))
                bench_die("conn %u: non-minimal frame length %" PRIu64, c->id, len);
            if (len > PAY_MAX)
                bench_die("conn %u: frame (opcode 0x%x) of %" PRIu64 " bytes: nothing this long is "
                          "expected",
                          c->id, c->hdr[0] & 0x0f, len);
            c->plen = (uint8_t)len;
            c->have = 0;
            c->in_payload = true;
        } else {
            size_t k = c->plen - c->have;
            if (k > n)
                k = n;
            memcpy(c->pay + c->have, p, k);
            c->have = (uint8_t)(c->have + k);
            p += k;
            n -= k;
        }
        if (c->in_payload && c->have == c->plen) {
            c->in_payload = false;
            c->hlen = 0;
            frame_end(c, c->hdr[0] & 0x0f, now);
        }
    }
}

/* ---- handshake -------------------------------------------------------------------- */

static void
start_handshake(struct conn *c)
{
    char req[2048];
    size_t n = wsc_handshake_start(&c->hs, &g.target, HS_MAX, req, sizeof req);
    c->state = ST_HANDSHAKE;
    conn_write(c, req, n);
}

static void
process_handshake(struct conn *c, const uint8_t *p, size_t n, uint64_t now)
{
    char err[HS_MAX + 128];
    size_t head_len;
    int rv = wsc_handshake_feed(&c->hs, p, n, &head_len, err, sizeof err);
    if (rv == WSC_HS_FAILED)
        bench_die("conn %u: %s", c->id, err);
    if (rv == WSC_HS_AGAIN)
        return;
    c->state = ST_OPEN;
    c->next_seq = g.sent + 1;
    g.connecting--;
    g.open++;
    if (c->hs.len > head_len) /* bytes after the head already belong to the frame stream */
        process_frames(c, (const uint8_t *)c->hs.buf + head_len, c->hs.len - head_len, now);
    wsc_handshake_free(&c->hs);
}

/* ---- connections ------------------------------------------------------------------ */

static void
start_connects(void)
{
    while (g.started < g.conns && g.connecting < MAX_CONNECTING) {
        struct conn *c = &g.c[g.started];
        c->id = g.started++;
        c->fd = wsc_connect_start(&g.target, c->id, g.ep, c);
        c->state = ST_CONNECTING;
        g.connecting++;
    }
}

static void
on_connected(struct conn *c)
{
    wsc_connect_finish(&g.target, c->id, c->fd, g.ep, c);
    start_handshake(c);
}

static void
conn_done(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    c->state = ST_DONE;
    g.closed++;
}

static void
on_readable(struct conn *c)
{
    static uint8_t buf[RBUF_SIZE];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        uint64_t now = bench_now_ns();
        if (n > 0) {
            if (c->state == ST_HANDSHAKE)
                process_handshake(c, buf, (size_t)n, now);
            else
                process_frames(c, buf, (size_t)n, now);
            if ((size_t)n < sizeof buf || c->state == ST_DONE)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (c->state == ST_CLOSING) { /* the server closed TCP after the close handshake */
            conn_done(c);
            return;
        }
        bench_die("conn %u: %s %s", c->id,
                  n == 0 ? "the server closed the connection" : strerror(errno),
                  c->state == ST_HANDSHAKE ? "during the handshake" : "");
    }
}

/* One pass of the event loop: waits at most timeout_ms. */
static void
poll_once(int timeout_ms)
{
    static struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(g.ep, ev, MAX_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR)
        bench_die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = ev[i].data.ptr;
        if (c->state == ST_DONE)
            continue;
        if (c->state == ST_CONNECTING) {
            on_connected(c);
            continue;
        }
        on_readable(c);
    }
}

/* Fails the run if the oldest message in flight has not reached everyone in time. */
static void
check_stall(uint64_t now)
{
    if (g.done == g.sent)
        return;
    struct msg *m = &g.ring[(g.done + 1) % RING];
    if (now - m->t_send < (uint64_t)(STALL_TIMEOUT_S * 1e9))
        return;
    unsigned shown = 0;
    char ids[256] = "";
    size_t len = 0;
    for (unsigned i = 0; i < g.conns && shown < 8; i++) {
        if (g.c[i].next_seq <= m->seq) {
            len += (size_t)snprintf(ids + len, sizeof ids - len, " %u", i);
            shown++;
        }
    }
    bench_die("message %" PRIu64 " reached %u of %u connections in %.0f s (lost); some that "
              "miss it:%s. %" PRIu64 " errors before.",
              m->seq, m->count, g.conns, STALL_TIMEOUT_S, ids, g.errors);
}

/* Runs the loop until cond() holds or the deadline (ns, 0: none) passes. */
static void
run_until(bool (*cond)(void), uint64_t deadline)
{
    while (!cond()) {
        uint64_t now = bench_now_ns();
        if (deadline && now >= deadline)
            return;
        check_stall(now);
        poll_once(100);
    }
}

static bool
all_open(void)
{
    return g.open == g.conns;
}

static bool
all_done(void)
{
    return g.done == g.sent;
}

static bool
lat_finished(void)
{
    return g.done == g.lat_first_seq + g.lat_n - 1;
}

static bool
never(void)
{
    return false;
}

static bool
all_closed(void)
{
    return g.closed == g.conns;
}

/* ---- statistics ------------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of n sorted samples. */
static double
quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* ---- options ---------------------------------------------------------------------- */

static void
usage(FILE *f)
{
    fputs("usage: fanout [options] ws://HOST:PORT/PATH\n"
          "  -c N        connections, all subscribers; connection 0 sends (default 10000)\n"
          "  -s BYTES    message size, 16..125 (default 32)\n"
          "  -n K        latency phase: messages measured, one at a time (default 200; 0: skip)\n"
          "  -m M        latency phase: warm-up messages before them (default 20)\n"
          "  -W N        throughput phase: messages in flight (default 16, at most 256)\n"
          "  -w SECONDS  throughput phase: warm-up (default 1)\n"
          "  -d SECONDS  throughput phase: measured window (default 3; 0: skip)\n"
          "  -p PID      server PID: its CPU per delivery over the window\n"
          "  --json      print the result as one JSON object\n",
          f);
}

static unsigned long
parse_num(const char *s, const char *what, unsigned long min, unsigned long max)
{
    unsigned long long v;
    if (!bench_parse_uint(s, false, &v) || v < min || v > max)
        bench_die("bad %s \"%s\" (%lu..%lu)", what, s, min, max);
    return (unsigned long)v;
}

static void
parse_url(const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        bench_die("\"%s\" is not a ws:// URL", url);
    wsc_target_parse(&g.target, url, url + 5, "80");
}

/* ---- main ------------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'J'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    g.conns = 10000;
    g.size = 32;
    g.lat_n = 200;
    g.lat_warm = 20;
    g.window = 16;
    g.tp_warm = 1;
    g.tp_dur = 3;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:s:n:m:W:w:d:p:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            g.conns = (unsigned)parse_num(optarg, "connection count", 1, 1000000);
            break;
        case 's':
            g.size = (unsigned)parse_num(optarg, "size", 16, PAY_MAX);
            break;
        case 'n':
            g.lat_n = (unsigned)parse_num(optarg, "message count", 0, 1000000);
            break;
        case 'm':
            g.lat_warm = (unsigned)parse_num(optarg, "warm-up count", 0, 1000000);
            break;
        case 'W':
            g.window = (unsigned)parse_num(optarg, "window", 1, MAX_WINDOW);
            break;
        case 'w':
            g.tp_warm = bench_parse_secs(optarg, "warm-up", 3600);
            break;
        case 'd':
            g.tp_dur = bench_parse_secs(optarg, "duration", 3600);
            break;
        case 'p':
            g.pid = (long)parse_num(optarg, "PID", 1, 1u << 30);
            break;
        case 'J':
            g.json = true;
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
    parse_url(argv[optind]);
    bench_raise_nofile(g.conns + 16, g.conns);
    srandom((unsigned)bench_now_ns());

    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (g.ep < 0)
        bench_die("epoll_create1: %s", strerror(errno));
    g.c = bench_xcalloc(g.conns, sizeof *g.c);
    g.lat_last = bench_xcalloc(g.lat_n, sizeof(double));
    g.lat_first = bench_xcalloc(g.lat_n, sizeof(double));

    /* connect: at most MAX_CONNECTING handshakes at once */
    uint64_t t0 = bench_now_ns(), deadline = t0 + (uint64_t)(CONNECT_TIMEOUT_S * 1e9);
    while (g.open < g.conns) {
        start_connects();
        if (bench_now_ns() > deadline)
            bench_die("only %u of %u connections open after %.0f s", g.open, g.conns,
                      CONNECT_TIMEOUT_S);
        poll_once(100);
    }
    double connect_s = (double)(bench_now_ns() - t0) / 1e9;
    run_until(all_open, 0);

    /* latency: one message at a time */
    double lat_lg_cpu = 0, lat_srv_cpu = -1;
    if (g.lat_n) {
        g.lat_phase = true;
        g.lat_first_seq = g.sent + 1 + g.lat_warm;
        uint64_t u0, s0, u1, s1;
        bool cpu_ok = g.pid && bench_proc_cpu(g.pid, &u0, &s0);
        double ru0 = bench_self_cpu_secs();
        uint64_t l0 = bench_now_ns();
        send_message();
        run_until(lat_finished, 0);
        double secs = (double)(bench_now_ns() - l0) / 1e9;
        lat_lg_cpu = 100.0 * (bench_self_cpu_secs() - ru0) / secs;
        if (cpu_ok && bench_proc_cpu(g.pid, &u1, &s1))
            lat_srv_cpu = 100.0 * (double)(u1 + s1 - u0 - s0) / (double)sysconf(_SC_CLK_TCK) / secs;
        g.lat_phase = false;
    }

    /* throughput: a window of messages in flight */
    double window_s = 0, lg_cpu = 0, user_us = -1, sys_us = -1;
    uint64_t deliveries = 0, msgs = 0, text = 0;
    struct thread_cpu th0[MAX_THREADS], th1[MAX_THREADS];
    unsigned nth0 = 0, nth1 = 0;
    if (g.tp_dur > 0) {
        g.sending = true;
        for (unsigned i = 0; i < g.window; i++)
            send_message();
        run_until(never, bench_now_ns() + (uint64_t)(g.tp_warm * 1e9));
        uint64_t u0 = 0, s0 = 0, u1 = 0, s1 = 0;
        bool cpu_ok = g.pid && bench_proc_cpu(g.pid, &u0, &s0);
        if (g.pid)
            nth0 = proc_threads(g.pid, th0, MAX_THREADS);
        double ru0 = bench_self_cpu_secs();
        uint64_t d0 = g.deliveries, m0 = g.done, x0 = g.ticks, w0 = bench_now_ns();
        g.in_window = true;
        run_until(never, w0 + (uint64_t)(g.tp_dur * 1e9));
        uint64_t w1 = bench_now_ns();
        g.in_window = false;
        deliveries = g.deliveries - d0;
        text = g.ticks - x0;
        msgs = g.done - m0;
        lg_cpu = (bench_self_cpu_secs() - ru0);
        cpu_ok = cpu_ok && bench_proc_cpu(g.pid, &u1, &s1);
        if (g.pid)
            nth1 = proc_threads(g.pid, th1, MAX_THREADS);
        window_s = (double)(w1 - w0) / 1e9;
        lg_cpu = 100.0 * lg_cpu / window_s;
        if (cpu_ok && deliveries) { /* per frame written: the text ones cost it too */
            double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
            user_us = (double)(u1 - u0) * tick_us / (double)(deliveries + text);
            sys_us = (double)(s1 - s0) * tick_us / (double)(deliveries + text);
        }
        g.sending = false;
        run_until(all_done, 0); /* the messages still in flight */
    }

    /* every connection must have received every message */
    for (unsigned i = 0; i < g.conns; i++) {
        if (g.c[i].next_seq != g.sent + 1)
            report_error(&g.c[i], "received up to message %" PRIu64 " of %" PRIu64,
                         g.c[i].next_seq - 1, g.sent);
    }

    /* close: close handshake on every connection, the server closes TCP first */
    static const uint8_t bye[2] = {0x03, 0xe8}; /* 1000 */
    for (unsigned i = 0; i < g.conns; i++) {
        g.c[i].state = ST_CLOSING;
        send_frame(&g.c[i], 0x8, bye, sizeof bye);
    }
    run_until(all_closed, bench_now_ns() + (uint64_t)((3.0 + g.conns / 2000.0) * 1e9));
    if (g.closed < g.conns) {
        unsigned no_frame = 0;
        for (unsigned i = 0; i < g.conns; i++)
            no_frame += g.c[i].state != ST_DONE && !g.c[i].got_close;
        fprintf(stderr,
                "fanout: note: %u connections still open after the close handshake's time "
                "(%u without the server's close frame)\n",
                g.conns - g.closed, no_frame);
    }

    if (g.errors) {
        fprintf(stderr, "fanout: %" PRIu64 " errors (first %d shown above): no figures\n", g.errors,
                MAX_REPORTED);
        return 1;
    }

    qsort(g.lat_last, g.n_lat, sizeof(double), cmp_double);
    qsort(g.lat_first, g.n_lat, sizeof(double), cmp_double);
    qsort(g.tp_last, g.n_tp, sizeof(double), cmp_double);
    double rate = window_s > 0 ? (double)deliveries / window_s : 0;

    /* the server's threads: ticks used in the window, busiest first */
    char threads[512] = "";
    size_t tl = 0;
    uint64_t tt[MAX_THREADS];
    unsigned ntt = 0;
    for (unsigned i = 0; i < nth1; i++) {
        uint64_t before = 0;
        for (unsigned j = 0; j < nth0; j++)
            if (th0[j].tid == th1[i].tid)
                before = th0[j].ticks;
        tt[ntt++] = th1[i].ticks - before;
    }
    for (unsigned i = 1; i < ntt; i++)
        for (unsigned j = i; j > 0 && tt[j - 1] < tt[j]; j--) {
            uint64_t t = tt[j];
            tt[j] = tt[j - 1];
            tt[j - 1] = t;
        }
    for (unsigned i = 0; i < ntt && tl < sizeof threads - 24; i++)
        tl +=
            (size_t)snprintf(threads + tl, sizeof threads - tl, "%s%" PRIu64, i ? " " : "", tt[i]);

    if (g.json) {
        printf("{\"conns\":%u,\"size\":%u,\"connect_s\":%.2f,\"lat_msgs\":%zu,"
               "\"lat_p50_us\":%.0f,\"lat_p99_us\":%.0f,\"lat_max_us\":%.0f,"
               "\"first_p50_us\":%.0f,\"lat_client_cpu_pct\":%.0f,\"lat_server_cpu_pct\":%.0f,"
               "\"window\":%u,\"window_s\":%.3f,\"msgs\":%" PRIu64 ",\"deliveries\":%" PRIu64
               ",\"deliveries_per_s\":%.0f,\"tp_p50_us\":%.0f,"
               "\"tp_p99_us\":%.0f,",
               g.conns, g.size, connect_s, g.n_lat, quantile(g.lat_last, g.n_lat, 0.5),
               quantile(g.lat_last, g.n_lat, 0.99), quantile(g.lat_last, g.n_lat, 1.0),
               quantile(g.lat_first, g.n_lat, 0.5), lat_lg_cpu, lat_srv_cpu, g.window, window_s,
               msgs, deliveries, rate, quantile(g.tp_last, g.n_tp, 0.5),
               quantile(g.tp_last, g.n_tp, 0.99));
        if (user_us >= 0)
            printf("\"user_us_per_delivery\":%.3f,\"sys_us_per_delivery\":%.3f,", user_us, sys_us);
        else
            printf("\"user_us_per_delivery\":null,\"sys_us_per_delivery\":null,");
        printf("\"server_thread_ticks\":\"%s\",\"client_cpu_pct\":%.0f,\"text_in_window\":%" PRIu64
               ",\"text_frames\":%" PRIu64 ",\"errors\":0}\n",
               threads, lg_cpu, text, g.ticks);
    } else {
        printf("conns=%u size=%u connect=%.2fs latency: n=%zu last_p50_us=%.0f last_p99_us=%.0f "
               "last_max_us=%.0f first_p50_us=%.0f client_cpu=%.0f%% server_cpu=%.0f%%\n",
               g.conns, g.size, connect_s, g.n_lat, quantile(g.lat_last, g.n_lat, 0.5),
               quantile(g.lat_last, g.n_lat, 0.99), quantile(g.lat_last, g.n_lat, 1.0),
               quantile(g.lat_first, g.n_lat, 0.5), lat_lg_cpu, lat_srv_cpu);
        printf("throughput: window=%u %.2fs msgs=%" PRIu64 " deliveries/s=%.0f p50_us=%.0f "
               "p99_us=%.0f",
               g.window, window_s, msgs, rate, quantile(g.tp_last, g.n_tp, 0.5),
               quantile(g.tp_last, g.n_tp, 0.99));
        if (user_us >= 0)
            printf(" user_us/delivery=%.3f sys_us/delivery=%.3f server_thread_ticks=%s", user_us,
                   sys_us, threads);
        printf(" client_cpu=%.0f%% text_in_window=%" PRIu64 " text_frames=%" PRIu64 "\n", lg_cpu,
               text, g.ticks);
    }
    fflush(stdout);
    return 0;
}
