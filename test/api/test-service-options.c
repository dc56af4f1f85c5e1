/* test-service-options.c — a service's handshake options over real TCP (DESIGN.md §4,
 * §8): allowed origins (a request with an Origin not listed, or none, gets a complete 403
 * and no callback runs), extra headers in the 101 (exactly once each, in order, after
 * the handshake's own), proto_alias (announced only when the client offered it), the
 * values refused with LAPPS_ERR_INVAL or the bounds with LAPPS_ERR_NOSPACE, and the same
 * options set on a registered C or Lua service through lapps_server_service(). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

#define CLIENT_MS 30000

#define HOST "Host: 127.0.0.1\r\n"
#define UPG  "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define KEY  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER  "Sec-WebSocket-Version: 13\r\n"

/* The 101's own header lines as raw.py prints them (names lowercased). */
#define OWN_HEADERS                                                                                \
    "header upgrade: websocket\n"                                                                  \
    "header connection: Upgrade\n"                                                                 \
    "header sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n"

struct counts {
    atomic_int opens, closes, messages;
};

static void
on_open(lapps_conn *c, void *ud)
{
    (void)c;
    atomic_fetch_add(&((struct counts *)ud)->opens, 1);
}

static int
on_message(lapps_conn *c, const lapps_message *m, void *ud)
{
    atomic_fetch_add(&((struct counts *)ud)->messages, 1);
    return lapps_conn_send(c, m->opcode, m->data, m->len);
}

static void
on_close(lapps_conn *c, const lapps_close_info *info, void *ud)
{
    (void)c;
    (void)info;
    atomic_fetch_add(&((struct counts *)ud)->closes, 1);
}

static lapps_server *
new_server(unsigned workers, uint16_t *port)
{
    lapps_opts *o;
    lapps_server *srv;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, workers), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    *port = lapps_server_port(srv, 0);
    return srv;
}

static lapps_service *
c_service(const char *name, const char *target, unsigned instances, struct counts *counts)
{
    lapps_service *s;
    cr_assert_eq(lapps_service_new(&s, name, target), 0);
    cr_assert_eq(lapps_service_set_instances(s, instances), 0);
    cr_assert_eq(lapps_service_set_callbacks(s, NULL, on_open, on_message, NULL, on_close, NULL),
                 0);
    cr_assert_eq(lapps_service_set_user_data(s, counts), 0);
    return s;
}

/* A request for target with extra header lines (each ending in CRLF), as a raw.py
 * action. */
static char *
request(const char *target, const char *extra)
{
    static char buf[8][1024];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "text:GET %s HTTP/1.1\r\n" HOST UPG CONN KEY VER "%s\r\n", target,
             extra);
    return b;
}

/* Runs raw.py with the request, expecting a 101: closes with 1000 and waits for the
 * server's close. Returns raw.py's output (free it). */
static char *
expect_101(const char *port, const char *req)
{
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", port, req, "http", "frame:str=ping", "readn:1",
                        "frame:op=8,code=1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "http 101");
    API_EXPECT_LINE(out, "status-line HTTP/1.1 101 Switching Protocols");
    API_EXPECT_LINE(out, "text ping");
    API_EXPECT_LINE(out, "close 1000 ");
    API_EXPECT_NO_LINE(out, "bad-accept");
    return out;
}

/* Runs raw.py with the request, expecting a complete 403 and the server closing TCP. */
static void
expect_403(const char *port, const char *req)
{
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", port, req, "http", "eof", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "status-line HTTP/1.1 403 Forbidden");
    API_EXPECT_LINE(out, "header connection: close");
    API_EXPECT_LINE(out, "header content-length: 11");
    API_EXPECT_LINE(out, "bytes 11"); /* "Forbidden.\n", then the server closes */
    API_EXPECT_LINE(out, "eof");
    free(out);
}

/* The "header ..." lines of raw.py's output, in order, one per line. */
static char *
header_lines(const char *out)
{
    size_t n = strlen(out);
    char *h = calloc(1, n + 1), *w = h;
    for (const char *p = out; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
        if (strncmp(p, "header ", 7) == 0) {
            memcpy(w, p, len);
            w += len;
        }
        p = e ? e + 1 : NULL;
    }
    return h;
}

static void
expect_headers(const char *out, const char *want)
{
    char *h = header_lines(out);
    cr_assert_str_eq(h, want, "the 101's headers:\n%s\nwant:\n%s", h, want);
    free(h);
}

