/* test-handshake.c — the opening handshake over real TCP (DESIGN.md §4): valid requests
 * in unusual but legal forms get 101; malformed ones 400, an unknown target 404, a
 * version other than 13 426 (with Sec-WebSocket-Version: 13), an oversized request 431,
 * a full server 503. Every error is a complete HTTP/1.1 response with Content-Length and
 * Connection: close, after which the server closes TCP; no service callback runs for a
 * refused request. A request that never completes is closed at the handshake timeout. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "harness.h"

#define CLIENT_MS 30000

#define HOST "Host: 127.0.0.1\r\n"
#define UPG  "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define KEY  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER  "Sec-WebSocket-Version: 13\r\n"
#define GET  "text:GET /echo HTTP/1.1\r\n"

struct hcase {
    const char *name;
    const char *request; /* raw.py action */
    int status;
};

static const struct hcase hcases[] = {
    /* Legal variations: 101. */
    {"header names and tokens in any case",
     "text:GET /echo HTTP/1.1\r\nhOsT: x\r\nUPGRADE: WebSocket\r\n"
     "connection: keep-alive, UPGRADE\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
     "SEC-WEBSOCKET-VERSION: 13\r\n\r\n",
     101},
    {"padded values and extra headers",
     "text:GET /echo?q=1 HTTP/1.1\r\nHost:   127.0.0.1  \r\n"
     "User-Agent: test\r\nUpgrade:websocket\r\nConnection:  Upgrade \r\nOrigin: http://x\r\n" KEY
         VER "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
     101},
    /* Malformed: 400. */
    {"garbage", "text:hello there\r\n\r\n", 400},
    {"POST", "text:POST /echo HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n", 400},
    {"HTTP/1.0", "text:GET /echo HTTP/1.0\r\n" HOST UPG CONN KEY VER "\r\n", 400},
    {"no Host", GET UPG CONN KEY VER "\r\n", 400},
    {"no Upgrade", GET HOST CONN KEY VER "\r\n", 400},
    {"Upgrade not websocket", GET HOST "Upgrade: h2c\r\n" CONN KEY VER "\r\n", 400},
    {"Connection without upgrade", GET HOST UPG "Connection: keep-alive\r\n" KEY VER "\r\n", 400},
    {"no key", GET HOST UPG CONN VER "\r\n", 400},
    {"key of 15 bytes", GET HOST UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n" VER "\r\n",
     400},
    {"key not base64",
     GET HOST UPG CONN "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n" VER "\r\n", 400},
    {"header line without colon", GET HOST UPG CONN KEY VER "Bogus header\r\n\r\n", 400},
    /* Unknown target: 404. */
    {"unknown target", "text:GET /nope HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n", 404},
    {"target with a trailing slash", "text:GET /echo/ HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n",
     404},
    {"target prefix", "text:GET /ech HTTP/1.1\r\n" HOST UPG CONN KEY VER "\r\n", 404},
    /* Version: 426. */
    {"version 8", GET HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n\r\n", 426},
    {"version 14", GET HOST UPG CONN KEY "Sec-WebSocket-Version: 14\r\n\r\n", 426},
};

#define N_HCASES (sizeof hcases / sizeof hcases[0])

/* Checks a refused request's response and that the server closed TCP after it. */
static void
expect_error_response(const char *name, const char *out, int status)
{
    char want[32];
    snprintf(want, sizeof want, "http %d", status);
    cr_assert(api_has_line(out, want), "%s: expected %d:\n%s", name, status, out);
    /* "close" in the Connection list (426 also names Upgrade there). */
    const char *conn = api_find_prefix(out, "header connection: ");
    cr_assert(conn && (strncmp(conn, "header connection: close\n", 25) == 0 ||
                       strncmp(conn, "header connection: close,", 25) == 0),
              "%s: no Connection: close:\n%s", name, out);
    const char *cl = api_find_prefix(out, "header content-length: ");
    cr_assert_not_null(cl, "%s: no Content-Length:\n%s", name, out);
    const char *body = api_find_prefix(out, "bytes ");
    cr_assert_not_null(body, "%s:\n%s", name, out);
    cr_assert_eq(atoi(cl + strlen("header content-length: ")), atoi(body + strlen("bytes ")),
                 "%s: the body must be exactly Content-Length bytes:\n%s", name, out);
    cr_assert(api_has_line(out, "eof"), "%s: the server must close after an error:\n%s", name, out);
}

ParameterizedTestParameters(handshake, responses)
{
    static int idx[N_HCASES];
    for (size_t i = 0; i < N_HCASES; i++)
        idx[i] = (int)i;
    return cr_make_param_array(int, idx, N_HCASES);
}

ParameterizedTest(int *ci, handshake, responses, .timeout = 60)
{
    cr_assert_lt((size_t)*ci, N_HCASES);
    const struct hcase *hc = &hcases[*ci];
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *out;
    int rc;
    if (hc->status == 101) {
        rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, hc->request, "http", "frame:str=ok",
                        "readn:1", "frame:op=8,code=1000", "read", NULL);
        cr_assert_eq(rc, 0, "%s:\n%s", hc->name, out);
        cr_assert(api_has_line(out, "http 101"), "%s:\n%s", hc->name, out);
        cr_assert(api_has_line(out, "text ok"), "%s:\n%s", hc->name, out);
        cr_assert(!api_has_line(out, "bad-accept"), "%s:\n%s", hc->name, out);
        cr_assert(api_has_line(out, "header sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                  "%s:\n%s", hc->name, out);
        cr_assert_null(api_find_prefix(out, "header sec-websocket-extensions"),
                       "%s: extensions are not negotiated:\n%s", hc->name, out);
        free(out);
        cr_assert(api_wait_all_closed(&s, 1, 10000));
        cr_assert_eq(atomic_load(&s.c.opens), 1);
    } else {
        rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, hc->request, "http", "eof", NULL);
        cr_assert_eq(rc, 0, "%s:\n%s", hc->name, out);
        expect_error_response(hc->name, out, hc->status);
        if (hc->status == 426)
            cr_assert(api_has_line(out, "header sec-websocket-version: 13"), "%s:\n%s", hc->name,
                      out);
        free(out);
        lapps_stats st = api_stats(&s);
        cr_assert_eq(st.accepted, 1);
        cr_assert_eq(st.handshakes_failed, 1, "%s", hc->name);
        cr_assert_eq(atomic_load(&s.c.opens), 0, "%s: no on_open for a refused request", hc->name);
    }
    api_server_finish(&s);
}

static char *
big_request(size_t filler)
{
    const char *head = "text:GET /echo HTTP/1.1\r\n" HOST UPG CONN KEY VER "X-Filler: ";
    size_t n = strlen(head);
    char *r = malloc(n + filler + 8);
    cr_assert_not_null(r);
    memcpy(r, head, n);
    memset(r + n, 'a', filler);
    strcpy(r + n + filler, "\r\n\r\n");
    return r;
}

/* Over the 8 KiB default: 431. Just under it: 101. With a 1 KiB limit: 431 again. */
Test(handshake, oversized_request_is_431, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *req = big_request(9000), *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, req, "http", "eof", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    expect_error_response("9000-byte header", out, 431);
    API_EXPECT_LINE(out, "status-line HTTP/1.1 431 Request Header Fields Too Large");
    free(out);
    free(req);
    req = big_request(7900);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, req, "http", "frame:op=8", "read", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    API_EXPECT_LINE(out, "http 101");
    free(out);
    free(req);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    api_server_finish(&s);

    api_server_start(&s, &(struct api_config){.workers = 1, .max_handshake = 1024});
    req = big_request(1100);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, req, "http", "eof", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    expect_error_response("1100-byte header, 1 KiB limit", out, 431);
    free(out);
    free(req);
    /* Trickled in one-byte segments (the request is kept across reads), the limit holds
     * too. */
    req = big_request(1100);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--trickle", req, "http", "eof", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    expect_error_response("1100-byte header, trickled", out, 431);
    free(out);
    free(req);
    cr_assert_eq(api_stats(&s).handshakes_failed, 2);
    cr_assert_eq(atomic_load(&s.c.opens), 0);
    api_server_finish(&s);
}

/* max_connections = 1 per worker: while one connection is open, the next handshake is
 * answered 503; once it closed, a new one is accepted. */
Test(handshake, full_server_is_503, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .max_connections = 1});
    char *out;
    int rc =
        api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--hold", "1", "hs", "http", "eof", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    API_EXPECT_LINE(out, "held 1");
    /* What follows "held 1" is the second connection's answer. */
    expect_error_response("second connection", api_find_prefix(out, "held 1"), 503);
    API_EXPECT_LINE(out, "status-line HTTP/1.1 503 Service Unavailable");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), 1);
    rc =
        api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:op=8", "read", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    API_EXPECT_LINE(out, "http 101");
    free(out);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.handshakes_failed, 1);
    cr_assert_eq(st.accepted, 3);
    api_server_finish(&s);
}

