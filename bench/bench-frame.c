/* bench-frame — how fast the frame parser turns client frames into messages.
 *
 * For masked text frames of 16 B, 1 KiB, 64 KiB and 1 MiB (and binary frames of the
 * same sizes) it measures parse + unmask + UTF-8 validation per byte of wire data and
 * prints it as GB/s, as ns per frame, as a ratio to memcpy of the same bytes, and
 * against Debian's wslay frame parser (parse + unmask; wslay does not validate UTF-8),
 * all measured in the same run, interleaved, median of several rounds.
 * Then UTF-8 validation and unmasking alone, for every implementation this CPU runs.
 *
 * The frames are masked with the key 00 00 00 00 so that one buffer can be parsed over
 * and over (unmasking in place then leaves it unchanged); the parser does the same XOR
 * work for every key. Benchmarks print figures; they never assert timings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapps/error.h>

#include "util/cpu.h"
#include "util/mask.h"
#include "util/utf8.h"
#include "ws/frame.h"

#ifdef HAVE_WSLAY
#include <wslay/wslay.h>
#endif

#define ROUNDS 7
#define MIN_NS 40000000.0 /* each measurement runs at least this long */
/* Frames up to 64 KiB are parsed from a buffer of this size, about what one read of a
 * busy connection brings into a worker's read buffer. */
#define WORKING_SET (32u << 10)

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static volatile uint64_t sink;

/* ---- workloads ---- */

struct workload {
    uint8_t *wire;
    size_t wire_len;
    size_t frames;
    size_t payload;
    int opcode;
};

/* Text that is valid UTF-8 with a mix of 1-4 byte characters, or plain ASCII. */
static void
fill_text(uint8_t *p, size_t n, bool mixed)
{
    static const char *pieces[] = {"Hello, world. ",  "κόσμε ", "Привет ",
                                   "日本語テキスト ", "😀🚀 ",    "naïve café ",
                                   "0123456789 "};
    size_t i = 0, k = 0;
    while (i < n) {
        const char *s = mixed ? pieces[k++ % 7] : pieces[0];
        size_t l = strlen(s);
        if (i + l > n) {
            memset(p + i, 'x', n - i); /* ASCII padding keeps it valid */
            break;
        }
        memcpy(p + i, s, l);
        i += l;
    }
}

static struct workload
make_workload(size_t payload, int opcode, bool mixed, size_t target_bytes)
{
    struct workload w = {.payload = payload, .opcode = opcode};
    size_t hdr = payload < 126 ? 6 : payload < 65536 ? 8 : 14;
    w.frames = target_bytes / (hdr + payload);
    if (w.frames == 0)
        w.frames = 1;
    w.wire_len = w.frames * (hdr + payload);
    w.wire = aligned_alloc(64, (w.wire_len + 63) / 64 * 64);
    uint8_t *p = w.wire;
    static const uint8_t zero_key[4] = {0, 0, 0, 0};
    for (size_t f = 0; f < w.frames; f++) {
        p += lapps__frame_header(p, (uint8_t)opcode, true, payload, zero_key);
        fill_text(p, payload, mixed);
        p += payload;
    }
    return w;
}

/* ---- the contenders: one pass over the workload each ---- */

static void
pass_lapps(struct workload *w)
{
    struct lapps__frame_parser p = {.max_message = 16u << 20};
    struct lapps__frame_event ev;
    size_t off = 0, bytes = 0;
    while (off < w->wire_len) {
        lapps_ssize r = lapps__frame_parse(&p, w->wire + off, w->wire_len - off, &ev);
        if (r < 0) {
            fprintf(stderr, "parse error %s\n", lapps_err_name((int)r));
            exit(1);
        }
        bytes += ev.len;
        off += (size_t)r;
    }
    sink += bytes;
}

static uint8_t *copy_dst;
static void
pass_memcpy(struct workload *w)
{
    memcpy(copy_dst, w->wire, w->wire_len);
    sink += copy_dst[w->wire_len - 1];
}

