/* Tests for lib/ws/frame.c: the frame parser and header encoder.
 *
 * Every wire input is replayed by feed_all() whole, split into two chunks at every byte
 * offset, and byte by byte; each chunk (with the bytes the parser left unconsumed) is
 * placed flush against a PROT_NONE page. The parser's events are turned into a
 * transcript of whole messages, which must be the same for every split. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "guard.h"
#include "util/mask.h"
#include "ws/frame.h"

/* ---- building client frames ---- */

struct wire {
    uint8_t b[300000];
    size_t n;
};

static const uint8_t test_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Appends one frame; payload is masked with test_key unless unmasked is set. */
static void
put_frame(struct wire *w, unsigned b0, const void *payload, size_t len, bool unmasked)
{
    uint8_t h[LAPPS__FRAME_MAX_HEADER];
    size_t hn =
        lapps__frame_header(h, (uint8_t)(b0 & 0x0F), b0 & 0x80, len, unmasked ? NULL : test_key);
    h[0] = (uint8_t)b0; /* keep RSV bits the test asked for */
    cr_assert_leq(w->n + hn + len, sizeof w->b);
    memcpy(w->b + w->n, h, hn);
    w->n += hn;
    if (len)
        memcpy(w->b + w->n, payload, len);
    for (size_t i = 0; i < len && !unmasked; i++)
        w->b[w->n + i] ^= test_key[i & 3];
    w->n += len;
}

static void
put_raw(struct wire *w, const void *bytes, size_t n)
{
    memcpy(w->b + w->n, bytes, n);
    w->n += n;
}

#define FIN 0x80u

/* ---- the feeding driver ---- */

struct transcript {
    char s[4096];
    size_t n;
    int err;
    uint16_t close_code;
    size_t err_at; /* bytes of wire fed when the error was reported */
};

struct feeder {
    struct lapps__frame_parser p;
    struct transcript t;
    uint8_t *msg;
    size_t msg_len, msg_cap;
    uint8_t carry[LAPPS__FRAME_MAX_HEADER + LAPPS__FRAME_MAX_CONTROL];
    size_t carry_n;
    size_t fed;
};

static void
tr_add(struct transcript *t, const char *fmt, const uint8_t *data, size_t len)
{
    t->n += (size_t)snprintf(t->s + t->n, sizeof t->s - t->n, "%s", fmt);
    for (size_t i = 0; i < len && t->n + 4 < sizeof t->s; i++) {
        if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\')
            t->s[t->n++] = (char)data[i];
        else
            t->n += (size_t)snprintf(t->s + t->n, sizeof t->s - t->n, "\\%02x", data[i]);
    }
    if (t->n + 2 < sizeof t->s)
        t->s[t->n++] = '|';
    t->s[t->n] = 0;
}

static void
on_event(struct feeder *f, const struct lapps__frame_event *ev)
{
    if (ev->kind == LAPPS__FRAME_CONTROL) {
        char tag[32];
        if (ev->opcode == LAPPS__OP_CLOSE) {
            snprintf(tag, sizeof tag, "CLOSE %u:", ev->close_code);
            tr_add(&f->t, tag, ev->reason, ev->reason_len);
        } else {
            tr_add(&f->t, ev->opcode == LAPPS__OP_PING ? "PING:" : "PONG:", ev->data, ev->len);
        }
        return;
    }
    cr_assert_eq(ev->kind, LAPPS__FRAME_DATA);
    cr_assert(ev->opcode == LAPPS__OP_TEXT || ev->opcode == LAPPS__OP_BINARY);
    cr_assert_eq(ev->first, f->msg_len == 0 && f->msg == NULL, "first flag out of step");
    if (ev->first)
        f->msg = malloc(1);
    if (f->msg_len + ev->len > f->msg_cap) {
        f->msg_cap = (f->msg_len + ev->len) * 2 + 16;
        f->msg = realloc(f->msg, f->msg_cap);
    }
    if (ev->len)
        memcpy(f->msg + f->msg_len, ev->data, ev->len);
    f->msg_len += ev->len;
    if (ev->last) {
        cr_assert(ev->frame_end);
        if (f->msg_len > 64) {
            /* Long messages: record length and a checksum, not the bytes. */
            uint32_t h = 2166136261u;
            for (size_t i = 0; i < f->msg_len; i++)
                h = (h ^ f->msg[i]) * 16777619u;
            char tag[64];
            snprintf(tag, sizeof tag, "%s %zu #%08x", ev->opcode == 1 ? "TEXT" : "BIN", f->msg_len,
                     h);
            tr_add(&f->t, tag, NULL, 0);
        } else {
            tr_add(&f->t, ev->opcode == 1 ? "TEXT:" : "BIN:", f->msg, f->msg_len);
        }
        free(f->msg);
        f->msg = NULL;
        f->msg_len = 0;
        f->msg_cap = 0;
    }
}

