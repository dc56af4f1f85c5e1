/* Tests for lib/ws/client.c and lib/ws/client-handshake.c: URIs, the upgrade request,
 * the check of the server's 101 response, and a client connection's framing, fed the
 * bytes a server would send. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "guard.h"
#include "ws/client.h"

/* ---- URIs ---- */

Test(ws_client, uri_forms)
{
    struct lapps__ws_uri u;
    cr_assert_eq(lapps__ws_uri_parse("ws://127.0.0.1:9000/echo?x=1", &u), 0);
    cr_assert_not(u.tls);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_str_eq(u.port, "9000");
    cr_assert_str_eq(u.host_header, "127.0.0.1:9000");
    cr_assert_str_eq(u.target, "/echo?x=1");

    cr_assert_eq(lapps__ws_uri_parse("WSS://www.example.com", &u), 0);
    cr_assert(u.tls);
    cr_assert_str_eq(u.port, "443");
    cr_assert_str_eq(u.host_header, "www.example.com");
    cr_assert_str_eq(u.target, "/");

    cr_assert_eq(lapps__ws_uri_parse("ws://[::1]:8080/p", &u), 0);
    cr_assert(u.ip6);
    cr_assert_str_eq(u.host, "::1");
    cr_assert_str_eq(u.host_header, "[::1]:8080");
    cr_assert_str_eq(u.target, "/p");

    cr_assert_eq(lapps__ws_uri_parse("ws://h?q", &u), 0);
    cr_assert_str_eq(u.port, "80");
    cr_assert_str_eq(u.target, "/?q");
}

Test(ws_client, uri_refusals)
{
    static const char *const bad[] = {
        "http://h/", "ws:/h",        "ws://",          "ws://user@h/", "ws://h/#frag",
        "ws://h:0/", "ws://h:65536", "ws://h:/",       "ws://[::1/",   "ws://[]/",
        "ws://h x/", "ws://h/a b",   "ws://[zz]/",     "ws://h:80x/",  "ws://h/\x01",
        "ws://h#x",  "wss://:443/",  "ws://h:123456/",
    };
    struct lapps__ws_uri u;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(lapps__ws_uri_parse(bad[i], &u), LAPPS_ERR_INVAL, "%s", bad[i]);
    /* Too long a host or target. */
    char *big = malloc(LAPPS__WS_URI_MAX_TARGET + 64);
    strcpy(big, "ws://h/");
    memset(big + 7, 'a', LAPPS__WS_URI_MAX_TARGET);
    big[7 + LAPPS__WS_URI_MAX_TARGET] = '\0';
    cr_assert_eq(lapps__ws_uri_parse(big, &u), LAPPS_ERR_INVAL);
    strcpy(big, "ws://");
    memset(big + 5, 'a', LAPPS__WS_URI_MAX_HOST + 1);
    big[6 + LAPPS__WS_URI_MAX_HOST] = '\0';
    cr_assert_eq(lapps__ws_uri_parse(big, &u), LAPPS_ERR_INVAL);
    free(big);
}

/* ---- the handshake ---- */

static char key[25], accept_[29];

static void
make_key(void)
{
    cr_assert_eq(lapps__wsc_key(key, accept_), 0);
    cr_assert_eq(strlen(key), 24);
    cr_assert_eq(strlen(accept_), 28);
}

Test(ws_client, request_and_fresh_keys)
{
    make_key();
    char k2[25], a2[29];
    cr_assert_eq(lapps__wsc_key(k2, a2), 0);
    cr_assert_str_neq(key, k2, "two keys from getrandom() are equal");
    struct lapps__ws_uri u;
    cr_assert_eq(lapps__ws_uri_parse("ws://[::1]:8080/chat?room=1", &u), 0);
    char req[1024];
    lapps_ssize n = lapps__wsc_request(req, sizeof req, &u, key);
    cr_assert_gt(n, 0);
    req[n] = '\0';
    char want[512];
    snprintf(want, sizeof want,
             "GET /chat?room=1 HTTP/1.1\r\nHost: [::1]:8080\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
             "User-Agent: liblapps-cws\r\n\r\n",
             key);
    cr_assert_str_eq(req, want);
    cr_assert_eq(lapps__wsc_request(req, 40, &u, key), LAPPS_ERR_NOSPACE);
}

/* RFC 6455 §1.3's example: this key gives this accept value. */
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static lapps_ssize
check(const char *resp, char *why)
{
    return lapps__wsc_response(resp, strlen(resp), RFC_ACCEPT, why, 256);
}

#define GOOD_HEAD                                                                                  \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"