static void
finish(lapps_server *srv, struct counts *counts, int opens, int fds)
{
    for (int t = 0; t < 10000 && atomic_load(&counts->closes) < opens; t += 10)
        api_sleep_ms(10);
    cr_assert_eq(atomic_load(&counts->opens), opens);
    cr_assert_eq(atomic_load(&counts->closes), opens);
    lapps_server_free(srv);
    cr_assert_eq(api_wait_fds(fds, 5000), fds, "descriptors leaked");
}

/* ---- origins ---- */

/* Two workers, one instance: the origin is checked on whichever worker parsed the
 * request, before the hand-over. The description is changed and freed after its
 * registration: the server keeps its own copy. */
Test(service_options, origins_refuse_others_with_403, .timeout = 120)
{
    int fds = api_fd_count();
    struct counts counts = {0};
    uint16_t port;
    lapps_server *srv = new_server(2, &port);
    lapps_service *s = c_service("o", "/o", 1, &counts);
    cr_assert_eq(lapps_service_add_origin(s, "https://app.example"), 0);
    cr_assert_eq(lapps_service_add_origin(s, "http://localhost:8080"), 0);
    cr_assert_eq(lapps_service_register(srv, s), 0);
    cr_assert_eq(lapps_service_add_origin(s, "https://late.example"), 0);
    lapps_service_free(s);
    /* A service without origins takes any request. */
    struct counts open_counts = {0};
    s = c_service("open", "/open", 0, &open_counts);
    cr_assert_eq(lapps_service_register(srv, s), 0);
    lapps_service_free(s);
    cr_assert_eq(lapps_server_start(srv), 0);
    char p[8];
    snprintf(p, sizeof p, "%u", port);

    int opens = 0;
    static const char *const allowed[] = {
        "Origin: https://app.example\r\n",
        "Origin: HTTPS://APP.Example\r\n",
        "origin:  http://localhost:8080 \r\n",
    };
    for (size_t i = 0; i < 3; i++) {
        free(expect_101(p, request("/o", allowed[i])));
        opens++;
    }
    static const char *const refused[] = {
        "",
        "Origin:\r\n",
        "Origin: https://evil.example\r\n",
        "Origin: https://app.example.evil\r\n",
        "Origin: https://app.example/\r\n",
        "Origin: https://app.example:443\r\n",
        "Origin: http://app.example\r\n",
        "Origin: http://localhost:8081\r\n",
        "Origin: null\r\n",
        "Origin: https://late.example\r\n",
        "X-Origin: https://app.example\r\n",
    };
    lapps_stats before = {.size = sizeof before};
    cr_assert_eq(lapps_server_stats(srv, &before), 0);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        expect_403(p, request("/o", refused[i]));
    lapps_stats after = {.size = sizeof after};
    cr_assert_eq(lapps_server_stats(srv, &after), 0);
    cr_assert_eq(after.handshakes_failed - before.handshakes_failed,
                 sizeof refused / sizeof refused[0]);
    cr_assert_eq(after.handed_over, before.handed_over, "a refused request was handed over");
    cr_assert_eq(atomic_load(&counts.opens), opens, "on_open fired for a refused request");

    /* Accepted requests arriving on either worker: some are handed over to the one
     * instance (the kernel spreads them by a hash: 16 make missing it negligible). */
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", p, "--repeat", "16",
                        request("/o", "Origin: https://app.example\r\n"), "http",
                        "frame:op=8,code=1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, "http 101"), 16, "%s", out);
    free(out);
    opens += 16;
    for (int t = 0; t < 10000 && atomic_load(&counts.opens) < opens; t += 10)
        api_sleep_ms(10);
    lapps_stats last = {.size = sizeof last};
    cr_assert_eq(lapps_server_stats(srv, &last), 0);
    cr_assert_gt(last.handed_over, after.handed_over, "no connection crossed workers");

    /* The service without origins: with or without one. */
    free(expect_101(p, request("/open", "")));
    free(expect_101(p, request("/open", "Origin: https://evil.example\r\n")));

    /* A real client (python3-websockets sends Origin only when told to). */
    char uri[64];
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/o", port);
    rc = api_python(CLIENT_MS, &out, "subproto.py", uri, "--origin", "https://app.example", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "open none");
    free(out);
    opens++;
    rc = api_python(CLIENT_MS, &out, "subproto.py", uri, NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "status 403");
    free(out);

    finish(srv, &counts, opens, fds);
    cr_assert_eq(atomic_load(&open_counts.opens), 2);
}

