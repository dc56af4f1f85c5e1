/* Tests for lib/ws/handshake.c: the incremental request parser, header lookup,
 * subprotocol choice and the accept key.
 *
 * Every parser input goes through parse(), which feeds it whole, split into two calls
 * at every byte offset, and byte by byte, each buffer flush against a PROT_NONE page,
 * and checks that all modes give the same answer and the same views. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "guard.h"
#include "ws/handshake.h"

/* The pieces of a valid request (RFC 6455 §1.3 with the version added). */
#define RL   "GET /chat HTTP/1.1\r\n"
#define HOST "Host: server.example.com\r\n"
#define UPG  "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define KEY  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER  "Sec-WebSocket-Version: 13\r\n"
#define END  "\r\n"
#define REQ  RL HOST UPG CONN KEY VER END

#define LIT(s) s, sizeof(s) - 1

/* ---- the all-modes helper ---------------------------------------------------------- */

static struct lapps__hs_request req_whole, req_split, req_bytes;

static void
view_inside(struct lapps__str v, const char *base, size_t n, const char *what)
{
    if (!v.p) {
        cr_assert_eq(v.len, 0, "%s: NULL view with a length", what);
        return;
    }
    cr_assert(v.p >= base && v.len <= n && (size_t)(v.p - base) <= n - v.len,
              "%s lies outside the buffer", what);
}

static void
req_inside(const struct lapps__hs_request *r, const char *base, size_t n)
{
    view_inside(r->method, base, n, "method");
    view_inside(r->target, base, n, "target");
    view_inside(r->path, base, n, "path");
    view_inside(r->query, base, n, "query");
    view_inside(r->host, base, n, "host");
    view_inside(r->key, base, n, "key");
    view_inside(r->origin, base, n, "origin");
    view_inside(r->protocol, base, n, "protocol");
    cr_assert_leq(r->n_headers, LAPPS__HS_MAX_HEADERS);
    for (unsigned i = 0; i < r->n_headers; i++) {
        view_inside(r->headers[i].name, base, n, "header name");
        view_inside(r->headers[i].value, base, n, "header value");
    }
}

static void
view_same(struct lapps__str a, const char *abase, struct lapps__str b, const char *bbase,
          const char *what, const char *mode)
{
    cr_assert_eq(a.len, b.len, "%s: %s length differs", mode, what);
    cr_assert_eq(a.p == NULL, b.p == NULL, "%s: %s presence differs", mode, what);
    if (a.p)
        cr_assert_eq(a.p - abase, b.p - bbase, "%s: %s offset differs", mode, what);
}

static void
req_same(const struct lapps__hs_request *a, const char *abase, const struct lapps__hs_request *b,
         const char *bbase, const char *mode)
{
    view_same(a->method, abase, b->method, bbase, "method", mode);
    view_same(a->target, abase, b->target, bbase, "target", mode);
    view_same(a->path, abase, b->path, bbase, "path", mode);
    view_same(a->query, abase, b->query, bbase, "query", mode);
    view_same(a->host, abase, b->host, bbase, "host", mode);
    view_same(a->key, abase, b->key, bbase, "key", mode);
    view_same(a->origin, abase, b->origin, bbase, "origin", mode);
    view_same(a->protocol, abase, b->protocol, bbase, "protocol", mode);
    cr_assert_eq(a->n_protocol_headers, b->n_protocol_headers, "%s", mode);
    cr_assert_eq(a->n_headers, b->n_headers, "%s", mode);
    for (unsigned i = 0; i < a->n_headers; i++) {
        view_same(a->headers[i].name, abase, b->headers[i].name, bbase, "name", mode);
        view_same(a->headers[i].value, abase, b->headers[i].value, bbase, "value", mode);
    }
}

static void
move_view(struct lapps__str *v, const char *from, const char *to)
{
    if (v->p)
        v->p = to + (v->p - from);
}

/* Points every view of r (into from) at the same offsets of to. */
static void
req_move(struct lapps__hs_request *r, const char *from, const char *to)
{
    move_view(&r->method, from, to);
    move_view(&r->target, from, to);
    move_view(&r->path, from, to);
    move_view(&r->query, from, to);
    move_view(&r->host, from, to);
    move_view(&r->key, from, to);
    move_view(&r->origin, from, to);
    move_view(&r->protocol, from, to);
    for (unsigned i = 0; i < r->n_headers; i++) {
        move_view(&r->headers[i].name, from, to);
        move_view(&r->headers[i].value, from, to);
    }
}

/* Parses text[0..n) with a fresh parser of the given max_size in every mode (whole;
 * split into two calls at every offset, the second in a new buffer so the views must
 * follow it; byte by byte, each prefix in a new buffer), each buffer flush against a
 * guard page. Asserts that every mode ends with the same answer and the same views,
 * that no call gives a final answer other than that one, and that the answer sticks.
 * Returns the answer; on success *out holds the views, moved into text. *at (may be
 * NULL) gets the length of the shortest prefix that already gave the final answer. */