Test(ws_client, response_accepted_in_any_pieces)
{
    const char *r = GOOD_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\nX-Other:  v \r\n\r\n";
    char why[256];
    size_t len = strlen(r);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(lapps__wsc_response(r, i, RFC_ACCEPT, why, sizeof why), LAPPS_ERR_AGAIN,
                     "at %zu", i);
    cr_assert_eq(check(r, why), (lapps_ssize)len);
    /* Frames that follow the response are not part of it; header names and list tokens
     * are case-insensitive. */
    char buf[512];
    snprintf(buf, sizeof buf,
             "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, upgrade\r\n"
             "sec-websocket-accept: %s\r\n\r\n\x81\x02hi",
             RFC_ACCEPT);
    cr_assert_eq(check(buf, why), (lapps_ssize)strlen(buf) - 4);
}

Test(ws_client, response_refusals)
{
    static const struct {
        const char *resp;
        lapps_ssize rv;
        const char *why;
    } cases[] = {
        {"HTTP/1.1 404 Not Found\r\n", LAPPS_ERR_HANDSHAKE,
         "the server refused the upgrade: \"HTTP/1.1 404 Not Found\""},
        {"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n", LAPPS_ERR_HANDSHAKE,
         "the server refused the upgrade: \"HTTP/1.1 403 Forbidden\""},
        {"HTTP/1.0 101 Switching Protocols\r\n", LAPPS_ERR_HANDSHAKE, "malformed status line"},
        {"HTTP/1.1 10x OK\r\n", LAPPS_ERR_HANDSHAKE, "malformed status line"},
        {"HTTP/1.1 101 OK\n", LAPPS_ERR_HANDSHAKE, "a line ends in a bare LF"},
        {"HTTP/1.1 101 OK\rX", LAPPS_ERR_HANDSHAKE, "a bare CR in the response"},
        {"HTTP/1.1 101 OK\x01\r\n", LAPPS_ERR_HANDSHAKE, "malformed status line"},
        {GOOD_HEAD "\r\n", LAPPS_ERR_HANDSHAKE, "no Sec-WebSocket-Accept"},
        {GOOD_HEAD "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==xxxx\r\n\r\n",
         LAPPS_ERR_HANDSHAKE, "wrong Sec-WebSocket-Accept"},
        {GOOD_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\nSec-WebSocket-Accept: " RFC_ACCEPT
                   "\r\n\r\n",
         LAPPS_ERR_HANDSHAKE, "Sec-WebSocket-Accept repeated"},
        {"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
         LAPPS_ERR_HANDSHAKE, "no \"Upgrade: websocket\""},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: "
         "close\r\nSec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
         LAPPS_ERR_HANDSHAKE, "no \"Connection: upgrade\""},
        {GOOD_HEAD "NoColonHere\r\n\r\n", LAPPS_ERR_HANDSHAKE, "a malformed header line"},
        {GOOD_HEAD ": empty name\r\n\r\n", LAPPS_ERR_HANDSHAKE, "a malformed header line"},
        {GOOD_HEAD "Bad Name: v\r\n\r\n", LAPPS_ERR_HANDSHAKE, "a malformed header name"},
        {GOOD_HEAD "X: a\r\n folded\r\n\r\n", LAPPS_ERR_HANDSHAKE, "a folded header line"},
        {GOOD_HEAD "X: a\x7f\r\n\r\n", LAPPS_ERR_HANDSHAKE, "a control character in header"},
        {GOOD_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT
                   "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
         LAPPS_ERR_HANDSHAKE, "the server chose an extension we did not offer"},
        {GOOD_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
         LAPPS_ERR_HANDSHAKE, "the server chose a subprotocol we did not offer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[256];
        cr_assert_eq(check(cases[i].resp, why), cases[i].rv, "case %zu: %s", i, why);
        cr_assert(strncmp(why, cases[i].why, strlen(cases[i].why)) == 0,
                  "case %zu: \"%s\" does not start with \"%s\"", i, why, cases[i].why);
    }
}

/* Every prefix of a valid response and of refused ones, flush against a guard page: the
 * check never reads past what it was given, and never accepts a prefix. */
Test(ws_client, response_prefixes_against_a_guard_page)
{
    static const char *const resps[] = {
        GOOD_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n\r\n",
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        GOOD_HEAD "Bad Name: v\r\n\r\n",
    };
    char why[256];
    for (size_t r = 0; r < sizeof resps / sizeof resps[0]; r++) {
        size_t len = strlen(resps[r]);
        lapps_ssize want = check(resps[r], why);
        for (size_t i = 0; i <= len; i++) {
            uint8_t *g = guard_copy(resps[r], i);
            lapps_ssize rv = lapps__wsc_response((const char *)g, i, RFC_ACCEPT, why, sizeof why);
            guard_free(g);
            if (i == len)
                cr_assert_eq(rv, want);
            else
                cr_assert(rv == LAPPS_ERR_AGAIN || (rv < 0 && rv == want), "%zu/%zu: %zd", r, i,
                          rv);
        }
    }
}