/* ---- extra headers and proto_alias ---- */

Test(service_options, extra_headers_and_proto_alias, .timeout = 120)
{
    int fds = api_fd_count();
    struct counts counts = {0};
    uint16_t port;
    lapps_server *srv = new_server(2, &port);
    lapps_service *s = c_service("h", "/h", 0, &counts);
    cr_assert_eq(lapps_service_add_header(s, "X-One", "1"), 0);
    cr_assert_eq(lapps_service_add_header(s, "Set-Cookie", "a=b; Path=/"), 0);
    cr_assert_eq(lapps_service_add_header(s, "Server", "liblapps \ttest"), 0);
    cr_assert_eq(lapps_service_add_header(s, "Set-Cookie", "c=d"), 0);
    cr_assert_eq(lapps_service_add_header(s, "X-Empty", ""), 0);
    cr_assert_eq(lapps_service_set_proto_alias(s, "wrong"), 0);
    cr_assert_eq(lapps_service_set_proto_alias(s, "LAppS"), 0); /* replaces */
    cr_assert_eq(lapps_service_register(srv, s), 0);
    lapps_service_free(s);
    /* An alias set and then removed. */
    s = c_service("noalias", "/noalias", 0, &counts);
    cr_assert_eq(lapps_service_set_proto_alias(s, "LAppS"), 0);
    cr_assert_eq(lapps_service_set_proto_alias(s, NULL), 0);
    cr_assert_eq(lapps_service_register(srv, s), 0);
    lapps_service_free(s);
    cr_assert_eq(lapps_server_start(srv), 0);
    char p[8];
    snprintf(p, sizeof p, "%u", port);
#define EXTRAS                                                                                     \
    "header x-one: 1\n"                                                                            \
    "header set-cookie: a=b; Path=/\n"                                                             \
    "header server: liblapps \ttest\n"                                                             \
    "header set-cookie: c=d\n"                                                                     \
    "header x-empty: \n"

    int opens = 0;
    /* Offered among others, in any line: announced, before the extras. */
    char *out = expect_101(p, request("/h", "Sec-WebSocket-Protocol: chat\r\n"
                                            "Sec-WebSocket-Protocol: superchat, LAppS\r\n"));
    expect_headers(out, OWN_HEADERS "header sec-websocket-protocol: LAppS\n" EXTRAS);
    free(out);
    opens++;
    /* Not offered: no Sec-WebSocket-Protocol at all (LAppS sent the alias anyway). */
    out = expect_101(p, request("/h", ""));
    expect_headers(out, OWN_HEADERS EXTRAS);
    free(out);
    opens++;
    /* Offered with another case, or others only: none. */
    out = expect_101(p, request("/h", "Sec-WebSocket-Protocol: lapps, LAPPS, chat\r\n"));
    expect_headers(out, OWN_HEADERS EXTRAS);
    free(out);
    opens++;
    /* The service whose alias was removed answers nothing. */
    out = expect_101(p, request("/noalias", "Sec-WebSocket-Protocol: LAppS\r\n"));
    expect_headers(out, OWN_HEADERS);
    free(out);
    opens++;

    /* An RFC 6455 client: the alias when offered, no subprotocol (and no failure) when
     * not; the extra headers as it parsed them. */
    char uri[64];
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/h", port);
    int rc = api_python(CLIENT_MS, &out, "subproto.py", uri, "--protocol", "chat", "--protocol",
                        "LAppS", "--header", "Set-Cookie", "--header", "Server", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_str_eq(out, "open LAppS\n"
                          "header Set-Cookie: a=b; Path=/\n"
                          "header Set-Cookie: c=d\n"
                          "header Server: liblapps \ttest\n"
                          "done\n");
    free(out);
    opens++;
    rc = api_python(CLIENT_MS, &out, "subproto.py", uri, NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "open none");
    free(out);
    opens++;
    rc = api_python(CLIENT_MS, &out, "subproto.py", uri, "--protocol", "chat", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "open none");
    free(out);
    opens++;
    finish(srv, &counts, opens, fds);
#undef EXTRAS
}

/* ---- refused values and bounds ---- */

Test(service_options, bad_values_and_bounds)
{
    lapps_service *s;
    cr_assert_eq(lapps_service_new(&s, "b", "/b"), 0);

    /* Header names and values. */
    static const char *const bad_names[] = {
        "",
        "Upgrade",
        "upgrade",
        "Connection",
        "Content-Length",
        "TE",
        "Keep-Alive",
        "Transfer-Encoding",
        "Sec-WebSocket-Accept",
        "Sec-WebSocket-Foo",
        "X A",
        "X-A:",
        "X-A\r\nX-B",
        "X(A)",
        "X-\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        cr_assert_eq(lapps_service_add_header(s, bad_names[i], "v"), LAPPS_ERR_INVAL, "%s",
                     bad_names[i]);
    static const char *const bad_values[] = {
        "a\r\nSet-Cookie: evil=1",
        "a\r\n\r\nHTTP/1.1 200 OK",
        "a\nb",
        "a\rb",
        "a\x01",
        "\x7f",
        "caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        cr_assert_eq(lapps_service_add_header(s, "X-A", bad_values[i]), LAPPS_ERR_INVAL,
                     "value %zu", i);
    cr_assert_eq(lapps_service_add_header(s, NULL, "v"), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_service_add_header(s, "X-A", NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_service_add_header(NULL, "X-A", "v"), LAPPS_ERR_INVAL);

    /* Origins. */
    static const char *const bad_origins[] = {
        "",
        "app.example",
        "https://",
        "://app.example",
        "https://app.example/",
        "https://app.example/path",
        "https://app.example?q",
        "https://user@app.example",
        "https://app example",
        "https://a.example, https://b.example",
        "https://caf\xc3\xa9.example",
        "https://app.example\r\nX: y",
        "1http://app.example",
        "*",
    };
    for (size_t i = 0; i < sizeof bad_origins / sizeof bad_origins[0]; i++)
        cr_assert_eq(lapps_service_add_origin(s, bad_origins[i]), LAPPS_ERR_INVAL, "%s",
                     bad_origins[i]);
    cr_assert_eq(lapps_service_add_origin(s, NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_service_add_origin(NULL, "https://a.example"), LAPPS_ERR_INVAL);
    char long_origin[600] = "https://";
    memset(long_origin + 8, 'a', 504);
    cr_assert_eq(lapps_service_add_origin(s, long_origin), 0); /* 512 bytes */
    long_origin[512] = 'a';
    cr_assert_eq(lapps_service_add_origin(s, long_origin), LAPPS_ERR_INVAL);

    /* Aliases. */
    static const char *const bad_aliases[] = {"", "a b", "a,b", "LAppS\r\nX-A: b", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_aliases / sizeof bad_aliases[0]; i++)
        cr_assert_eq(lapps_service_set_proto_alias(s, bad_aliases[i]), LAPPS_ERR_INVAL, "%zu", i);
    cr_assert_eq(lapps_service_set_proto_alias(NULL, "x"), LAPPS_ERR_INVAL);
    lapps_service_free(s);

    /* 64 origins; a duplicate (any case) is no new one. */
    cr_assert_eq(lapps_service_new(&s, "b", "/b"), 0);
    char o[64];
    for (int i = 0; i < 64; i++) {
        snprintf(o, sizeof o, "https://o%d.example", i);
        cr_assert_eq(lapps_service_add_origin(s, o), 0, "%d", i);
    }
    cr_assert_eq(lapps_service_add_origin(s, "HTTPS://O7.EXAMPLE"), 0);
    cr_assert_eq(lapps_service_add_origin(s, "https://o64.example"), LAPPS_ERR_NOSPACE);

    /* 32 headers. */
    for (int i = 0; i < 32; i++)
        cr_assert_eq(lapps_service_add_header(s, "X-H", "v"), 0, "%d", i);
    cr_assert_eq(lapps_service_add_header(s, "X-H", "v"), LAPPS_ERR_NOSPACE);
    lapps_service_free(s);

    /* The whole 101 within 4 KiB, the alias included. */
    cr_assert_eq(lapps_service_new(&s, "b", "/b"), 0);
    static char big[4096];
    memset(big, 'v', 3800);
    cr_assert_eq(lapps_service_add_header(s, "X-Big", big), 0);
    cr_assert_eq(lapps_service_add_header(s, "X-Big2", big + 3800 - 200), LAPPS_ERR_NOSPACE);
    static char alias[400];
    memset(alias, 'p', 300);
    cr_assert_eq(lapps_service_set_proto_alias(s, alias), LAPPS_ERR_NOSPACE);
    cr_assert_eq(lapps_service_set_proto_alias(s, "LAppS"), 0);
    lapps_service_free(s);
    cr_assert_eq(lapps_service_new(&s, "b", "/b"), 0);
    memset(big, 'v', 4090);
    cr_assert_eq(lapps_service_add_header(s, "X-Big", big), LAPPS_ERR_NOSPACE);
    lapps_service_free(s);
}

/* ---- on registered services ---- */

static const char *
lua_dir(void)
{
    const char *d = getenv("LAPPS_API_LUA");
    cr_assert(d, "LAPPS_API_LUA is not set (run the tests through meson)");
    return d;
}

/* Options set through lapps_server_service() on a C service and on a Lua one
 * (test/api/lua/rawecho.lua, registered as lappsd registers Lua services) take effect;
 * after the start they are refused with LAPPS_ERR_STATE and change nothing. */
Test(service_options, registered_c_and_lua_services, .timeout = 120)
{
    int fds = api_fd_count();
    struct counts counts = {0};
    uint16_t port;
    lapps_server *srv = new_server(2, &port);
    lapps_service *s = c_service("c", "/c", 0, &counts);
    cr_assert_eq(lapps_service_register(srv, s), 0);
    lapps_service_free(s);
    const char *path[] = {lua_dir(), NULL};
    lapps_lua_service d = {
        .size = sizeof d,
        .name = "rawecho",
        .target = "/lua",
        .path = path,
        .protocol = LAPPS_PROTO_RAW,
    };
    char err[256];
    cr_assert_eq(lapps_lua_service_register(srv, &d, err, sizeof err), 0, "%s", err);

    cr_assert_null(lapps_server_service(srv, "nope"));
    cr_assert_null(lapps_server_service(NULL, "c"));
    lapps_service *c = lapps_server_service(srv, "c");
    lapps_service *lua = lapps_server_service(srv, "rawecho");
    cr_assert_not_null(c);
    cr_assert_not_null(lua);
    cr_assert_eq(lapps_service_add_origin(c, "https://c.example"), 0);
    cr_assert_eq(lapps_service_add_header(c, "X-Service", "c"), 0);
    cr_assert_eq(lapps_service_add_header(c, "Upgrade", "x"), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_service_add_origin(lua, "https://lua.example"), 0);
    cr_assert_eq(lapps_service_add_header(lua, "X-Service", "lua"), 0);
    cr_assert_eq(lapps_service_add_header(lua, "X-Bad", "a\r\nX-Injected: 1"), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_service_set_proto_alias(lua, "LAppS"), 0);
    cr_assert_eq(lapps_server_start(srv), 0);

    /* Read by the workers now: no change. */
    cr_assert_eq(lapps_service_add_origin(c, "https://other.example"), LAPPS_ERR_STATE);
    cr_assert_eq(lapps_service_add_header(lua, "X-Late", "1"), LAPPS_ERR_STATE);
    cr_assert_eq(lapps_service_set_proto_alias(lua, NULL), LAPPS_ERR_STATE);
    cr_assert_eq(lapps_service_set_proto_alias(c, "x"), LAPPS_ERR_STATE);

    char p[8];
    snprintf(p, sizeof p, "%u", port);
    char *out = expect_101(p, request("/c", "Origin: https://c.example\r\n"));
    expect_headers(out, OWN_HEADERS "header x-service: c\n");
    free(out);
    expect_403(p, request("/c", "Origin: https://lua.example\r\n"));
    expect_403(p, request("/c", "Origin: https://other.example\r\n"));

    out = expect_101(p, request("/lua", "Origin: https://lua.example\r\n"
                                        "Sec-WebSocket-Protocol: LAppS\r\n"));
    expect_headers(out, OWN_HEADERS "header sec-websocket-protocol: LAppS\n"
                                    "header x-service: lua\n");
    free(out);
    out = expect_101(p, request("/lua", "Origin: https://lua.example\r\n"));
    expect_headers(out, OWN_HEADERS "header x-service: lua\n");
    free(out);
    expect_403(p, request("/lua", ""));
    expect_403(p, request("/lua", "Origin: https://c.example\r\n"
                                  "Sec-WebSocket-Protocol: LAppS\r\n"));
    finish(srv, &counts, 1, fds);
}
