/* Tests for lib/ws/handshake-response.c: the exact 101 and error responses, their
 * Content-Length, bounded output at every capacity, and refused header injection. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "guard.h"
#include "ws/handshake.h"

static const struct lapps__str rfc_key = {"dGhlIHNhbXBsZSBub25jZQ==", 24};

#define RFC_101                                                                                    \
    "HTTP/1.1 101 Switching Protocols\r\n"                                                         \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: Upgrade\r\n"                                                                      \
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

/* Output buffers are exactly cap bytes, flush against a guard page: writing past cap
 * faults. */
static lapps_ssize
write_101(char *res, size_t cap, const char *protocol, const struct lapps__hs_extra *extra,
          size_t n_extra)
{
    static const char zeros[1024];
    cr_assert_leq(cap, sizeof zeros);
    char *out = (char *)guard_copy(zeros, cap);
    lapps_ssize n = lapps__hs_response_101(out, cap, &rfc_key, protocol, extra, n_extra);
    if (n > 0)
        memcpy(res, out, (size_t)n);
    guard_free((uint8_t *)out);
    return n;
}

static lapps_ssize
write_error(char *res, size_t cap, int status)
{
    static const char zeros[1024];
    cr_assert_leq(cap, sizeof zeros);
    char *out = (char *)guard_copy(zeros, cap);
    lapps_ssize n = lapps__hs_response_error(out, cap, status);
    if (n > 0)
        memcpy(res, out, (size_t)n);
    guard_free((uint8_t *)out);
    return n;
}

static void
expect_text(const char *got, lapps_ssize n, const char *want)
{
    cr_assert_eq(n, (lapps_ssize)strlen(want), "length %td, want %zu", n, strlen(want));
    cr_assert(memcmp(got, want, (size_t)n) == 0, "got:\n%.*s\nwant:\n%s", (int)n, got, want);
}

Test(handshake_response, rfc6455_101)
{
    char out[512];
    lapps_ssize n = write_101(out, sizeof out, NULL, NULL, 0);
    expect_text(out, n, RFC_101 "\r\n");
}

Test(handshake_response, protocol_and_extra_headers)
{
    static const struct lapps__hs_extra extra[] = {
        {"X-Server", "lapps"}, {"Set-Cookie", "a=b; Path=/; HttpOnly"},
        {"X-Tab", "a\tb"},     {"Set-Cookie", "c=d"},
        {"X-Empty", ""},
    };
    char out[512];
    lapps_ssize n = write_101(out, sizeof out, "chat", extra, 5);
    expect_text(out, n,
                RFC_101 "Sec-WebSocket-Protocol: chat\r\n"
                        "X-Server: lapps\r\n"
                        "Set-Cookie: a=b; Path=/; HttpOnly\r\n"
                        "X-Tab: a\tb\r\n"
                        "Set-Cookie: c=d\r\n"
                        "X-Empty: \r\n"
                        "\r\n");
    cr_assert_eq(lapps__hs_response_101_len("chat", extra, 5), (size_t)n);
}

/* The length the service setters check against LAPPS__HS_MAX_RESPONSE is the length
 * written, for every combination. */
Test(handshake_response, length_matches_what_is_written)
{
    static const struct lapps__hs_extra extra[] = {
        {"A", ""}, {"X-Long", "0123456789abcdef0123456789abcdef"}, {"Server", "lapps"}};
    static const char *protocols[] = {NULL, "p", "LAppS"};
    char out[512];
    for (size_t p = 0; p < 3; p++)
        for (size_t n = 0; n <= 3; n++) {
            lapps_ssize got = write_101(out, sizeof out, protocols[p], extra, n);
            cr_assert_gt(got, 0);
            cr_assert_eq(lapps__hs_response_101_len(protocols[p], extra, n), (size_t)got,
                         "protocol %zu, %zu headers", p, n);
        }
}

/* 32 headers filling LAPPS__HS_MAX_RESPONSE exactly are written whole. */
Test(handshake_response, largest_service_response)
{
    static char values[32][512];
    struct lapps__hs_extra extra[32];
    for (size_t i = 0; i < 32; i++) {
        memset(values[i], 'v', 100);
        extra[i] = (struct lapps__hs_extra){"X-Header", values[i]};
    }
    size_t base = lapps__hs_response_101_len("LAppS", extra, 32);
    cr_assert_lt(base, LAPPS__HS_MAX_RESPONSE);
    size_t room = LAPPS__HS_MAX_RESPONSE - base;
    cr_assert_lt(room, 512 - 100);
    memset(values[31] + 100, 'w', room);
    cr_assert_eq(lapps__hs_response_101_len("LAppS", extra, 32), LAPPS__HS_MAX_RESPONSE);
    static char out[LAPPS__HS_MAX_RESPONSE];
    cr_assert_eq(lapps__hs_response_101(out, sizeof out, &rfc_key, "LAppS", extra, 32),
                 (lapps_ssize)LAPPS__HS_MAX_RESPONSE);
    cr_assert(memcmp(out + LAPPS__HS_MAX_RESPONSE - 5, "w\r\n\r\n", 5) == 0);
    cr_assert_eq(lapps__hs_response_101(out, sizeof out - 1, &rfc_key, "LAppS", extra, 32),
                 LAPPS_ERR_NOSPACE);
}