/* Half a request, or nothing at all: closed at the handshake timeout (300 ms), well
 * before the client's own 10 s deadline. */
Test(handshake, incomplete_request_closed_at_timeout, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2, .handshake_ms = 300});
    int fds_before = api_fd_count();
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str,
                        "text:GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr", "eof", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    API_EXPECT_LINE(out, "bytes 0");
    API_EXPECT_LINE(out, "eof");
    free(out);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "eof", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    API_EXPECT_LINE(out, "eof");
    free(out);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.handshakes_failed, 2);
    cr_assert_eq(st.accepted, 2);
    cr_assert_eq(atomic_load(&s.c.opens), 0);
    cr_assert_eq(api_fd_count(), fds_before, "the timed-out sockets are closed");
    api_server_finish(&s);
}

/* max_connections per worker also holds for a service with one instance on a 2-worker
 * server: connections accepted by the other worker are handed over to the host, which
 * must not end up holding more than the limit. */
Test(handshake, connection_limit_holds_across_hand_over, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2, .instances = 1, .max_connections = 2});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "ws_client.py", "tryopen", s.uri, "24", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "opened 2 refused 22");
    free(out);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    cr_assert_eq(atomic_load(&s.c.peak), 2, "peak %d", atomic_load(&s.c.peak));
    cr_assert_eq(atomic_load(&s.c.per_worker[1]), 0);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.handshakes_failed, 22);
    cr_assert_eq(st.connections, 0);
    api_server_finish(&s);
}

/* A full host does not refuse a connection another host could take: with 2 instances on a
 * 3-worker server and max_connections = 1, the second of two connections opens whichever
 * worker the kernel gives it (the full host, or the worker without an instance), round
 * after round; a third is refused while both are held. */
Test(handshake, full_host_hands_over_to_one_with_room, .timeout = 90)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 3, .instances = 2, .max_connections = 1});
    const int rounds = 8;
    for (int round = 1; round <= rounds; round++) {
        char *out;
        int rc = api_python(CLIENT_MS, &out, "ws_client.py", "tryopen", s.uri,
                            round == rounds ? "3" : "2", NULL);
        API_CLIENT_OK(rc, out);
        API_EXPECT_LINE(out, round == rounds ? "opened 2 refused 1" : "opened 2 refused 0");
        free(out);
        cr_assert(api_wait_all_closed(&s, 2 * round, 10000));
    }
    cr_assert_eq(atomic_load(&s.c.peak), 2, "peak %d", atomic_load(&s.c.peak));
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.connections, 0);
    api_server_finish(&s);
}