/* Feeds one chunk; returns false once the parser reported an error. */
static bool
feed(struct feeder *f, const uint8_t *chunk, size_t n)
{
    if (f->t.err)
        return false;
    size_t total = f->carry_n + n;
    uint8_t *tmp = malloc(total ? total : 1);
    memcpy(tmp, f->carry, f->carry_n);
    if (n)
        memcpy(tmp + f->carry_n, chunk, n);
    uint8_t *buf = guard_copy(tmp, total);
    free(tmp);
    f->fed += n;
    size_t off = 0;
    for (;;) {
        struct lapps__frame_event ev;
        memset(&ev, 0xAA, sizeof ev); /* the parser must set what it reports */
        lapps_ssize r = lapps__frame_parse(&f->p, buf + off, total - off, &ev);
        if (r == LAPPS_ERR_AGAIN)
            break;
        if (r < 0) {
            f->t.err = (int)r;
            f->t.close_code = f->p.close_code;
            f->t.err_at = f->fed;
            char tag[32];
            snprintf(tag, sizeof tag, "ERR %u", f->p.close_code);
            tr_add(&f->t, tag, NULL, 0);
            guard_free(buf);
            return false;
        }
        cr_assert_gt(r, 0, "a call that returns no error must consume bytes");
        cr_assert_leq((size_t)r, total - off);
        if (ev.kind != LAPPS__FRAME_NONE)
            on_event(f, &ev);
        off += (size_t)r;
    }
    f->carry_n = total - off;
    cr_assert_leq(f->carry_n, sizeof f->carry, "the parser left %zu bytes unconsumed", f->carry_n);
    memcpy(f->carry, buf + off, f->carry_n);
    guard_free(buf);
    return true;
}

static void
feeder_init(struct feeder *f, uint64_t max_message, bool client)
{
    memset(f, 0, sizeof *f);
    f->p.max_message = max_message;
    f->p.client = client;
}

static void
feeder_done(struct feeder *f)
{
    free(f->msg);
}

/* Replays the wire whole, at every two-way split (for inputs up to 2 KiB; longer inputs
 * at 97 spread offsets) and byte by byte (up to 2 KiB), and returns the transcript,
 * which must be the same in every mode. */
static struct transcript
feed_all(const struct wire *w, uint64_t max_message, bool client)
{
    static struct feeder f;
    feeder_init(&f, max_message, client);
    feed(&f, w->b, w->n);
    struct transcript whole = f.t;
    feeder_done(&f);

    size_t step = w->n <= 2048 ? 1 : w->n / 97 + 1;
    for (size_t cut = 0; cut <= w->n; cut += step) {
        feeder_init(&f, max_message, client);
        if (feed(&f, w->b, cut))
            feed(&f, w->b + cut, w->n - cut);
        cr_assert_str_eq(f.t.s, whole.s, "split at %zu of %zu", cut, w->n);
        feeder_done(&f);
    }
    if (w->n <= 2048) {
        feeder_init(&f, max_message, client);
        for (size_t i = 0; i < w->n && feed(&f, w->b + i, 1); i++)
            ;
        cr_assert_str_eq(f.t.s, whole.s, "byte by byte");
        feeder_done(&f);
    }
    return whole;
}

static void
expect(const struct wire *w, const char *transcript)
{
    struct transcript t = feed_all(w, 0, false);
    cr_assert_str_eq(t.s, transcript);
}

/* ---- RFC 6455 §5.7 examples ---- */