static lapps_ssize
parse_n(const char *text, size_t n, size_t max_size, struct lapps__hs_request *out, size_t *at)
{
    /* whole */
    struct lapps__hs_parser p = {.max_size = max_size};
    char *whole = (char *)guard_copy(text, n);
    lapps_ssize want = lapps__hs_parse(&p, whole, n, &req_whole);
    size_t limit = max_size ? max_size : LAPPS__HS_DEFAULT_MAX_SIZE;
    cr_assert(want != LAPPS_ERR_AGAIN || n < limit, "AGAIN with %zu bytes buffered", n);
    cr_assert(want > 0 || want == LAPPS_ERR_AGAIN || want == LAPPS_ERR_HANDSHAKE ||
                  want == LAPPS_ERR_VERSION || want == LAPPS_ERR_HEADER_TOO_BIG,
              "unexpected answer %td", want);
    if (want > 0) {
        cr_assert_leq((size_t)want, n);
        req_inside(&req_whole, whole, (size_t)want);
    }
    cr_assert_eq(lapps__hs_parse(&p, whole, n, &req_whole), want, "whole: not sticky");

    /* split in two at every offset */
    for (size_t k = 0; k <= n; k++) {
        struct lapps__hs_parser q = {.max_size = max_size};
        char *first = (char *)guard_copy(text, k);
        lapps_ssize r1 = lapps__hs_parse(&q, first, k, &req_split);
        if (r1 != LAPPS_ERR_AGAIN)
            cr_assert_eq(r1, want, "split at %zu: first call says %td, whole says %td", k, r1,
                         want);
        char *second = (char *)guard_copy(text, n);
        guard_free((uint8_t *)first);
        lapps_ssize r2 = lapps__hs_parse(&q, second, n, &req_split);
        cr_assert_eq(r2, want, "split at %zu: %td, whole says %td", k, r2, want);
        if (want > 0) {
            req_inside(&req_split, second, (size_t)want);
            char mode[32];
            snprintf(mode, sizeof mode, "split at %zu", k);
            req_same(&req_whole, whole, &req_split, second, mode);
        }
        guard_free((uint8_t *)second);
    }

    /* byte by byte */
    struct lapps__hs_parser b = {.max_size = max_size};
    char *prev = NULL;
    size_t first_final = 0;
    lapps_ssize r = LAPPS_ERR_AGAIN;
    if (n == 0) {
        prev = (char *)guard_copy(NULL, 0);
        r = lapps__hs_parse(&b, prev, 0, &req_bytes);
    }
    for (size_t k = 1; k <= n; k++) {
        char *cur = (char *)guard_copy(text, k);
        guard_free((uint8_t *)prev);
        prev = cur;
        r = lapps__hs_parse(&b, cur, k, &req_bytes);
        if (r != LAPPS_ERR_AGAIN) {
            cr_assert_eq(r, want, "byte %zu: %td, whole says %td", k, r, want);
            if (!first_final)
                first_final = k;
        }
    }
    cr_assert_eq(r, want, "bytewise: %td, whole says %td", r, want);
    if (want > 0) {
        req_inside(&req_bytes, prev, (size_t)want);
        req_same(&req_whole, whole, &req_bytes, prev, "bytewise");
        cr_assert_eq(first_final, (size_t)want, "success before the request ended");
    }
    guard_free((uint8_t *)prev);

    if (at)
        *at = first_final;
    if (out && want > 0) {
        *out = req_whole;
        req_move(out, whole, text);
    }
    guard_free((uint8_t *)whole);
    return want;
}

static lapps_ssize
parse(const char *text, struct lapps__hs_request *out)
{
    return parse_n(text, strlen(text), 0, out, NULL);
}

static void
expect_view(struct lapps__str v, const char *s)
{
    size_t n = strlen(s);
    cr_assert(v.len == n && (n == 0 || memcmp(v.p, s, n) == 0), "got \"%.*s\", want \"%s\"",
              (int)v.len, v.p ? v.p : "", s);
}

static struct lapps__hs_request req;

/* ---- valid requests ------------------------------------------------------------------ */

Test(handshake, rfc6455_example)
{
    static const char text[] = "GET /chat HTTP/1.1\r\n"
                               "Host: server.example.com\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Origin: http://example.com\r\n"
                               "Sec-WebSocket-Protocol: chat, superchat\r\n"
                               "Sec-WebSocket-Version: 13\r\n"
                               "\r\n";
    cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text));
    expect_view(req.method, "GET");
    expect_view(req.target, "/chat");
    expect_view(req.path, "/chat");
    expect_view(req.query, "");
    cr_assert_null(req.query.p);
    expect_view(req.host, "server.example.com");
    expect_view(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
    expect_view(req.origin, "http://example.com");
    expect_view(req.protocol, "chat, superchat");
    cr_assert_eq(req.n_protocol_headers, 1);
    cr_assert_eq(req.n_headers, 7);
    expect_view(req.headers[0].name, "Host");
    expect_view(req.headers[6].name, "Sec-WebSocket-Version");
    expect_view(req.headers[6].value, "13");
}

static const char chrome[] =
    "GET /chat?room=lobby HTTP/1.1\r\n"
    "Host: example.com:5083\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: https://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=0123456789abcdef; theme=dark\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

Test(handshake, chrome_request)
{
    cr_assert_eq(parse(chrome, &req), (lapps_ssize)strlen(chrome));
    expect_view(req.target, "/chat?room=lobby");
    expect_view(req.path, "/chat");
    expect_view(req.query, "room=lobby");
    expect_view(req.host, "example.com:5083");
    expect_view(req.key, "x3JJHMbDL1EzLkh9GBhXDw==");
    expect_view(req.origin, "https://example.com");
    expect_view(req.protocol, "");
    cr_assert_eq(req.n_protocol_headers, 0);
    cr_assert_eq(req.n_headers, 13);
    const struct lapps__hs_header *h = lapps__hs_find(&req, "cookie");
    cr_assert_not_null(h);
    expect_view(h->value, "session=0123456789abcdef; theme=dark");
    h = lapps__hs_find(&req, "sec-websocket-extensions");
    cr_assert_not_null(h);
    expect_view(h->value, "permessage-deflate; client_max_window_bits");
}