Test(ws_client, response_bounded)
{
    /* 8192 bytes with no end: refused, however the bytes go on. */
    size_t n = LAPPS__WSC_MAX_RESPONSE + 100;
    char *r = malloc(n);
    const char *head = GOOD_HEAD "X-Pad: ";
    memcpy(r, head, strlen(head));
    memset(r + strlen(head), 'a', n - strlen(head));
    char why[256];
    cr_assert_eq(lapps__wsc_response(r, LAPPS__WSC_MAX_RESPONSE - 1, RFC_ACCEPT, why, sizeof why),
                 LAPPS_ERR_AGAIN);
    cr_assert_eq(lapps__wsc_response(r, LAPPS__WSC_MAX_RESPONSE, RFC_ACCEPT, why, sizeof why),
                 LAPPS_ERR_HEADER_TOO_BIG);
    cr_assert_eq(lapps__wsc_response(r, n, RFC_ACCEPT, why, sizeof why), LAPPS_ERR_HEADER_TOO_BIG);
    free(r);
    /* More than 64 header lines. */
    char many[4096] = GOOD_HEAD "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n";
    for (int i = 0; i < 64; i++)
        strcat(many, "X: y\r\n");
    strcat(many, "\r\n");
    cr_assert_eq(check(many, why), LAPPS_ERR_HEADER_TOO_BIG, "%s", why);
}

/* ---- framing ---- */

static struct lapps__wsc c;

static void
wsc_setup(uint64_t max_message)
{
    memset(&c, 0, sizeof c);
    c.max_message = max_message;
    cr_assert_eq(lapps__wsc_init(&c), 0);
}

static void
feed(const void *p, size_t n)
{
    size_t cap;
    uint8_t *s = lapps__wsc_in_space(&c, n, &cap);
    cr_assert_not_null(s);
    cr_assert_geq(cap, n);
    memcpy(s, p, n);
    lapps__wsc_in_commit(&c, n);
}

/* A server frame (unmasked) with a FIN bit and an opcode. */
static void
feed_frame(bool fin, uint8_t op, const void *p, size_t n)
{
    uint8_t h[LAPPS__FRAME_MAX_HEADER];
    size_t hl = lapps__frame_header(h, op, fin, n, NULL);
    feed(h, hl);
    feed(p, n);
}

/* Takes the first frame we queued: checks that it is masked and unmasks it. */
static size_t
take_frame(uint8_t *op, uint8_t *payload, size_t cap)
{
    size_t len;
    const uint8_t *o = lapps__wsc_output(&c, &len);
    cr_assert_geq(len, 6);
    cr_assert(o[0] & 0x80, "FIN");
    cr_assert(o[1] & 0x80, "our frames are masked");
    *op = o[0] & 0x0F;
    size_t n = o[1] & 0x7F, h = 2;
    if (n == 126) {
        n = (size_t)o[2] << 8 | o[3];
        h = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | o[2 + i];
        h = 10;
    }
    cr_assert_leq(h + 4 + n, len);
    cr_assert_leq(n, cap);
    for (size_t i = 0; i < n; i++)
        payload[i] = o[h + 4 + i] ^ o[h + (i & 3)];
    lapps__wsc_output_done(&c, h + 4 + n);
    return n;
}

static int
next(struct lapps__wsc_event *ev)
{
    return lapps__wsc_next(&c, ev);
}

Test(ws_client, masked_server_frame_refused_with_1002)
{
    wsc_setup(0);
    static const uint8_t masked[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    feed(masked, sizeof masked);
    struct lapps__wsc_event ev;
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_FAIL);
    cr_assert_eq(ev.code, 1002);
    cr_assert_eq(lapps__wsc_state(&c), LAPPS__WSC_CLOSED);
    uint8_t op, pl[125];
    cr_assert_eq(take_frame(&op, pl, sizeof pl), 2);
    cr_assert_eq(op, LAPPS__OP_CLOSE);
    cr_assert_eq(pl[0] << 8 | pl[1], 1002);
    cr_assert_eq(next(&ev), 0, "nothing is parsed after a failure");
    cr_assert_eq(lapps__wsc_send(&c, 1, "x", 1), LAPPS_ERR_STATE);
    lapps__wsc_free(&c);
}