Test(frame, rfc_single_frame_masked_text)
{
    static const uint8_t b[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct wire w = {.n = 0};
    put_raw(&w, b, sizeof b);
    expect(&w, "TEXT:Hello|");
}

Test(frame, rfc_unmasked_text_from_a_client_is_refused)
{
    static const uint8_t b[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct wire w = {.n = 0};
    put_raw(&w, b, sizeof b);
    expect(&w, "ERR 1002|");
}

Test(frame, rfc_unmasked_text_from_a_server_is_read_by_a_client_parser)
{
    static const uint8_t b[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x01,
                                0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    struct wire w = {.n = 0};
    put_raw(&w, b, sizeof b);
    struct transcript t = feed_all(&w, 0, true);
    cr_assert_str_eq(t.s, "TEXT:Hello|TEXT:Hello|");
}

Test(frame, masked_frame_to_a_client_parser_is_refused)
{
    struct wire w = {.n = 0};
    put_frame(&w, FIN | 1, "x", 1, false);
    cr_assert_str_eq(feed_all(&w, 0, true).s, "ERR 1002|");
}

Test(frame, rfc_fragmented_text_and_ping)
{
    struct wire w = {.n = 0};
    put_frame(&w, 0x01, "Hel", 3, false);
    put_frame(&w, FIN | 0x9, "Hello", 5, false);
    put_frame(&w, FIN | 0x0, "lo", 2, false);
    put_frame(&w, FIN | 0xA, "Hello", 5, false);
    expect(&w, "PING:Hello|TEXT:Hello|PONG:Hello|");
}

Test(frame, lengths_7_16_and_64_bits)
{
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        struct wire *w = calloc(1, sizeof *w);
        put_frame(w, FIN | 2, big, sizes[k], false);
        struct transcript t = feed_all(w, 0, false);
        char want[64];
        if (sizes[k] > 64) {
            uint32_t h = 2166136261u;
            for (size_t i = 0; i < sizes[k]; i++)
                h = (h ^ big[i]) * 16777619u;
            snprintf(want, sizeof want, "BIN %zu #%08x|", sizes[k], h);
            cr_assert_str_eq(t.s, want, "size %zu", sizes[k]);
        } else {
            cr_assert(strncmp(t.s, "BIN:", 4) == 0, "size %zu: %s", sizes[k], t.s);
        }
        free(w);
    }
}

Test(frame, empty_messages_and_empty_fragments)
{
    struct wire w = {.n = 0};
    put_frame(&w, FIN | 1, "", 0, false);
    put_frame(&w, FIN | 2, "", 0, false);
    put_frame(&w, 0x01, "", 0, false);
    put_frame(&w, 0x00, "ab", 2, false);
    put_frame(&w, 0x00, "", 0, false);
    put_frame(&w, FIN | 0x0, "", 0, false);
    put_frame(&w, FIN | 0x9, "", 0, false);
    expect(&w, "TEXT:|BIN:|TEXT:ab|PING:|");
}

Test(frame, control_frames_between_fragments)
{
    struct wire w = {.n = 0};
    put_frame(&w, 0x02, "\x01\x02", 2, false);
    put_frame(&w, FIN | 0x9, "p1", 2, false);
    put_frame(&w, 0x00, "\x03", 1, false);
    put_frame(&w, FIN | 0xA, "", 0, false);
    put_frame(&w, FIN | 0x8,
              "\x03\xe8"
              "bye",
              5, false);
    put_frame(&w, FIN | 0x00, "\x04", 1, false);
    expect(&w, "PING:p1|PONG:|CLOSE 1000:bye|BIN:\\01\\02\\03\\04|");
}

/* ---- protocol errors: 1002 ---- */

Test(frame, rsv_bits_are_refused)
{
    for (unsigned rsv = 0x10; rsv <= 0x70; rsv += 0x10) {
        struct wire w = {.n = 0};
        put_frame(&w, FIN | rsv | 1, "hi", 2, false);
        cr_assert_str_eq(feed_all(&w, 0, false).s, "ERR 1002|", "rsv %x", rsv);
    }
}

Test(frame, reserved_opcodes_are_refused_with_1002)
{
    unsigned ops[] = {3, 4, 5, 6, 7, 11, 12, 13, 14, 15};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        struct wire w = {.n = 0};
        put_frame(&w, FIN | ops[i], "", 0, false);
        cr_assert_str_eq(feed_all(&w, 0, false).s, "ERR 1002|", "opcode %u", ops[i]);
        /* Also when it comes after a good message. */
        struct wire w2 = {.n = 0};
        put_frame(&w2, FIN | 1, "ok", 2, false);
        put_frame(&w2, FIN | ops[i], "xyz", 3, false);
        cr_assert_str_eq(feed_all(&w2, 0, false).s, "TEXT:ok|ERR 1002|", "opcode %u", ops[i]);
    }
}

Test(frame, control_frame_rules)
{
    static uint8_t pl[126];
    memset(pl, 'x', sizeof pl);
    struct wire w = {.n = 0};
    put_frame(&w, FIN | 0x9, pl, 125, false); /* 125 bytes is the limit: fine */
    struct transcript t = feed_all(&w, 0, false);
    cr_assert(strncmp(t.s, "PING:xxx", 8) == 0);

    unsigned ops[] = {0x8, 0x9, 0xA};
    for (size_t i = 0; i < 3; i++) {
        struct wire a = {.n = 0}, b = {.n = 0};
        put_frame(&a, FIN | ops[i], pl, 126, false); /* too long */
        cr_assert_str_eq(feed_all(&a, 0, false).s, "ERR 1002|");
        put_frame(&b, ops[i], "", 0, false); /* fragmented control frame */
        cr_assert_str_eq(feed_all(&b, 0, false).s, "ERR 1002|");
    }
}

Test(frame, fragment_sequence_errors)
{
    struct wire a = {.n = 0}, b = {.n = 0}, c = {.n = 0};
    put_frame(&a, FIN | 0x0, "x", 1, false); /* continuation with no message */
    cr_assert_str_eq(feed_all(&a, 0, false).s, "ERR 1002|");
    put_frame(&b, 0x1, "x", 1, false); /* new message inside a message */
    put_frame(&b, FIN | 0x1, "y", 1, false);
    cr_assert_str_eq(feed_all(&b, 0, false).s, "ERR 1002|");
    put_frame(&c, 0x2, "x", 1, false);
    put_frame(&c, FIN | 0x2, "y", 1, false);
    cr_assert_str_eq(feed_all(&c, 0, false).s, "ERR 1002|");
}

Test(frame, non_minimal_and_oversized_length_encodings)
{
    /* 16-bit length holding 5 */
    static const uint8_t a[] = {0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0, 0};
    /* 64-bit length holding 200 */
    static const uint8_t b[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 200, 1, 2, 3, 4};
    /* 64-bit length with the top bit set */
    static const uint8_t c[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    const uint8_t *all[] = {a, b, c};
    size_t len[] = {sizeof a, sizeof b, sizeof c};
    for (int i = 0; i < 3; i++) {
        struct wire w = {.n = 0};
        put_raw(&w, all[i], len[i]);
        cr_assert_str_eq(feed_all(&w, 0, false).s, "ERR 1002|", "case %d", i);
    }
}

/* ---- the message limit: 1009 before any payload is buffered ---- */

Test(frame, message_limit_on_the_frame_header)
{
    struct wire w = {.n = 0};
    static uint8_t pl[1001];
    put_frame(&w, FIN | 2, pl, 1000, false);
    cr_assert(strncmp(feed_all(&w, 1000, false).s, "BIN 1000 #", 10) == 0);
    struct wire big = {.n = 0};
    put_frame(&big, FIN | 2, pl, 1001, false);
    struct transcript t = feed_all(&big, 1000, false);
    cr_assert_str_eq(t.s, "ERR 1009|");
    /* Declared 2^62 bytes: refused from the 14 header bytes alone. */
    static const uint8_t huge[] = {0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    struct feeder f;
    feeder_init(&f, 16 << 20, false);
    cr_assert_not(feed(&f, huge, sizeof huge));
    cr_assert_eq(f.t.close_code, 1009);
    cr_assert_eq(f.t.err, LAPPS_ERR_TOO_BIG);
    feeder_done(&f);
}

Test(frame, message_limit_on_the_running_total)
{
    struct wire w = {.n = 0};
    static uint8_t pl[600];
    put_frame(&w, 0x2, pl, 600, false);
    put_frame(&w, FIN | 0x9, "", 0, false);
    put_frame(&w, 0x0, pl, 400, false); /* 1000 so far: fine */
    put_frame(&w, FIN | 0x0, pl, 1, false);
    cr_assert_str_eq(feed_all(&w, 1000, false).s, "PING:|ERR 1009|");
}

/* ---- UTF-8: 1007, found as soon as the bad byte arrives ---- */

Test(frame, utf8_valid_across_fragments)
{
    /* "κόσμε" split inside characters */
    static const char s[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    struct wire w = {.n = 0};
    put_frame(&w, 0x1, s, 1, false);
    put_frame(&w, 0x0, s + 1, 3, false);
    put_frame(&w, FIN | 0x0, s + 4, sizeof s - 5, false);
    expect(&w, "TEXT:\\ce\\ba\\e1\\bd\\b9\\cf\\83\\ce\\bc\\ce\\b5|");
}

Test(frame, utf8_invalid_text_is_1007)
{
    const char *bad[] = {"\xff", "a\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct wire w = {.n = 0};
        put_frame(&w, FIN | 1, bad[i], strlen(bad[i]), false);
        cr_assert_str_eq(feed_all(&w, 0, false).s, "ERR 1007|", "case %zu", i);
    }
    /* Binary messages are not text: the same bytes are fine. */
    struct wire b = {.n = 0};
    put_frame(&b, FIN | 2, "\xff", 1, false);
    expect(&b, "BIN:\\ff|");
}

Test(frame, utf8_truncated_at_message_end_is_1007)
{
    struct wire w = {.n = 0};
    put_frame(&w, 0x1, "ok\xe2\x82", 4, false);
    put_frame(&w, FIN | 0x0, "", 0, false);
    cr_assert_str_eq(feed_all(&w, 0, false).s, "ERR 1007|");
    struct wire v = {.n = 0}; /* ...while completing it in the next fragment is fine */
    put_frame(&v, 0x1, "ok\xe2\x82", 4, false);
    put_frame(&v, FIN | 0x0, "\xac", 1, false);
    expect(&v, "TEXT:ok\\e2\\82\\ac|");
}

Test(frame, utf8_error_is_reported_before_the_frame_ends)
{
    /* A 200-byte text frame whose 10th payload byte is invalid (Autobahn 6.4.x): the
     * error must come as soon as that byte arrives, not when the frame is complete. */
    uint8_t pl[200];
    memset(pl, 'a', sizeof pl);
    pl[9] = 0xF5;
    struct wire w = {.n = 0};
    put_frame(&w, FIN | 1, pl, sizeof pl, false);
    size_t hdr = w.n - sizeof pl;
    for (size_t cut = hdr + 10; cut < w.n; cut += 17) {
        struct feeder f;
        feeder_init(&f, 0, false);
        cr_assert_not(feed(&f, w.b, cut));
        cr_assert_eq(f.t.close_code, 1007);
        cr_assert_eq(f.t.err, LAPPS_ERR_UTF8);
        feeder_done(&f);
    }
    /* One byte short of the bad one: no error yet. */
    struct feeder f;
    feeder_init(&f, 0, false);
    cr_assert(feed(&f, w.b, hdr + 9));
    cr_assert_not(feed(&f, w.b + hdr + 9, 1));
    cr_assert_eq(f.t.close_code, 1007);
    feeder_done(&f);
}

/* ---- close frames ---- */

Test(frame, close_payloads)
{
    struct {
        const char *payload;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "CLOSE 1005:|"},
        {"\x03\xe8", 2, "CLOSE 1000:|"},
        {"\x03\xe8"
         "fine",
         6, "CLOSE 1000:fine|"},
        {"\x0f\xa0"
         "\xce\xba",
         4, "CLOSE 4000:\\ce\\ba|"},
        {"\x03", 1, "ERR 1002|"},
        {"\x03\xed", 2, "ERR 1002|"}, /* 1005 */
        {"\x03\xe9"
         "x",
         3, "ERR 1002|"},                     /* 1001 is fine... */
        {"\x03\xe8\xff", 3, "ERR 1007|"},     /* bad reason */
        {"\x03\xe8\xe2\x82", 4, "ERR 1007|"}, /* truncated reason */
    };
    cases[6].want = "CLOSE 1001:x|";
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct wire w = {.n = 0};
        put_frame(&w, FIN | 8, cases[i].payload, cases[i].len, false);
        cr_assert_str_eq(feed_all(&w, 0, false).s, cases[i].want, "case %zu", i);
    }
}

Test(frame, every_close_code_from_0_to_5000)
{
    for (unsigned code = 0; code <= 5000; code++) {
        bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                  (code >= 3000 && code <= 4999);
        uint8_t pl[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        struct wire w = {.n = 0};
        put_frame(&w, FIN | 8, pl, 2, false);
        struct feeder f;
        feeder_init(&f, 0, false);
        feed(&f, w.b, w.n);
        char want[32];
        if (ok)
            snprintf(want, sizeof want, "CLOSE %u:|", code);
        else
            snprintf(want, sizeof want, "ERR 1002|");
        cr_assert_str_eq(f.t.s, want, "code %u", code);
        feeder_done(&f);
    }
}

/* ---- header encoder ---- */

Test(frame, header_encoder_lengths)
{
    struct {
        uint64_t len;
        size_t hlen;
        uint8_t b1;
    } cases[] = {{0, 2, 0},
                 {125, 2, 125},
                 {126, 4, 126},
                 {65535, 4, 126},
                 {65536, 10, 127},
                 {1ull << 32, 10, 127},
                 {(1ull << 63) - 1, 10, 127}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t h[LAPPS__FRAME_MAX_HEADER];
        size_t n = lapps__frame_header(h, LAPPS__OP_BINARY, true, cases[i].len, NULL);
        cr_assert_eq(n, cases[i].hlen);
        cr_assert_eq(h[0], 0x82);
        cr_assert_eq(h[1], cases[i].b1);
        uint64_t got = h[1];
        if (n == 4)
            got = (uint64_t)h[2] << 8 | h[3];
        if (n == 10)
            for (int k = 0, j = 2; k < 8; k++, j++)
                got = k ? got << 8 | h[j] : h[j];
        cr_assert_eq(got, cases[i].len);
        /* A client frame adds the mask bit and the key. */
        n = lapps__frame_header(h, LAPPS__OP_TEXT, false, cases[i].len, test_key);
        cr_assert_eq(n, cases[i].hlen + 4);
        cr_assert_eq(h[0], 0x01);
        cr_assert_eq(h[1], 0x80 | cases[i].b1);
        cr_assert_eq(memcmp(h + n - 4, test_key, 4), 0);
    }
}

Test(frame, encoder_and_parser_round_trip_in_client_mode)
{
    struct wire w = {.n = 0};
    uint8_t h[LAPPS__FRAME_MAX_HEADER];
    static uint8_t pl[300];
    for (size_t i = 0; i < sizeof pl; i++)
        pl[i] = (uint8_t)('a' + i % 26);
    size_t n = lapps__frame_header(h, LAPPS__OP_TEXT, true, sizeof pl, NULL);
    put_raw(&w, h, n);
    put_raw(&w, pl, sizeof pl);
    struct transcript t = feed_all(&w, 0, true);
    cr_assert(strncmp(t.s, "TEXT 300 #", 10) == 0, "%s", t.s);
}

Test(frame, parser_is_unchanged_by_again)
{
    /* A partial header leaves the parser exactly as it was. */
    struct lapps__frame_parser p = {0}, before;
    uint8_t b[] = {0x81, 0xFE, 0x01};
    before = p;
    struct lapps__frame_event ev;
    cr_assert_eq(lapps__frame_parse(&p, b, sizeof b, &ev), LAPPS_ERR_AGAIN);
    cr_assert_eq(memcmp(&p, &before, sizeof p), 0);
    cr_assert_not(lapps__frame_in_message(&p));
}