static const char firefox[] =
    "GET /ws/echo HTTP/1.1\r\n"
    "Host: localhost:5083\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:8000\r\n"
    "Sec-WebSocket-Protocol: lapps, raw\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: 3mAw3ZmRrz3wT7ekeQkKLw==\r\n"
    "DNT: 1\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Cookie: a=b\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Sec-Fetch-Site: same-site\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

Test(handshake, firefox_request_with_keep_alive_upgrade)
{
    cr_assert_eq(parse(firefox, &req), (lapps_ssize)strlen(firefox));
    expect_view(req.path, "/ws/echo");
    expect_view(req.host, "localhost:5083");
    expect_view(req.protocol, "lapps, raw");
    cr_assert_eq(req.n_protocol_headers, 1);
    cr_assert_eq(req.n_headers, 19);
    expect_view(lapps__hs_find(&req, "CONNECTION")->value, "keep-alive, Upgrade");
}

Test(handshake, names_and_tokens_ignore_case)
{
    static const char text[] = "GET / HTTP/1.1\r\n"
                               "hOsT: a\r\n"
                               "UPGRADE: WebSocket\r\n"
                               "connection: UPGRADE\r\n"
                               "SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "sec-websocket-version: 13\r\n"
                               "ORIGIN: http://x\r\n"
                               "\r\n";
    cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text));
    expect_view(req.host, "a");
    expect_view(req.origin, "http://x");
    expect_view(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
}

/* The Origin a service's allowed origins are compared with: absent (NULL view), empty,
 * trimmed of spaces and tabs, its case kept, anywhere among the headers, and never
 * taken from a header whose name merely starts or ends like it. */
Test(handshake, origin_kept_as_sent)
{
    cr_assert_eq(parse(REQ, &req), (lapps_ssize)strlen(REQ));
    cr_assert_null(req.origin.p);
    cr_assert_eq(req.origin.len, 0);

    static const char empty[] = RL HOST "Origin:\r\n" UPG CONN KEY VER END;
    cr_assert_eq(parse(empty, &req), (lapps_ssize)strlen(empty));
    cr_assert_eq(req.origin.len, 0);

    static const char spaced[] =
        RL HOST UPG CONN KEY VER "Origin: \t HTTPS://App.Example:8443 \t\r\n" END;
    cr_assert_eq(parse(spaced, &req), (lapps_ssize)strlen(spaced));
    expect_view(req.origin, "HTTPS://App.Example:8443");

    static const char lookalikes[] =
        RL HOST "Origins: http://a\r\n"
                "X-Origin: http://b\r\n"
                "Sec-WebSocket-Origin: http://c\r\n" UPG CONN KEY VER END;
    cr_assert_eq(parse(lookalikes, &req), (lapps_ssize)strlen(lookalikes));
    cr_assert_null(req.origin.p);

    static const char null_origin[] = RL HOST UPG CONN KEY VER "origin: null\r\n" END;
    cr_assert_eq(parse(null_origin, &req), (lapps_ssize)strlen(null_origin));
    expect_view(req.origin, "null");
}

/* An Origin as long as the request allows is kept whole; a request made too long by
 * its Origin is 431, like any other header. */
Test(handshake, origin_bounded_by_the_request_size)
{
    static char text[LAPPS__HS_DEFAULT_MAX_SIZE + 64];
    size_t fixed = strlen(RL HOST UPG CONN KEY VER "Origin: http://\r\n" END);
    size_t host = LAPPS__HS_DEFAULT_MAX_SIZE - fixed;
    char *o = malloc(host + 1);
    memset(o, 'a', host);
    o[host] = '\0';
    snprintf(text, sizeof text, RL HOST UPG CONN KEY VER "Origin: http://%s\r\n" END, o);
    cr_assert_eq(strlen(text), LAPPS__HS_DEFAULT_MAX_SIZE);
    struct lapps__hs_parser p = {0};
    cr_assert_eq(lapps__hs_parse(&p, text, strlen(text), &req), (lapps_ssize)strlen(text));
    cr_assert_eq(req.origin.len, 7 + host);
    snprintf(text, sizeof text, RL HOST UPG CONN KEY VER "Origin: http://%sa\r\n" END, o);
    p = (struct lapps__hs_parser){0};
    cr_assert_eq(lapps__hs_parse(&p, text, strlen(text), &req), LAPPS_ERR_HEADER_TOO_BIG);
    free(o);
}

Test(handshake, lists_with_spaces_empty_elements_and_split_headers)
{
    static const char text[] = "GET / HTTP/1.1\r\n"
                               "Host: a\r\n"
                               "Upgrade: h2c\r\n"
                               "Upgrade: foo/2 ,\t websocket \t,\r\n"
                               "Connection: ,, keep-alive ,\r\n"
                               "Connection:\tupgrade\t\r\n" KEY VER END;
    cr_assert_eq(parse(text, NULL), (lapps_ssize)strlen(text));
}