#ifdef HAVE_WSLAY
struct wslay_src {
    const uint8_t *p;
    size_t len, off;
};

static ssize_t
wslay_recv(uint8_t *buf, size_t len, int flags, void *user)
{
    struct wslay_src *s = user;
    if (s->off == s->len)
        s->off = 0; /* the next pass starts over: wslay sees one endless stream */
    size_t n = s->len - s->off < len ? s->len - s->off : len;
    memcpy(buf, s->p + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static ssize_t
wslay_send(const uint8_t *d, size_t l, int f, void *u)
{
    return (ssize_t)l;
}

static int
wslay_genmask(uint8_t *buf, size_t len, void *u)
{
    memset(buf, 0, len);
    return 0;
}

static wslay_frame_context_ptr wctx;
static struct wslay_src wsrc;

static void
pass_wslay(struct workload *w)
{
    size_t want = w->frames * w->payload, got = 0;
    while (got < want) {
        struct wslay_frame_iocb io;
        ssize_t r = wslay_frame_recv(wctx, &io);
        if (r < 0) {
            fprintf(stderr, "wslay error %zd\n", r);
            exit(1);
        }
        got += io.data_length;
    }
    sink += got;
}
#endif

/* Runs f over w repeatedly for at least MIN_NS; returns ns per pass. */
static double
time_pass(void (*f)(struct workload *), struct workload *w)
{
    f(w); /* warm up */
    size_t iters = 0;
    double t0 = now_ns(), t;
    do {
        for (int i = 0; i < 8; i++)
            f(w);
        iters += 8;
        t = now_ns();
    } while (t - t0 < MIN_NS);
    return (t - t0) / (double)iters;
}

static void
bench_frames(const char *label, size_t payload, int opcode, bool mixed)
{
    /* Keep the working set in cache for small frames, as a server's read buffer is. */
    size_t target = payload >= (1u << 20) ? payload + 14 : WORKING_SET;
    struct workload w = make_workload(payload, opcode, mixed, target);
    copy_dst = aligned_alloc(64, (w.wire_len + 63) / 64 * 64);
    double t_lapps[ROUNDS], t_copy[ROUNDS];
#ifdef HAVE_WSLAY
    double t_wslay[ROUNDS];
    struct wslay_frame_callbacks cb = {wslay_send, wslay_recv, wslay_genmask};
    wsrc = (struct wslay_src){w.wire, w.wire_len, 0};
    wslay_frame_context_init(&wctx, &cb, &wsrc);
#endif
    for (int r = 0; r < ROUNDS; r++) {
        t_lapps[r] = time_pass(pass_lapps, &w);
        t_copy[r] = time_pass(pass_memcpy, &w);
#ifdef HAVE_WSLAY
        t_wslay[r] = time_pass(pass_wslay, &w);
#endif
    }
    qsort(t_lapps, ROUNDS, sizeof(double), cmp_double);
    qsort(t_copy, ROUNDS, sizeof(double), cmp_double);
    double tl = t_lapps[ROUNDS / 2], tc = t_copy[ROUNDS / 2];
    printf("%-22s %9.2f ns/frame %7.2f GB/s  memcpy %7.2f GB/s  (%.2fx memcpy time)", label,
           tl / (double)w.frames, (double)w.wire_len / tl, (double)w.wire_len / tc, tl / tc);
#ifdef HAVE_WSLAY
    qsort(t_wslay, ROUNDS, sizeof(double), cmp_double);
    double tw = t_wslay[ROUNDS / 2];
    printf("  wslay %9.2f ns/frame %7.2f GB/s  lapps %.2fx faster", tw / (double)w.frames,
           (double)w.wire_len / tw, tw / tl);
    wslay_frame_context_free(wctx);
#endif
    printf("\n");
    free(copy_dst);
    free(w.wire);
}

/* ---- UTF-8 and masking alone ---- */

static const struct lapps__utf8_impl *cur_utf8;
static void
pass_utf8(struct workload *w)
{
    uint32_t st = 0;
    if (cur_utf8->validate(&st, w->wire, w->wire_len) != 0) {
        fprintf(stderr, "text unexpectedly invalid\n");
        exit(1);
    }
    sink += st;
}

static const struct lapps__mask_impl *cur_mask;
static void
pass_mask(struct workload *w)
{
    sink += cur_mask->mask(w->wire, w->wire_len, 0x12345678u);
}

static void
bench_utf8(const char *label, size_t n, bool mixed)
{
    struct workload w = {.wire = aligned_alloc(64, n), .wire_len = n};
    fill_text(w.wire, n, mixed);
    copy_dst = aligned_alloc(64, n);
    double tc = time_pass(pass_memcpy, &w);
    printf("utf8 %-17s memcpy %7.2f GB/s", label, (double)n / tc);
    for (cur_utf8 = lapps__utf8_impls; cur_utf8->name; cur_utf8++) {
        if (!lapps__cpu_has(cur_utf8->needs))
            continue;
        double t[ROUNDS];
        for (int r = 0; r < ROUNDS; r++)
            t[r] = time_pass(pass_utf8, &w);
        qsort(t, ROUNDS, sizeof(double), cmp_double);
        printf("  %s %7.2f GB/s", cur_utf8->name, (double)n / t[ROUNDS / 2]);
    }
    printf("\n");
    free(copy_dst);
    free(w.wire);
}

static void
bench_mask(const char *label, size_t n)
{
    struct workload w = {.wire = aligned_alloc(64, n), .wire_len = n};
    memset(w.wire, 'm', n);
    copy_dst = aligned_alloc(64, n);
    double tc = time_pass(pass_memcpy, &w);
    printf("mask %-17s memcpy %7.2f GB/s", label, (double)n / tc);
    for (cur_mask = lapps__mask_impls; cur_mask->name; cur_mask++) {
        if (!lapps__cpu_has(cur_mask->needs))
            continue;
        double t[ROUNDS];
        for (int r = 0; r < ROUNDS; r++)
            t[r] = time_pass(pass_mask, &w);
        qsort(t, ROUNDS, sizeof(double), cmp_double);
        printf("  %s %7.2f GB/s", cur_mask->name, (double)n / t[ROUNDS / 2]);
    }
    printf("\n");
    free(copy_dst);
    free(w.wire);
}

int
main(int argc, char **argv)
{
    bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    printf("frame parse + unmask + UTF-8 (GB/s of wire bytes; medians of %d rounds)\n", ROUNDS);
    bench_frames("text 14 B (20 B wire)", 14, 1, false);
    bench_frames("text 16 B", 16, 1, false);
    bench_frames("text 1 KiB", 1024, 1, false);
    bench_frames("text 1 KiB mixed", 1024, 1, true);
    bench_frames("binary 1 KiB", 1024, 2, false);
    if (!quick) {
        bench_frames("text 64 KiB", 64 << 10, 1, false);
        bench_frames("text 64 KiB mixed", 64 << 10, 1, true);
        bench_frames("binary 64 KiB", 64 << 10, 2, false);
        bench_frames("text 1 MiB", 1 << 20, 1, false);
        bench_frames("text 1 MiB mixed", 1 << 20, 1, true);
        bench_frames("binary 1 MiB", 1 << 20, 2, false);
    }
    bench_utf8("1 KiB ASCII", 1024, false);
    bench_utf8("64 KiB ASCII", 64 << 10, false);
    bench_utf8("64 KiB mixed", 64 << 10, true);
    bench_utf8("1 MiB mixed", 1 << 20, true);
    bench_mask("1 KiB", 1024);
    bench_mask("64 KiB", 64 << 10);
    return 0;
}