Test(ws_client, fragmented_message_reassembled_with_a_ping_between)
{
    wsc_setup(0);
    feed_frame(false, LAPPS__OP_TEXT, "frag", 4);
    feed_frame(false, LAPPS__OP_CONT, "men", 3);
    feed_frame(true, LAPPS__OP_PING, "are you there", 13);
    struct lapps__wsc_event ev;
    cr_assert_eq(next(&ev), 0);
    /* The last fragment arrives byte by byte. */
    uint8_t h[2] = {0x80, 3};
    feed(h, 2);
    cr_assert_eq(next(&ev), 0);
    feed("t", 1);
    cr_assert_eq(next(&ev), 0);
    feed("ed", 2);
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_MESSAGE);
    cr_assert_eq(ev.opcode, LAPPS__OP_TEXT);
    cr_assert_eq(ev.len, 10);
    cr_assert(memcmp(ev.data, "fragmented", 10) == 0);
    /* The ping was answered with its payload. */
    uint8_t op, pl[125];
    cr_assert_eq(take_frame(&op, pl, sizeof pl), 13);
    cr_assert_eq(op, LAPPS__OP_PONG);
    cr_assert(memcmp(pl, "are you there", 13) == 0);
    /* A whole message in one frame, then an empty one. */
    feed_frame(true, LAPPS__OP_BINARY, "\0\1\2", 3);
    feed_frame(true, LAPPS__OP_BINARY, "", 0);
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.opcode, LAPPS__OP_BINARY);
    cr_assert_eq(ev.len, 3);
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.len, 0);
    cr_assert_eq(next(&ev), 0);
    lapps__wsc_free(&c);
}

Test(ws_client, oversize_message_refused_with_1009)
{
    wsc_setup(10);
    feed_frame(true, LAPPS__OP_BINARY, "0123456789", 10);
    struct lapps__wsc_event ev;
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.len, 10, "exactly the limit is fine");
    /* Over the limit in one frame: refused on the header, before the payload. */
    uint8_t h[LAPPS__FRAME_MAX_HEADER];
    feed(h, lapps__frame_header(h, LAPPS__OP_BINARY, true, 1u << 30, NULL));
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_FAIL);
    cr_assert_eq(ev.code, 1009);
    lapps__wsc_free(&c);

    /* Over the limit across fragments. */
    wsc_setup(10);
    feed_frame(false, LAPPS__OP_TEXT, "012345", 6);
    feed_frame(true, LAPPS__OP_CONT, "6789a", 5);
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_FAIL);
    cr_assert_eq(ev.code, 1009);
    uint8_t op, pl[125];
    cr_assert_eq(take_frame(&op, pl, sizeof pl), 2);
    cr_assert_eq(pl[0] << 8 | pl[1], 1009);
    lapps__wsc_free(&c);
}

Test(ws_client, bad_utf8_text_refused_with_1007)
{
    wsc_setup(0);
    feed_frame(true, LAPPS__OP_TEXT, "ok \xc3\xa9", 5);
    struct lapps__wsc_event ev;
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_MESSAGE);
    feed_frame(true, LAPPS__OP_TEXT, "bad \xc3\x28", 6);
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_FAIL);
    cr_assert_eq(ev.code, 1007);
    lapps__wsc_free(&c);
    /* A text that ends inside a character. */
    wsc_setup(0);
    feed_frame(true, LAPPS__OP_TEXT, "\xe2\x82", 2);
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.code, 1007);
    lapps__wsc_free(&c);
}

Test(ws_client, other_protocol_errors_refused_with_1002)
{
    static const uint8_t cases[][4] = {
        {0x83, 0x00},             /* reserved opcode */
        {0xC1, 0x00},             /* RSV1 */
        {0x80, 0x00},             /* continuation without a message */
        {0x09, 0x00},             /* fragmented ping */
        {0x89, 0x7E, 0, 0},       /* control frame over 125 bytes */
        {0x88, 0x01, 0x03},       /* 1-byte close payload */
        {0x88, 0x02, 0x03, 0xED}, /* close code 1005 on the wire */
    };
    static const size_t lens[] = {2, 2, 2, 2, 4, 3, 4};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        wsc_setup(0);
        feed(cases[i], lens[i]);
        struct lapps__wsc_event ev;
        cr_assert_eq(next(&ev), 1, "case %zu", i);
        cr_assert_eq(ev.kind, LAPPS__WSC_FAIL, "case %zu", i);
        cr_assert_eq(ev.code, 1002, "case %zu", i);
        lapps__wsc_free(&c);
    }
}