Test(handshake, values_are_trimmed_and_may_be_empty_or_hold_obs_text)
{
    static const char text[] = "GET / HTTP/1.1\r\n"
                               "Host: \t example.com \t \r\n"
                               "X-Empty:\r\n"
                               "X-Spaces:   \t \r\n"
                               "X-Utf8: caf\xc3\xa9 \xff\x80\r\n"
                               "X-Inner:  a \t b  \r\n"
                               "X-Punct: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n"
                               "Sec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==\r\n" UPG CONN VER END;
    cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text));
    expect_view(req.host, "example.com");
    expect_view(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
    expect_view(lapps__hs_find(&req, "x-empty")->value, "");
    expect_view(lapps__hs_find(&req, "x-spaces")->value, "");
    expect_view(lapps__hs_find(&req, "x-utf8")->value, "caf\xc3\xa9 \xff\x80");
    expect_view(lapps__hs_find(&req, "x-inner")->value, "a \t b");
    expect_view(lapps__hs_find(&req, "x-punct")->value, "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
}

Test(handshake, every_tchar_is_a_valid_name)
{
    static const char text[] = RL HOST "!#$%&'*+-.^_`|~09azAZ: x\r\n" UPG CONN KEY VER END;
    cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text));
    expect_view(req.headers[1].name, "!#$%&'*+-.^_`|~09azAZ");
}

Test(handshake, query_strings)
{
    static const struct {
        const char *target, *path, *query;
        bool has_query;
    } t[] = {
        {"/chat?x=1&y=2", "/chat", "x=1&y=2", true},
        {"/?", "/", "", true},
        {"/a?b?c", "/a", "b?c", true},
        {"/a/b/c", "/a/b/c", "", false},
        {"/", "/", "", false},
        {"/%20x?q=%3F#frag", "/%20x", "q=%3F#frag", true},
        {"//double", "//double", "", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "GET %s HTTP/1.1\r\n" HOST UPG CONN KEY VER END, t[i].target);
        cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text), "%s", t[i].target);
        expect_view(req.target, t[i].target);
        expect_view(req.path, t[i].path);
        expect_view(req.query, t[i].query);
        cr_assert_eq(req.query.p != NULL, t[i].has_query, "%s", t[i].target);
    }
}

Test(handshake, repeated_protocol_headers_are_all_kept)
{
    static const char text[] = RL HOST UPG CONN KEY VER "Sec-WebSocket-Protocol: a, b\r\n"
                                                        "X-Other: 1\r\n"
                                                        "sec-websocket-protocol: c\r\n" END;
    cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text));
    expect_view(req.protocol, "a, b");
    cr_assert_eq(req.n_protocol_headers, 2);
}

Test(handshake, bytes_after_the_request_are_not_consumed)
{
    /* A masked text frame "Hello" right behind the request, in the same read. */
    static const char frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    char text[600];
    size_t n = strlen(REQ);
    memcpy(text, REQ, n);
    memcpy(text + n, frame, sizeof frame - 1);
    cr_assert_eq(parse_n(text, n + sizeof frame - 1, 0, &req, NULL), (lapps_ssize)n);
    /* More HTTP behind the request is not looked at either. */
    static const char two[] = REQ REQ;
    cr_assert_eq(parse(two, NULL), (lapps_ssize)strlen(REQ));
    static const char junk[] = REQ "\r\n\r\n\0\0\xff";
    cr_assert_eq(parse_n(junk, sizeof junk - 1, 0, NULL, NULL), (lapps_ssize)strlen(REQ));
}

Test(handshake, partial_requests_need_more)
{
    size_t n = strlen(REQ);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(parse_n(REQ, k, 0, NULL, NULL), LAPPS_ERR_AGAIN, "prefix %zu", k);
}

/* ---- 400 ------------------------------------------------------------------------------ */

#define BAD(name, text)                                                                            \
    {                                                                                              \
        name, text, sizeof(text) - 1                                                               \
    }