/* What a service may add: the same rule the 101 applies. */
Test(handshake_response, extra_header_rule)
{
    static const char *const good_names[] = {
        "X-A",
        "Server",
        "Set-Cookie",
        "Cache-Control",
        "Content-Type",
        "Sec-WebSocket",
        "Upgraded",
        "Connections",
        "X-Sec-WebSocket-Key",
        "t",
        "!#$%&'*+-.^_`|~09azAZ",
    };
    for (size_t i = 0; i < sizeof good_names / sizeof good_names[0]; i++)
        cr_assert(lapps__hs_extra_valid(good_names[i], "v"), "%s", good_names[i]);
    static const char *const bad_names[] = {
        "",
        "Upgrade",
        "CONNECTION",
        "Content-Length",
        "transfer-encoding",
        "Trailer",
        "TE",
        "Keep-Alive",
        "Proxy-Connection",
        "Sec-WebSocket-Accept",
        "sec-websocket-protocol",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "sec-websocket-",
        "X A",
        "X:A",
        "X\r\nA",
        "X-\xc3\xa9",
        "X\t",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        cr_assert_not(lapps__hs_extra_valid(bad_names[i], "v"), "%s", bad_names[i]);
    static const char *const good_values[] = {"", " ", "a b\tc",
                                              "~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"};
    for (size_t i = 0; i < sizeof good_values / sizeof good_values[0]; i++)
        cr_assert(lapps__hs_extra_valid("X-A", good_values[i]), "value %zu", i);
    static const char *const bad_values[] = {"a\r\nX-B: c", "\r",          "\n",   "a\x01",
                                             "\x7f",        "caf\xc3\xa9", "\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        cr_assert_not(lapps__hs_extra_valid("X-A", bad_values[i]), "value %zu", i);
    cr_assert_not(lapps__hs_extra_valid(NULL, "v"));
    cr_assert_not(lapps__hs_extra_valid("X-A", NULL));
    cr_assert(lapps__hs_protocol_valid("LAppS"));
    cr_assert_not(lapps__hs_protocol_valid("a b"));
    cr_assert_not(lapps__hs_protocol_valid(""));
    cr_assert_not(lapps__hs_protocol_valid(NULL));
}

Test(handshake_response, nospace_at_every_capacity_below_the_need)
{
    static const struct lapps__hs_extra extra[] = {{"X-Server", "lapps"}};
    char out[512];
    lapps_ssize need = write_101(out, sizeof out, "chat", extra, 1);
    cr_assert_gt(need, 0);
    for (size_t cap = 0; cap < (size_t)need; cap++)
        cr_assert_eq(write_101(out, cap, "chat", extra, 1), LAPPS_ERR_NOSPACE, "cap %zu", cap);
    cr_assert_eq(write_101(out, (size_t)need, "chat", extra, 1), need);
}

Test(handshake_response, header_injection_is_refused)
{
    static const struct lapps__hs_extra bad[] = {
        {"X-A", "a\r\nSet-Cookie: evil=1"},
        {"X-A", "a\nb"},
        {"X-A", "a\rb"},
        {"X-A", "\r\n\r\n<html>"},
        {"X-A", "a\x01"},
        {"X-A", "a\x7f"},
        {"X-A", "a\x1b[0m"},
        {"X-Utf8", "caf\xc3\xa9"},
        {"X-A", "\x80"},
        {"X-A\r\nSet-Cookie", "evil=1"},
        {"X-A\n", "b"},
        {"X A", "b"},
        {"X-A:", "b"},
        {"X-A ", "b"},
        {"", "b"},
        {"X(A)", "b"},
        {"X-\xc3\xa9", "b"},
        {NULL, "b"},
        {"X-A", NULL},
        /* The names the 101 writes itself. */
        {"Upgrade", "h2c"},
        {"connection", "close"},
        {"Sec-WebSocket-Accept", "AAAA"},
        {"SEC-WEBSOCKET-PROTOCOL", "x"},
        /* Framing, hop-by-hop and the other Sec-WebSocket-* headers. */
        {"Content-Length", "0"},
        {"Transfer-Encoding", "chunked"},
        {"Sec-WebSocket-Extensions", "permessage-deflate"},
        {"Sec-WebSocket-Version", "13"},
    };
    static const struct lapps__hs_extra good = {"X-Good", "1"};
    char out[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lapps__hs_extra two[2] = {good, bad[i]};
        cr_assert_eq(write_101(out, sizeof out, NULL, &bad[i], 1), LAPPS_ERR_INVAL, "case %zu", i);
        cr_assert_eq(write_101(out, sizeof out, NULL, two, 2), LAPPS_ERR_INVAL, "case %zu", i);
        /* Refused before any capacity check. */
        cr_assert_eq(write_101(out, 0, NULL, &bad[i], 1), LAPPS_ERR_INVAL, "case %zu", i);
    }
    static const char *bad_protocols[] = {"",    "a b",  "chat\r\nX-A: b", "a,b",
                                          "a;b", "\x01", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_protocols / sizeof bad_protocols[0]; i++)
        cr_assert_eq(write_101(out, sizeof out, bad_protocols[i], NULL, 0), LAPPS_ERR_INVAL,
                     "protocol %zu", i);
    cr_assert_gt(write_101(out, sizeof out, "!#$%&'*+-.^_`|~09azAZ", NULL, 0), 0);
}

/* ---- error responses ---------------------------------------------------------------- */

#define ERR_HEAD(status, reason, length)                                                           \
    "HTTP/1.1 " status " " reason "\r\n"                                                           \
    "Content-Type: text/plain\r\n"                                                                 \
    "Content-Length: " length "\r\n"

static const struct {
    int status;
    const char *text;
} pages[] = {
    {400, ERR_HEAD("400", "Bad Request", "33") "Connection: close\r\n"
                                               "\r\n"
                                               "Not a valid WebSocket handshake.\n"},
    {403, ERR_HEAD("403", "Forbidden", "11") "Connection: close\r\n"
                                             "\r\n"
                                             "Forbidden.\n"},
    {404, ERR_HEAD("404", "Not Found", "38") "Connection: close\r\n"
                                             "\r\n"
                                             "No WebSocket service at this address.\n"},
    {426, ERR_HEAD("426", "Upgrade Required", "46") "Connection: close, Upgrade\r\n"
                                                    "Upgrade: websocket\r\n"
                                                    "Sec-WebSocket-Version: 13\r\n"
                                                    "\r\n"
                                                    "This server speaks WebSocket version 13 "
                                                    "only.\n"},
    {431, ERR_HEAD("431", "Request Header Fields Too Large",
                   "36") "Connection: close\r\n"
                         "\r\n"
                         "The handshake request is too large.\n"},
    {500, ERR_HEAD("500", "Internal Server Error", "45") "Connection: close\r\n"
                                                         "\r\n"
                                                         "The server could not complete the "
                                                         "handshake.\n"},
    {503, ERR_HEAD("503", "Service Unavailable", "37") "Connection: close\r\n"
                                                       "\r\n"
                                                       "The server is full; try again later.\n"},
};

Test(handshake_response, every_error_status_exact_text)
{
    char out[512];
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        lapps_ssize n = write_error(out, sizeof out, pages[i].status);
        expect_text(out, n, pages[i].text);
    }
}

/* Checks the framing a client relies on, independently of the exact text. */
Test(handshake_response, content_length_matches_the_body)
{
    char out[512];
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        lapps_ssize n = write_error(out, sizeof out - 1, pages[i].status);
        cr_assert_gt(n, 0);
        out[n] = '\0';
        const char *end = strstr(out, "\r\n\r\n");
        cr_assert_not_null(end);
        const char *body = end + 4;
        const char *cl = strstr(out, "\r\nContent-Length: ");
        cr_assert(cl && cl < end);
        char *stop;
        unsigned long len = strtoul(cl + 18, &stop, 10);
        cr_assert_eq(strncmp(stop, "\r\n", 2), 0);
        cr_assert_eq(len, strlen(body), "status %d", pages[i].status);
        cr_assert_gt(len, 0);
        cr_assert_not_null(strstr(out, "\r\nConnection: close"));
        cr_assert_not_null(strstr(out, "\r\nContent-Type: text/plain\r\n"));
        char line[16];
        snprintf(line, sizeof line, "HTTP/1.1 %d ", pages[i].status);
        cr_assert_eq(strncmp(out, line, strlen(line)), 0);
    }
}

Test(handshake_response, error_nospace_at_every_capacity_below_the_need)
{
    char out[512];
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        size_t need = strlen(pages[i].text);
        for (size_t cap = 0; cap < need; cap++)
            cr_assert_eq(write_error(out, cap, pages[i].status), LAPPS_ERR_NOSPACE,
                         "status %d cap %zu", pages[i].status, cap);
        cr_assert_eq(write_error(out, need, pages[i].status), (lapps_ssize)need);
    }
}

Test(handshake_response, other_statuses_are_inval)
{
    static const int bad[] = {0, -1, 100, 101, 200, 301, 401, 405, 501, 502, 4000};
    char out[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(write_error(out, sizeof out, bad[i]), LAPPS_ERR_INVAL, "%d", bad[i]);
}

Test(handshake_response, parse_errors_map_to_pages)
{
    static const int errs[] = {LAPPS_ERR_HANDSHAKE, LAPPS_ERR_VERSION, LAPPS_ERR_HEADER_TOO_BIG};
    char out[512];
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        cr_assert_gt(write_error(out, sizeof out, lapps__hs_error_status(errs[i])), 0);
}