Test(ws_client, sends_are_masked_with_fresh_keys)
{
    wsc_setup(0);
    char big[70000];
    memset(big, 'x', sizeof big);
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_TEXT, "hello", 5), 0);
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_TEXT, "hello", 5), 0);
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_BINARY, big, sizeof big), 0);
    size_t len;
    const uint8_t *o = lapps__wsc_output(&c, &len);
    cr_assert_eq(len, 2 * (2 + 4 + 5) + 10 + 4 + sizeof big);
    cr_assert(memcmp(o + 2, o + 13, 4) != 0, "two frames with the same mask");
    uint8_t op;
    static uint8_t pl[70000];
    cr_assert_eq(take_frame(&op, pl, sizeof pl), 5);
    cr_assert_eq(op, LAPPS__OP_TEXT);
    cr_assert(memcmp(pl, "hello", 5) == 0);
    take_frame(&op, pl, sizeof pl);
    cr_assert_eq(take_frame(&op, pl, sizeof pl), sizeof big);
    cr_assert(memcmp(pl, big, sizeof big) == 0);
    /* Refused sends. */
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_TEXT, "\xff", 1), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_PING, "", 0), LAPPS_ERR_INVAL);
    /* The output limit. */
    lapps__wsc_free(&c);
    memset(&c, 0, sizeof c);
    c.max_output = 100;
    cr_assert_eq(lapps__wsc_init(&c), 0);
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_BINARY, big, 50), 0);
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_BINARY, big, 50), LAPPS_ERR_LIMIT);
    cr_assert_eq(lapps__wsc_close(&c, 1000, "", 0), 0, "a close always fits");
    lapps__wsc_free(&c);
}

Test(ws_client, server_close_is_echoed)
{
    wsc_setup(0);
    uint8_t pl[] = {0x0F, 0xA1, 'b', 'y', 'e'}; /* 4001 "bye" */
    feed_frame(true, LAPPS__OP_CLOSE, pl, sizeof pl);
    feed_frame(true, LAPPS__OP_TEXT, "late", 4);
    struct lapps__wsc_event ev;
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_CLOSE);
    cr_assert_eq(ev.code, 4001);
    cr_assert_eq(ev.reason_len, 3);
    cr_assert(memcmp(ev.reason, "bye", 3) == 0);
    cr_assert_eq(ev.len, 5, "the raw payload");
    cr_assert_eq(next(&ev), 0, "nothing after the close");
    uint8_t op, out[125];
    cr_assert_eq(take_frame(&op, out, sizeof out), 2);
    cr_assert_eq(op, LAPPS__OP_CLOSE);
    cr_assert_eq(out[0] << 8 | out[1], 4001);
    lapps__wsc_free(&c);
    /* An empty close is answered with 1000. */
    wsc_setup(0);
    feed_frame(true, LAPPS__OP_CLOSE, "", 0);
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.code, 1005);
    cr_assert_eq(take_frame(&op, out, sizeof out), 2);
    cr_assert_eq(out[0] << 8 | out[1], 1000);
    lapps__wsc_free(&c);
}

Test(ws_client, our_close_waits_for_the_server)
{
    wsc_setup(0);
    cr_assert_eq(lapps__wsc_close(&c, 999, "", 0), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps__wsc_close(&c, 1000, "\xff", 1), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps__wsc_close(&c, 4000, "done", 4), 0);
    cr_assert_eq(lapps__wsc_state(&c), LAPPS__WSC_CLOSING);
    cr_assert_eq(lapps__wsc_close(&c, 1000, "", 0), LAPPS_ERR_STATE);
    cr_assert_eq(lapps__wsc_send(&c, LAPPS__OP_TEXT, "x", 1), LAPPS_ERR_STATE);
    uint8_t op, out[125];
    cr_assert_eq(take_frame(&op, out, sizeof out), 6);
    cr_assert_eq(out[0] << 8 | out[1], 4000);
    /* A message and a ping still in flight are dropped, not answered. */
    feed_frame(true, LAPPS__OP_TEXT, "in flight", 9);
    feed_frame(true, LAPPS__OP_PING, "p", 1);
    uint8_t pl[] = {0x0F, 0xA0};
    feed_frame(true, LAPPS__OP_CLOSE, pl, 2);
    struct lapps__wsc_event ev;
    cr_assert_eq(next(&ev), 1);
    cr_assert_eq(ev.kind, LAPPS__WSC_CLOSE);
    cr_assert_eq(ev.code, 4000);
    size_t len;
    lapps__wsc_output(&c, &len);
    cr_assert_eq(len, 0, "no second close, no pong");
    cr_assert_eq(lapps__wsc_state(&c), LAPPS__WSC_CLOSED);
    lapps__wsc_free(&c);
}