static const struct bad_case {
    const char *name;
    const char *text;
    size_t len;
} bad_requests[] = {
    BAD("POST", "POST /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("lowercase get", "get /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("GETX", "GETX /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("HEAD", "HEAD /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("HTTP/1.0", "GET /chat HTTP/1.0\r\n" HOST UPG CONN KEY VER END),
    BAD("HTTP/2", "GET /chat HTTP/2\r\n" HOST UPG CONN KEY VER END),
    BAD("HTTP/1.10", "GET /chat HTTP/1.10\r\n" HOST UPG CONN KEY VER END),
    BAD("lowercase http", "GET /chat http/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("no version", "GET /chat\r\n" HOST UPG CONN KEY VER END),
    BAD("space after version", "GET /chat HTTP/1.1 \r\n" HOST UPG CONN KEY VER END),
    BAD("two spaces before target", "GET  /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("two spaces before version", "GET /chat  HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("tab separator", "GET\t/chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("empty target", "GET  HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("relative target", "GET chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("absolute-form target", "GET ws://a/chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("asterisk target", "GET * HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("control char in target", "GET /ch\x01t HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("DEL in target", "GET /ch\x7ft HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("NUL in target", "GET /ch\0t HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("tab in target", "GET /ch\tt HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("high byte in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" HOST UPG CONN KEY VER END),
    BAD("leading empty line", "\r\n" RL HOST UPG CONN KEY VER END),
    BAD("bare LF after request line", "GET /chat HTTP/1.1\n" HOST UPG CONN KEY VER END),
    BAD("bare LF after header", RL HOST "Upgrade: websocket\n" CONN KEY VER END),
    BAD("bare LF at the end", RL HOST UPG CONN KEY VER "\n"),
    BAD("bare LF lines throughout", "GET /chat HTTP/1.1\nHost: a\nUpgrade: websocket\n"
                                    "Connection: Upgrade\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
                                    "Sec-WebSocket-Version: 13\n\n"),
    BAD("CR without LF in request line", "GET /chat HTTP/1.1\rX" HOST UPG CONN KEY VER END),
    BAD("CR without LF at the end", RL HOST UPG CONN KEY VER "\rX"),
    BAD("CR inside a value", RL HOST "X-A: a\rb\r\n" UPG CONN KEY VER END),
    BAD("CRCRLF", RL HOST "X-A: a\r\r\n" UPG CONN KEY VER END),
    BAD("NUL in a value", RL HOST "X-A: a\0b\r\n" UPG CONN KEY VER END),
    BAD("control char in a value", RL HOST "X-A: a\x01"
                                           "b\r\n" UPG CONN KEY VER END),
    BAD("ESC in a value", RL HOST "X-A: \x1b[0m\r\n" UPG CONN KEY VER END),
    BAD("DEL in a value", RL HOST "X-A: a\x7f\r\n" UPG CONN KEY VER END),
    BAD("NUL in a name", RL HOST "X-\0A: a\r\n" UPG CONN KEY VER END),
    BAD("space before colon", RL "Host : server.example.com\r\n" UPG CONN KEY VER END),
    BAD("tab before colon", RL "Host\t: server.example.com\r\n" UPG CONN KEY VER END),
    BAD("space in name", RL HOST "X A: b\r\n" UPG CONN KEY VER END),
    BAD("separator in name", RL HOST "X(A): b\r\n" UPG CONN KEY VER END),
    BAD("high byte in name", RL HOST "X\xc3\xa9: b\r\n" UPG CONN KEY VER END),
    BAD("empty name", RL HOST ": b\r\n" UPG CONN KEY VER END),
    BAD("no colon", RL HOST "X-A b\r\n" UPG CONN KEY VER END),
    BAD("obs-fold with space", RL HOST "X-A: a\r\n b\r\n" UPG CONN KEY VER END),
    BAD("obs-fold with tab", RL HOST "X-A: a\r\n\tb\r\n" UPG CONN KEY VER END),
    BAD("obs-fold of Upgrade", RL HOST "Upgrade:\r\n websocket\r\n" CONN KEY VER END),
    BAD("missing Host", RL UPG CONN KEY VER END),
    BAD("duplicate Host", RL HOST UPG CONN KEY VER HOST END),
    BAD("duplicate Host, other case", RL HOST UPG "host: server.example.com\r\n" CONN KEY VER END),
    BAD("empty Host", RL "Host: \r\n" UPG CONN KEY VER END),
    BAD("missing Upgrade", RL HOST CONN KEY VER END),
    BAD("Upgrade: h2c", RL HOST "Upgrade: h2c\r\n" CONN KEY VER END),
    BAD("Upgrade: websocketx", RL HOST "Upgrade: websocketx\r\n" CONN KEY VER END),
    BAD("Upgrade: websocket/13", RL HOST "Upgrade: websocket/13\r\n" CONN KEY VER END),
    BAD("Upgrade: web socket", RL HOST "Upgrade: web socket\r\n" CONN KEY VER END),
    BAD("empty Upgrade", RL HOST "Upgrade:\r\n" CONN KEY VER END),
    BAD("missing Connection", RL HOST UPG KEY VER END),
    BAD("Connection without upgrade", RL HOST UPG "Connection: keep-alive\r\n" KEY VER END),
    BAD("Connection: upgrades", RL HOST UPG "Connection: upgrades\r\n" KEY VER END),
    BAD("Connection: close", RL HOST UPG "Connection: close\r\n" KEY VER END),
    BAD("Connection with upgrade in a value", RL HOST UPG "Connection: x-upgrade\r\n" KEY VER END),
    BAD("upgrade in another header", RL HOST UPG "X-Connection: Upgrade\r\n" KEY VER END),
    BAD("missing key", RL HOST UPG CONN VER END),
    BAD("empty key", RL HOST UPG CONN "Sec-WebSocket-Key:\r\n" VER END),
    BAD("key of 15 bytes", RL HOST UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n" VER END),
    BAD("key of 17 bytes",
        RL HOST UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n" VER END),
    BAD("key of 18 bytes",
        RL HOST UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n" VER END),
    BAD("key of 32 bytes", RL HOST UPG CONN
        "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n" VER END),
    BAD("key without padding",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" VER END),
    BAD("key with a bad character",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!Q==\r\n" VER END),
    BAD("key with a space inside",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBs ZSBub25jZQ==\r\n" VER END),
    BAD("key in base64url",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25-_Q==\r\n" VER END),
    BAD("key with non-canonical bits",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" VER END),
    BAD("duplicate key", RL HOST UPG CONN KEY KEY VER END),
    BAD("duplicate key, different value",
        RL HOST UPG CONN KEY "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n" VER END),
    BAD("duplicate version", RL HOST UPG CONN KEY VER VER END),
    BAD("duplicate Origin",
        RL HOST UPG CONN KEY VER "Origin: http://a\r\nOrigin: http://b\r\n" END),
    BAD("nothing but a blank line", "\r\n"),
    BAD("HTTP/1.1 response", "HTTP/1.1 101 Switching Protocols\r\n\r\n"),
    BAD("TLS client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
};

Test(handshake, every_400_reason)
{
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const struct bad_case *c = &bad_requests[i];
        cr_assert_eq(parse_n(c->text, c->len, 0, NULL, NULL), LAPPS_ERR_HANDSHAKE, "%s", c->name);
    }
}

/* The prefix length at which the parser answers must be the byte that shows the error. */
static void
expect_error_at(const char *text, size_t n, lapps_ssize err, size_t at)
{
    size_t got;
    cr_assert_eq(parse_n(text, n, 0, NULL, &got), err, "%.*s", (int)n, text);
    cr_assert_eq(got, at, "answered after %zu bytes, want %zu: %.*s", got, at, (int)n, text);
}

#define ERROR_AT(prefix, rest, err) expect_error_at(LIT(prefix rest), err, sizeof(prefix) - 1)

Test(handshake, errors_are_reported_at_the_byte_that_shows_them)
{
    ERROR_AT("P", "OST /chat HTTP/1.1\r\n" HOST UPG CONN KEY VER END, LAPPS_ERR_HANDSHAKE);
    ERROR_AT("g", "et /chat HTTP/1.1\r\n", LAPPS_ERR_HANDSHAKE);
    ERROR_AT("GET c", "hat HTTP/1.1\r\n", LAPPS_ERR_HANDSHAKE);
    ERROR_AT("GET /chat HTTP/1.0", "\r\n" HOST, LAPPS_ERR_HANDSHAKE);
    ERROR_AT("GET /chat HTTP/2", ".0\r\n" HOST, LAPPS_ERR_HANDSHAKE);
    ERROR_AT("GET /chat HTTP/1.1\n", HOST, LAPPS_ERR_HANDSHAKE);
    ERROR_AT("GET /ch\x01", "at HTTP/1.1\r\n", LAPPS_ERR_HANDSHAKE);
    ERROR_AT(RL "Host ", ": a\r\n" UPG CONN KEY VER END, LAPPS_ERR_HANDSHAKE);
    ERROR_AT(RL HOST "X-A: a\r\n ", "b\r\n" UPG CONN KEY VER END, LAPPS_ERR_HANDSHAKE);
    ERROR_AT(RL HOST "X-A: a\0", "b\r\n" UPG CONN KEY VER END, LAPPS_ERR_HANDSHAKE);
    ERROR_AT(RL HOST "X-A: a\n", UPG CONN KEY VER END, LAPPS_ERR_HANDSHAKE);
    /* A duplicate or a bad key is known when its line ends. */
    ERROR_AT(RL HOST HOST, UPG CONN KEY VER END, LAPPS_ERR_HANDSHAKE);
    ERROR_AT(RL HOST "Sec-WebSocket-Key: abc\r\n", UPG CONN VER END, LAPPS_ERR_HANDSHAKE);
    ERROR_AT(RL HOST KEY KEY, UPG CONN VER END, LAPPS_ERR_HANDSHAKE);
    /* What is missing is known at the end. */
    ERROR_AT(RL UPG CONN KEY VER END, "", LAPPS_ERR_HANDSHAKE);
    ERROR_AT(RL HOST UPG CONN KEY END, "", LAPPS_ERR_VERSION);
}

/* ---- 426 ------------------------------------------------------------------------------ */

Test(handshake, version_not_13_is_426)
{
    static const char *versions[] = {"8",   "7",     "14",    "0", "130",
                                     "1 3", "13, 8", "8, 13", "",  "\xff"};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, RL HOST UPG CONN KEY "Sec-WebSocket-Version: %s\r\n" END,
                 versions[i]);
        cr_assert_eq(parse(text, NULL), LAPPS_ERR_VERSION, "version \"%s\"", versions[i]);
    }
    cr_assert_eq(parse(RL HOST UPG CONN KEY END, NULL), LAPPS_ERR_VERSION, "missing version");
    /* Spaces around 13 are trimmed like any value's. */
    cr_assert_eq(parse(RL HOST UPG CONN KEY "Sec-WebSocket-Version: \t13 \r\n" END, NULL),
                 (lapps_ssize)strlen(RL HOST UPG CONN KEY "Sec-WebSocket-Version: \t13 \r\n" END));
}

Test(handshake, a_request_that_is_not_an_upgrade_gets_400_not_426)
{
#define V8 "Sec-WebSocket-Version: 8\r\n"
    cr_assert_eq(parse(RL HOST UPG CONN V8 END, NULL), LAPPS_ERR_HANDSHAKE, "no key");
    cr_assert_eq(parse(RL HOST "Upgrade: h2c\r\n" CONN KEY V8 END, NULL), LAPPS_ERR_HANDSHAKE);
    cr_assert_eq(parse(RL HOST UPG KEY V8 END, NULL), LAPPS_ERR_HANDSHAKE, "no Connection");
    cr_assert_eq(parse(RL UPG CONN KEY V8 END, NULL), LAPPS_ERR_HANDSHAKE, "no Host");
    cr_assert_eq(parse(RL HOST UPG CONN KEY END, NULL), LAPPS_ERR_VERSION);
    /* A syntax error after a wrong version still wins: the version is judged last. */
    cr_assert_eq(parse(RL HOST UPG CONN KEY V8 "X-A : b\r\n" END, NULL), LAPPS_ERR_HANDSHAKE);
    cr_assert_eq(parse("POST /chat HTTP/1.1\r\n" HOST UPG CONN KEY V8 END, NULL),
                 LAPPS_ERR_HANDSHAKE);
    cr_assert_eq(parse(RL HOST UPG CONN KEY V8 V8 END, NULL), LAPPS_ERR_HANDSHAKE, "twice");
#undef V8
}

/* ---- 431 ------------------------------------------------------------------------------ */

/* Builds a valid request of exactly n bytes (n >= 200) by padding an X-Pad header. */
static size_t
build_request(char *out, size_t n)
{
    static const char head[] = RL HOST UPG CONN KEY VER "X-Pad: ";
    size_t h = sizeof head - 1;
    cr_assert_geq(n, h + 4);
    memcpy(out, head, h);
    memset(out + h, 'p', n - h - 4);
    memcpy(out + n - 4, "\r\n\r\n", 4);
    return n;
}

Test(handshake, default_limit_accepts_exactly_8192_bytes)
{
    static char text[8192 + 64];
    size_t n = build_request(text, 8192);
    cr_assert_eq(parse_n(text, n, 0, NULL, NULL), 8192);
    /* With frames behind it the request is still accepted. */
    memset(text + n, 0x81, 64);
    cr_assert_eq(parse_n(text, n + 64, 0, NULL, NULL), 8192);
}

Test(handshake, default_limit_refuses_8193_bytes)
{
    static char text[8193];
    size_t n = build_request(text, 8193), at;
    cr_assert_eq(parse_n(text, n, 0, NULL, &at), LAPPS_ERR_HEADER_TOO_BIG);
    /* Refused once 8192 bytes are buffered without a complete request. */
    cr_assert_eq(at, 8192);
}

Test(handshake, custom_limit)
{
    char text[400];
    size_t at;
    size_t n = build_request(text, 300);
    cr_assert_eq(parse_n(text, n, 300, NULL, NULL), 300);
    cr_assert_eq(parse_n(text, n, 1000, NULL, NULL), 300);
    cr_assert_eq(parse_n(text, n, 299, NULL, &at), LAPPS_ERR_HEADER_TOO_BIG);
    cr_assert_eq(at, 299);
    n = build_request(text, 301);
    cr_assert_eq(parse_n(text, n, 300, NULL, &at), LAPPS_ERR_HEADER_TOO_BIG);
    cr_assert_eq(at, 300);
    /* Tiny limits: refused as soon as the limit is reached. */
    cr_assert_eq(parse_n(LIT(REQ), 1, NULL, &at), LAPPS_ERR_HEADER_TOO_BIG);
    cr_assert_eq(at, 1);
    cr_assert_eq(parse_n(LIT(REQ), 10, NULL, &at), LAPPS_ERR_HEADER_TOO_BIG);
    cr_assert_eq(at, 10);
}

Test(handshake, an_error_inside_the_limit_beats_431)
{
    char text[400];
    size_t n = build_request(text, 350);
    text[0] = 'P';
    cr_assert_eq(parse_n(text, n, 300, NULL, NULL), LAPPS_ERR_HANDSHAKE);
    /* ... and an error past the limit is never seen. */
    n = build_request(text, 350);
    text[320] = '\0';
    cr_assert_eq(parse_n(text, n, 300, NULL, NULL), LAPPS_ERR_HEADER_TOO_BIG);
}

/* A valid request with n headers in all (the 5 required ones and n - 5 others). */
static size_t
request_with_headers(char *out, size_t cap, unsigned n)
{
    size_t len = (size_t)snprintf(out, cap, "%s", RL HOST UPG CONN KEY VER);
    for (unsigned i = 5; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "X-H%u: %u\r\n", i, i);
    len += (size_t)snprintf(out + len, cap - len, "\r\n");
    cr_assert_lt(len, cap);
    return len;
}

Test(handshake, at_most_64_headers)
{
    static char text[4096];
    size_t n = request_with_headers(text, sizeof text, LAPPS__HS_MAX_HEADERS);
    cr_assert_eq(parse_n(text, n, 0, &req, NULL), (lapps_ssize)n);
    cr_assert_eq(req.n_headers, LAPPS__HS_MAX_HEADERS);
    expect_view(req.headers[63].name, "X-H63");

    size_t at;
    n = request_with_headers(text, sizeof text, LAPPS__HS_MAX_HEADERS + 1);
    cr_assert_eq(parse_n(text, n, 0, NULL, &at), LAPPS_ERR_HEADER_TOO_BIG);
    /* Refused at the first byte of the 65th header. */
    const char *h65 = strstr(text, "X-H64:");
    cr_assert_not_null(h65);
    cr_assert_eq(at, (size_t)(h65 - text) + 1);
}

/* ---- parser state ------------------------------------------------------------------- */

Test(handshake, answers_stick)
{
    struct lapps__hs_parser p = {0};
    static const char bad[] = "POST / HTTP/1.1\r\n";
    cr_assert_eq(lapps__hs_parse(&p, bad, 1, &req), LAPPS_ERR_HANDSHAKE);
    cr_assert_eq(lapps__hs_parse(&p, bad, sizeof bad - 1, &req), LAPPS_ERR_HANDSHAKE);
    cr_assert_eq(lapps__hs_parse(&p, REQ, strlen(REQ), &req), LAPPS_ERR_HANDSHAKE);

    struct lapps__hs_parser q = {0};
    size_t n = strlen(REQ);
    cr_assert_eq(lapps__hs_parse(&q, REQ, n, &req), (lapps_ssize)n);
    cr_assert_eq(lapps__hs_parse(&q, REQ REQ, 2 * n, &req), (lapps_ssize)n);
    expect_view(req.key, "dGhlIHNhbXBsZSBub25jZQ==");
}

Test(handshake, a_zero_filled_parser_is_ready_and_len_0_needs_more)
{
    struct lapps__hs_parser p;
    memset(&p, 0, sizeof p);
    uint8_t *empty = guard_copy(NULL, 0);
    cr_assert_eq(lapps__hs_parse(&p, (const char *)empty, 0, &req), LAPPS_ERR_AGAIN);
    cr_assert_eq(lapps__hs_parse(&p, REQ, strlen(REQ), &req), (lapps_ssize)strlen(REQ));
    guard_free(empty);
}

Test(handshake, error_status)
{
    cr_assert_eq(lapps__hs_error_status(LAPPS_ERR_HANDSHAKE), 400);
    cr_assert_eq(lapps__hs_error_status(LAPPS_ERR_VERSION), 426);
    cr_assert_eq(lapps__hs_error_status(LAPPS_ERR_HEADER_TOO_BIG), 431);
    cr_assert_eq(lapps__hs_error_status(LAPPS_ERR_INVAL), 400);
}

/* ---- lookups ------------------------------------------------------------------------ */

Test(handshake, find_ignores_case_and_returns_the_first)
{
    static const char text[] = RL HOST UPG CONN KEY VER "X-Custom: one\r\n"
                                                        "x-custom: two\r\n" END;
    cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text));
    const struct lapps__hs_header *h = lapps__hs_find(&req, "X-CUSTOM");
    cr_assert_not_null(h);
    expect_view(h->value, "one");
    cr_assert_eq(lapps__hs_find(&req, "x-custom"), h);
    expect_view(lapps__hs_find(&req, "sec-websocket-key")->value, "dGhlIHNhbXBsZSBub25jZQ==");
    expect_view(lapps__hs_find(&req, "HOST")->value, "server.example.com");
    cr_assert_null(lapps__hs_find(&req, "x-custo"));
    cr_assert_null(lapps__hs_find(&req, "x-customs"));
    cr_assert_null(lapps__hs_find(&req, "origin"));
    cr_assert_null(lapps__hs_find(&req, ""));
}

static bool
select_from(const char *protocol_lines, const char *const *supported, size_t n, const char *alias,
            struct lapps__str *out)
{
    static char text[1024];
    snprintf(text, sizeof text, RL HOST UPG CONN KEY VER "%s" END, protocol_lines);
    cr_assert_eq(parse(text, &req), (lapps_ssize)strlen(text));
    return lapps__hs_select_protocol(&req, supported, n, alias, out);
}

Test(handshake, protocol_follows_the_client_order)
{
    static const char *const sup[] = {"superchat", "chat"};
    struct lapps__str out;
    cr_assert(select_from("Sec-WebSocket-Protocol: chat, superchat\r\n", sup, 2, NULL, &out));
    expect_view(out, "chat");
    cr_assert_eq(out.p, sup[1], "the view points at the service's own string");
    cr_assert(select_from("Sec-WebSocket-Protocol: superchat, chat\r\n", sup, 2, NULL, &out));
    cr_assert_eq(out.p, sup[0]);
}

Test(handshake, protocol_across_headers_commas_and_spaces)
{
    static const char *const sup[] = {"c", "lapps"};
    struct lapps__str out;
    cr_assert(select_from("Sec-WebSocket-Protocol: a, b\r\n"
                          "X-Other: c\r\n"
                          "sec-websocket-protocol: ,\t c \t, lapps\r\n",
                          sup, 2, NULL, &out));
    cr_assert_eq(out.p, sup[0]);
    cr_assert(select_from("Sec-WebSocket-Protocol:  ,, lapps ,\r\n", sup, 2, NULL, &out));
    cr_assert_eq(out.p, sup[1]);
}

Test(handshake, protocol_is_case_sensitive_and_exact)
{
    static const char *const sup[] = {"chat"};
    struct lapps__str out = {"junk", 4};
    cr_assert_not(
        select_from("Sec-WebSocket-Protocol: Chat, chats, cha, c hat\r\n", sup, 1, NULL, &out));
    cr_assert_null(out.p);
    cr_assert_eq(out.len, 0);
}

Test(handshake, protocol_alias)
{
    static const char *const sup[] = {"chat"};
    struct lapps__str out;
    /* Nothing matches, but the client offered something: the alias answers. */
    cr_assert(select_from("Sec-WebSocket-Protocol: lapps\r\n", sup, 1, "LAppS", &out));
    expect_view(out, "LAppS");
    /* A match beats the alias. */
    cr_assert(select_from("Sec-WebSocket-Protocol: x, chat\r\n", sup, 1, "LAppS", &out));
    expect_view(out, "chat");
    /* An alias with no supported list at all. */
    cr_assert(select_from("Sec-WebSocket-Protocol: x\r\n", NULL, 0, "LAppS", &out));
    expect_view(out, "LAppS");
}

Test(handshake, protocol_none_offered)
{
    static const char *const sup[] = {"chat"};
    struct lapps__str out;
    cr_assert_not(select_from("", sup, 1, "LAppS", &out));
    cr_assert_null(out.p);
    cr_assert_not(select_from("", sup, 1, NULL, &out));
    /* An empty header offers nothing either. */
    cr_assert_not(select_from("Sec-WebSocket-Protocol:\r\n", sup, 1, "LAppS", &out));
    cr_assert_not(select_from("Sec-WebSocket-Protocol: , ,\r\n", sup, 1, "LAppS", &out));
}

/* ---- accept key --------------------------------------------------------------------- */

Test(handshake, accept_key_rfc6455_example)
{
    struct lapps__str key = {"dGhlIHNhbXBsZSBub25jZQ==", 24};
    char out[29];
    memset(out, 'x', sizeof out);
    cr_assert_eq(lapps__hs_accept_key(&key, out), 0);
    cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* RFC 6455 §1.2 / §4.2.2 cross-check with another known pair. */
    struct lapps__str key2 = {"x3JJHMbDL1EzLkh9GBhXDw==", 24};
    cr_assert_eq(lapps__hs_accept_key(&key2, out), 0);
    cr_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}
