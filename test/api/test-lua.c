/* API tests of the Lua host (include/lapps/lua.h): real Lua services (test/api/lua/)
 * served to real clients (python3-websockets, with python3-cbor2 for the LAppS
 * protocol), on workers and isolated on threads of their own.
 *
 * Services: /raw (rawecho.lua, raw) and /rpc (rpc.lua, LAppS), and with `isolated` the
 * same modules as /raw_iso and /rpc_iso. The server's log lines are kept, so print(),
 * onDisconnect and the tracebacks of failing callbacks can be checked. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lapps/lapps.h>

#include "harness.h"

#define CLIENT_MS 30000

struct lua_server {
    lapps_server *srv;
    char raw[96], rpc[96], raw_iso[96], rpc_iso[96];
};

static const char *
lua_dir(void)
{
    const char *d = getenv("LAPPS_API_LUA");
    cr_assert(d, "LAPPS_API_LUA is not set (run the tests through meson)");
    return d;
}

static int
add(lapps_server *srv, const char *name, const char *target, lapps_protocol proto, int isolated,
    unsigned instances, uint64_t budget, char *err, size_t errlen)
{
    const char *path[] = {lua_dir(), NULL};
    const char *preload[] = {"time", "murmur", "no_such_module", NULL};
    lapps_lua_service d = {
        .size = sizeof d,
        .name = name,
        .target = target,
        .path = path,
        .protocol = proto,
        .instances = instances,
        .isolated = isolated,
        .preload = preload,
        .instruction_budget = budget,
    };
    return lapps_lua_service_register(srv, &d, err, errlen);
}

static lapps_server *
new_server(unsigned workers)
{
    lapps_opts *o;
    lapps_server *srv;
    api_log_clear();
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, workers), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_opts_set_log(o, api_log_keep, LAPPS_LOG_DEBUG, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    return srv;
}

static void
lua_start(struct lua_server *s, unsigned workers, uint64_t budget)
{
    char err[512];
    s->srv = new_server(workers);
    cr_assert_eq(add(s->srv, "rawecho", "/raw", LAPPS_PROTO_RAW, 0, 0, budget, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(add(s->srv, "rpc", "/rpc", LAPPS_PROTO_LAPPS, 0, 0, budget, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(add(s->srv, "rawecho", "/raw_iso", LAPPS_PROTO_RAW, 1, 2, budget, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(add(s->srv, "rpc", "/rpc_iso", LAPPS_PROTO_LAPPS, 1, 2, budget, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(lapps_server_start(s->srv), 0, "start: %s", api_log_text());
    unsigned port = lapps_server_port(s->srv, 0);
    snprintf(s->raw, sizeof s->raw, "ws://127.0.0.1:%u/raw", port);
    snprintf(s->rpc, sizeof s->rpc, "ws://127.0.0.1:%u/rpc", port);
    snprintf(s->raw_iso, sizeof s->raw_iso, "ws://127.0.0.1:%u/raw_iso", port);
    snprintf(s->rpc_iso, sizeof s->rpc_iso, "ws://127.0.0.1:%u/rpc_iso", port);
}

static void
lua_finish(struct lua_server *s)
{
    lapps_server_free(s->srv);
    /* Every state ran onShutdown: 2 workers' /raw and /rpc, and 2 threads of each
     * isolated service. */
    cr_assert_eq(api_log_count("rawecho: onShutdown"), api_log_count("rawecho: onStart"));
    cr_assert_eq(api_log_count("rpc: onShutdown"), api_log_count("rpc: onStart"));
}

/* Runs a client script with up to 14 arguments (NULL-terminated); returns its output. */
static char *
client(const char *script, ...)
{
    const char *x[15] = {0};
    va_list ap;
    va_start(ap, script);
    for (int i = 0; i < 15 && (x[i] = va_arg(ap, const char *)); i++)
        cr_assert_lt(i, 14, "too many client arguments");
    va_end(ap);
    char *out;
    /* The unused trailing NULLs end the list early. */
    int rc = api_python(CLIENT_MS, &out, script, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7],
                        x[8], x[9], x[10], x[11], x[12], x[13], NULL);
    cr_assert_eq(rc, 0, "the client failed (exit %d); its output:\n%s\nthe server's log:\n%s", rc,
                 out, api_log_text());
    return out;
}

#define EXPECT(expect, ...)                                                                        \
    do {                                                                                           \
        char *out_ = client(__VA_ARGS__, NULL);                                                    \
        cr_assert_str_eq(out_, (expect));                                                          \
        free(out_);                                                                                \
    } while (0)

/* ---- raw services ---- */

Test(lua, raw_echo_on_workers_and_isolated, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 2, 0);
    const char *uris[] = {s.raw, s.raw_iso};
    for (int i = 0; i < 2; i++) {
        char *out = client("ws_client.py", "echo", uris[i], NULL);
        API_EXPECT_LINE(out, "ok binary-64k 65536");
        API_EXPECT_LINE(out, "done");
        free(out);
        out = client("ws_client.py", "fragments", uris[i], NULL);
        API_EXPECT_LINE(out, "done");
        free(out);
    }
    lua_finish(&s);
}

Test(lua, raw_callback_errors_close_that_connection_only, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 1, 1000000);
    const char *uris[] = {s.raw, s.raw_iso};
    for (int i = 0; i < 2; i++) {
        const char *u = uris[i];
        EXPECT("close 1011 \n"
               "done\n",
               "lapps_client.py", "send", u, "text:!fail");
        EXPECT("close 1011 \n"
               "done\n",
               "lapps_client.py", "send", u, "text:!false");
        EXPECT("close 1011 \n"
               "done\n",
               "lapps_client.py", "send", u, "text:!loop");
        EXPECT("close 1011 \n"
               "done\n",
               "lapps_client.py", "send", u, "text:!pcall-loop");
        /* The instance goes on. */
        EXPECT("text still here\n"
               "done\n",
               "lapps_client.py", "send", u, "text:still here");
    }
    cr_assert_geq(api_log_count("failing on purpose"), 2);
    cr_assert_geq(api_log_count("stack traceback"), 2, "%s", api_log_text());
    cr_assert_geq(api_log_count("instruction budget of 1000000 exceeded"), 4, "%s", api_log_text());
    cr_assert_geq(api_log_count("returned something else than true"), 2);
    lua_finish(&s);
}

Test(lua, raw_ws_close_and_bad_sends, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 1, 0);
    EXPECT("close 4000 bye\n"
           "done\n",
           "lapps_client.py", "send", s.raw, "text:!close 4000 bye");
    EXPECT("text close: false invalid close code: 1000-1003, 1007-1014 or 3000-4999\n"
           "text close: false invalid close code (1000-1003, 1007-1014 or 3000-4999) or reason "
           "(UTF-8, at most 123 bytes)\n"
           "done\n",
           "lapps_client.py", "send", s.raw, "text:!close 999", "text:!close 1005");
    EXPECT("text false Usage: ws:send(handler, opcode, string): opcode must be 1 (text) or 2 "
           "(binary)\n"
           "false a text message must be valid UTF-8\n"
           "false Usage: ws:send(handler, opcode, string): the message must be a string\n"
           "false ws:send(handler, nljson) is for LAppS services; a raw service sends "
           "ws:send(handler, opcode, string)\n"
           "false Usage: ws:send(handler, ...): the handler must be a connection id\n"
           "false invalid close code (1000-1003, 1007-1014 or 3000-4999) or reason (UTF-8, at "
           "most 123 bytes)\n"
           "false invalid close code: 1000-1003, 1007-1014 or 3000-4999\n"
           "done\n",
           "lapps_client.py", "send", s.raw, "text:!badsend");
    lua_finish(&s);
}

/* The id of a connection as the service sees it, from "!id". */
static char *
id_of_a_closed_connection(const char *uri)
{
    char *out = client("lapps_client.py", "send", uri, "text:!id", NULL);
    cr_assert(strncmp(out, "text ", 5) == 0, "%s", out);
    char *id = strndup(out + 5, strcspn(out + 5, "\n"));
    free(out);
    return id;
}

Test(lua, stale_handlers_are_refused, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 1, 0);
    EXPECT("text false no such connection false no such connection\n"
           "done\n",
           "lapps_client.py", "send", s.raw, "text:!stale");
    char *id = id_of_a_closed_connection(s.raw);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "text:!sendto %s", id);
    cr_assert_eq(api_log_wait("rawecho: onDisconnect", 2, 10000), 2);
    EXPECT("text false no such connection false no such connection\n"
           "done\n",
           "lapps_client.py", "send", s.raw, cmd);
    free(id);
    /* Isolated: by id, from another thread. */
    EXPECT("text false no such connection false no such connection\n"
           "done\n",
           "lapps_client.py", "send", s.raw_iso, "text:!stale");
    lua_finish(&s);
}

Test(lua, print_goes_to_the_log, .timeout = 60)
{
    struct lua_server s;
    lua_start(&s, 1, 0);
    EXPECT("text after\n"
           "done\n",
           "lapps_client.py", "send", s.raw, "0*text:!print", "text:after");
    cr_assert_eq(api_log_count("rawecho: printed\t1\tnil\ttrue"), 1, "%s", api_log_text());
    lua_finish(&s);
}

Test(lua, on_disconnect_once_per_connection_even_after_abrupt_drops, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 2, 0);
    char port[8];
    snprintf(port, sizeof port, "%u", lapps_server_port(s.srv, 0));
    /* 20 connections that drop TCP without a close frame, on each service. */
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", port, "--repeat", "20", "hs:/raw", "http", NULL);
    API_CLIENT_OK(rc, out);
    free(out);
    rc = api_python(CLIENT_MS, &out, "raw.py", port, "--repeat", "20", "hs:/raw_iso", "http", NULL);
    API_CLIENT_OK(rc, out);
    free(out);
    rc = api_python(CLIENT_MS, &out, "raw.py", port, "--repeat", "20", "hs:/rpc", "http", NULL);
    API_CLIENT_OK(rc, out);
    free(out);
    cr_assert_eq(api_log_wait("rawecho: onDisconnect", 40, 10000), 40, "%s", api_log_text());
    cr_assert_eq(api_log_wait("rpc: onDisconnect", 20, 10000), 20, "%s", api_log_text());
    lapps_server_free(s.srv);
    /* Exactly once: no more after the stop either. */
    cr_assert_eq(api_log_count("rawecho: onDisconnect"), 40);
    cr_assert_eq(api_log_count("rpc: onDisconnect"), 20);
}

/* An isolated instance may block: here it waits for a file that only appears after the
 * worker has served another client, so if the block reached the worker, the file would
 * come too late and the isolated service would answer "gave up". */
Test(lua, a_blocking_isolated_service_does_not_block_the_worker, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 1, 0);
    char flag[] = "/tmp/lapps-flag-XXXXXX", cmd[96];
    int fd = mkstemp(flag);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(flag);
    snprintf(cmd, sizeof cmd, "text:!waitfile %s", flag);
    struct api_proc blocked;
    api_python_spawn(&blocked, "lapps_client.py", "send", s.raw_iso, cmd, NULL);
    cr_assert_eq(api_log_wait("rawecho: waiting", 1, 20000), 1, "%s", api_log_text());
    EXPECT("text served\n"
           "done\n",
           "lapps_client.py", "send", s.raw, "text:served");
    FILE *f = fopen(flag, "w");
    cr_assert(f);
    fclose(f);
    cr_assert_eq(api_proc_wait(&blocked, CLIENT_MS), 0, "%s", blocked.out);
    cr_assert_str_eq(blocked.out, "text released\ndone\n");
    api_proc_free(&blocked);
    unlink(flag);
    lua_finish(&s);
}

/* ---- LAppS services ---- */

static void
requests_and_notifications(const char *uri)
{
    EXPECT("{\"cid\":0,\"result\":[1,\"two\",3.5,true,null,\"hex:00ff\",[],{\"k\":-5}],"
           "\"status\":1}\n"
           "{\"cid\":0,\"result\":[18446744073709551615,-9223372036854775808],\"status\":1}\n"
           "{\"cid\":0,\"result\":[],\"status\":1}\n"
           "{\"cid\":7,\"message\":[\"tick\"]}\n"
           "{\"cid\":0,\"result\":[],\"status\":1}\n"
           "{\"cid\":3,\"error\":{\"code\":42,\"message\":\"bad\"},\"status\":0}\n"
           "{\"cid\":0,\"result\":[],\"status\":1}\n"
           "{\"cid\":0,\"result\":[4,4,3,1,2,4,4,4],\"status\":1}\n"
           "{\"cid\":0,\"error\":{\"code\":-32601,\"message\":\"no such method\"},\"status\":0}\n"
           "done\n",
           "lapps_client.py", "send", uri,
           "cbor:{'lapps': 1, 'method': 'echo', 'params': [1, 'two', 3.5, True, None, "
           "b'\\x00\\xff', [], {'k': -5}]}",
           "cbor:{'lapps': 1, 'method': 'echo', 'params': [18446744073709551615, "
           "-9223372036854775808]}",
           "cbor:{'lapps': 1, 'method': 'echo'}", "cn:{'lapps': 1, 'method': 'log', 'cid': 3}",
           "cn:{'lapps': 1, 'method': 'log', 'cid': 3, 'params': [1]}",
           "2*cbor:{'lapps': 1, 'method': 'notify', 'params': [7, 'tick']}",
           "2*cbor:{'lapps': 1, 'method': 'notify_error', 'params': [3, 42, 'bad']}",
           "cbor:{'lapps': 1, 'method': 'types', 'params': []}",
           "cbor:{'lapps': 1, 'method': 'nope'}");
}

Test(lua, lapps_requests_and_notifications, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 1, 0);
    requests_and_notifications(s.rpc);
    requests_and_notifications(s.rpc_iso);
    lua_finish(&s);
}

static void
error_paths(const char *uri)
{
    EXPECT("{\"cid\":0,\"error\":{\"code\":-32603,\"message\":\"internal error: the service "
           "failed\"},\"status\":0}\n"
           "{\"cid\":0,\"result\":[\"answered\"],\"status\":1}\n"
           "{\"cid\":0,\"error\":{\"code\":-32603,\"message\":\"internal error: the service "
           "failed\"},\"status\":0}\n"
           "{\"cid\":0,\"result\":[\"first\"],\"status\":1}\n"
           "{\"cid\":0,\"result\":[\"second\"],\"status\":1}\n"
           "{\"cid\":0,\"result\":[\"one\"],\"status\":1}\n"
           "{\"cid\":9,\"message\":[false,\"no request to answer: every request on this "
           "connection has its response\"]}\n"
           "{\"cid\":0,\"result\":[\"false no such connection\",\"false no such connection\"],"
           "\"status\":1}\n"
           "{\"cid\":0,\"result\":[\"after\"],\"status\":1}\n"
           "close 1011 \n"
           "done\n",
           "lapps_client.py", "send", uri, "cbor:{'lapps': 1, 'method': 'fail'}",
           "cbor:{'lapps': 1, 'method': 'answer_then_fail'}", "cbor:{'lapps': 1, 'method': 'loop'}",
           "0*cbor:{'lapps': 1, 'method': 'hold'}", "2*cbor:{'lapps': 1, 'method': 'release'}",
           "2*cbor:{'lapps': 1, 'method': 'twice'}", "cbor:{'lapps': 1, 'method': 'stale'}",
           "cbor:{'lapps': 1, 'method': 'echo', 'params': ['after']}",
           "cbor:{'lapps': 1, 'method': 'false'}");
    EXPECT("{\"cid\":0,\"result\":[\"false a LAppS message is an object\","
           "\"false a LAppS message needs \\\"cid\\\", a non-negative integer\","
           "\"false a LAppS message needs \\\"cid\\\", a non-negative integer\","
           "\"false a LAppS message needs \\\"status\\\", 0 or 1\","
           "\"false a response (cid 0, status 1) needs \\\"result\\\", an array\","
           "\"false a response (cid 0, status 1) needs \\\"result\\\", an array\","
           "\"false a notification (cid > 0, status 1) needs \\\"message\\\", an array\","
           "\"false an error (status 0) needs \\\"error\\\", an object\","
           "\"false an error needs \\\"error.code\\\", an integer\","
           "\"false an error needs \\\"error.message\\\", a string\","
           "\"false ws:send(handler, opcode, string) is for raw services; a LAppS service sends "
           "an nljson message\","
           "\"false Usage: ws:send(handler, nljson): the message must be an nljson value\"],"
           "\"status\":1}\n"
           "done\n",
           "lapps_client.py", "send", uri, "cbor:{'lapps': 1, 'method': 'invalid'}");
}

Test(lua, lapps_error_paths, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 1, 1000000);
    error_paths(s.rpc);
    error_paths(s.rpc_iso);
    cr_assert_geq(api_log_count("instruction budget of 1000000 exceeded"), 2, "%s", api_log_text());
    lua_finish(&s);
}

/* An instance keeps at most 65 536 requests unanswered; the connection whose request
 * goes past that is closed with 1008 (its answer would wait behind the others). */
Test(lua, unanswered_requests_are_bounded, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 1, 0);
    EXPECT("close 1008 too many unanswered requests\n"
           "done\n",
           "lapps_client.py", "unanswered", s.rpc, "65537");
    lua_finish(&s);
}

Test(lua, thousand_pipelined_requests_in_order, .timeout = 120)
{
    struct lua_server s;
    lua_start(&s, 2, 0);
    EXPECT("ordered 1000\ndone\n", "lapps_client.py", "pipeline", s.rpc, "1000");
    EXPECT("ordered 1000\ndone\n", "lapps_client.py", "pipeline", s.rpc_iso, "1000");
    lua_finish(&s);
}

Test(lua, every_nljson_function_through_a_service, .timeout = 60)
{
    struct lua_server s;
    lua_start(&s, 1, 0);
    EXPECT(
        "{\"cid\":0,\"result\":["
        "\"{\\\"a\\\":[1,2,{\\\"b\\\":\\\"c\\\"}],\\\"n\\\":null,\\\"t\\\":true,\\\"f\\\":1.5}\","
        "\"object array boolean\","
        "\"c\","
        "\"{\\\"a\\\":[1,2,{\\\"b\\\":\\\"d\\\"}],\\\"n\\\":null,\\\"t\\\":true,\\\"f\\\":1.5,"
        "\\\"x\\\":[1,2,3],\\\"y\\\":{\\\"k\\\":\\\"v\\\"}}\","
        "\"true true false\","
        "\"{\\\"a\\\":[2,{\\\"b\\\":\\\"d\\\"}],\\\"t\\\":true,\\\"f\\\":1.5,"
        "\\\"x\\\":[1,2,3],\\\"y\\\":{\\\"k\\\":\\\"v\\\"}}\","
        "\"false true\","
        "\"true nil\","
        "\"a,t,f,x,y\","
        "\"1=10,2=20,p=[10,20],r=1,q={\\\"r\\\":1}\","
        "\"cbor round trip\","
        "\"{\\n  \\\"k\\\": [\\n    1\\n  ]\\n}\","
        "\"{\\\"from\\\":\\\"file\\\"}\","
        "\"false line 1\"],\"status\":1}\n"
        "done\n",
        "lapps_client.py", "send", s.rpc, "cbor:{'lapps': 1, 'method': 'nljson'}");
    lua_finish(&s);
}

/* ---- registration ---- */

Test(lua, broken_modules_fail_registration_with_the_reason)
{
    char err[512];
    lapps_server *srv = new_server(1);
    cr_assert_eq(add(srv, "broken_missing", "/a", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err),
                 LAPPS_ERR_INVAL);
    cr_assert_str_eq(err, "service broken_missing: the module has no function onDisconnect (it "
                          "needs onStart, onMessage, onDisconnect and onShutdown)");
    cr_assert_eq(add(srv, "broken_syntax", "/b", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err),
                 LAPPS_ERR_INVAL);
    cr_assert(strstr(err, "broken_syntax.lua:3:"), "%s", err);
    cr_assert_eq(add(srv, "broken_raises", "/c", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err),
                 LAPPS_ERR_INVAL);
    cr_assert(strstr(err, "this module refuses to load"), "%s", err);
    cr_assert_eq(add(srv, "no_such_service", "/d", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err),
                 LAPPS_ERR_INVAL);
    cr_assert(strstr(err, "module 'no_such_service' not found"), "%s", err);
    cr_assert_eq(add(srv, "bad-name", "/e", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err),
                 LAPPS_ERR_INVAL);
    cr_assert_eq(add(srv, "rawecho", "no-slash", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err),
                 LAPPS_ERR_INVAL);
    cr_assert_eq(add(srv, "rawecho", "/raw", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err), 0);
    cr_assert_eq(add(srv, "rpc", "/raw", LAPPS_PROTO_LAPPS, 0, 0, 0, err, sizeof err),
                 LAPPS_ERR_INVAL, "a taken target");
    cr_assert(strstr(err, "target"), "%s", err);
    cr_assert_geq(api_log_count("preload \"no_such_module\": no such module here, ignored"), 1);
    lapps_server_free(srv);
}

Test(lua, a_failing_on_start_fails_the_server_start)
{
    char err[512];
    for (int isolated = 0; isolated < 2; isolated++) {
        lapps_server *srv = new_server(2);
        cr_assert_eq(add(srv, "rawecho", "/raw", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err), 0);
        cr_assert_eq(
            add(srv, "broken_onstart", "/x", LAPPS_PROTO_RAW, isolated, 0, 0, err, sizeof err), 0,
            "%s", err);
        cr_assert_neq(lapps_server_start(srv), 0);
        cr_assert_geq(api_log_count("onStart refuses"), 1, "%s", api_log_text());
        lapps_server_free(srv);
        cr_assert_eq(api_log_count("rawecho: onShutdown"), api_log_count("rawecho: onStart"));
    }
}

/* ---- standalone services ---- */

Test(lua, standalone_services_run_until_the_server_stops, .timeout = 60)
{
    char err[512];
    const char *path[] = {lua_dir(), NULL};
    lapps_server *srv = new_server(1);
    const char *preload[] = {"nap", NULL};
    lapps_lua_service d = {.size = sizeof d,
                           .name = "ticker",
                           .path = path,
                           .preload = preload,
                           .instances = 2,
                           .standalone = 1};
    cr_assert_eq(lapps_lua_service_register(srv, &d, err, sizeof err), 0, "%s", err);
    d.name = "broken_standalone";
    cr_assert_eq(lapps_lua_service_register(srv, &d, err, sizeof err), LAPPS_ERR_INVAL);
    cr_assert_str_eq(err, "service broken_standalone: the module has no function run (it "
                          "needs init and run)");
    cr_assert_eq(lapps_server_start(srv), 0);
    cr_assert_eq(api_log_wait("ticker: run ", 2, 20000), 2, "%s", api_log_text());
    cr_assert_eq(api_log_count("ticker: init 0 string"), 1, "%s", api_log_text());
    cr_assert_eq(api_log_count("ticker: init 1 string"), 1, "%s", api_log_text());
    cr_assert_eq(api_log_count("ticker: run ends"), 0);
    lapps_server_free(srv); /* within the close timeout, or "left running" is logged */
    cr_assert_eq(api_log_count("left running"), 0, "%s", api_log_text());
    cr_assert_eq(api_log_count("ticker: run ends 0"), 1, "%s", api_log_text());
    cr_assert_eq(api_log_count("ticker: run ends 1"), 1, "%s", api_log_text());
}

/* ---- broadcasts ---- */

/* The room service on workers and isolated (its threads subscribe and send from off the
 * workers, through the inboxes): one channel reaches both; unsubscribe takes effect;
 * bad calls answer false and a reason. */
Test(lua, bcast_reaches_workers_and_isolated_subscribers, .timeout = 60)
{
    char err[512], a[96], b[96];
    lapps_server *srv = new_server(2);
    cr_assert_eq(add(srv, "room", "/room", LAPPS_PROTO_RAW, 0, 0, 0, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(add(srv, "room", "/room_iso", LAPPS_PROTO_RAW, 1, 2, 0, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(lapps_server_start(srv), 0, "start: %s", api_log_text());
    snprintf(a, sizeof a, "ws://127.0.0.1:%u/room", lapps_server_port(srv, 0));
    snprintf(b, sizeof b, "ws://127.0.0.1:%u/room_iso", lapps_server_port(srv, 0));
    char *out = client("room_client.py", a, b, NULL);
    cr_assert_str_eq(out, "a1 sub true\na2 sub true\na3 sub true\n"
                          "b1 sub true\nb2 sub true\nb3 sub true\n"
                          "a1 said true\n"
                          "a1 hello\na2 hello\na3 hello\nb1 hello\nb2 hello\nb3 hello\n"
                          "b1 unsub true\n"
                          "a1 said true\n"
                          "a1 again\na2 again\na3 again\nb1 (nothing)\nb2 again\nb3 again\n"
                          "done\n");
    free(out);
    /* 2 workers' and 2 threads' onStart each printed the same answers. */
    cr_assert_eq(api_log_count("room: create true"), 4, "%s", api_log_text());
    cr_assert_eq(api_log_count("room: bad create false Usage: bcast:create(id): the channel id "
                               "must be a non-negative integer"),
                 8, "%s", api_log_text());
    cr_assert_eq(api_log_count("room: bad subscribe false no such channel (bcast:create it first) "
                               "or connection"),
                 4, "%s", api_log_text());
    cr_assert_eq(api_log_count("room: bad subscribe false the handler must be a connection id"), 4);
    cr_assert_eq(api_log_count("room: bad send false no such channel"), 4);
    cr_assert_eq(
        api_log_count("room: bad send false Usage: bcast:send(id, opcode, string): opcode 1 "
                      "(text) or 2 (binary), and a string"),
        4);
    cr_assert_eq(api_log_count("room: bad send false a text message must be valid UTF-8"), 4);
    cr_assert_eq(
        api_log_count("room: bad send false a broadcast needs \"cid\", a positive integer"), 4);
    cr_assert_eq(api_log_count("room: bad send false a broadcast is a notification: \"status\", if "
                               "present, is 1"),
                 4);
    cr_assert_eq(api_log_count("room: bad send false a broadcast needs \"message\", an array"), 4);
    cr_assert_eq(
        api_log_count("room: bad send false Usage: bcast:send(id, nljson): the message must "
                      "be an nljson object"),
        4, "%s", api_log_text());
    cr_assert_eq(api_log_count("room: good send true"), 4, "%s", api_log_text());
    lapps_server_free(srv);
}

/* ---- lappsd with the examples ---- */

/* lappsd -c DIR, where DIR holds a ws.json with a free port and a copy of
 * examples/lua/lapps.json, and LAPPS_HOME=examples/lua finds the apps. */
Test(lua, lappsd_serves_the_lua_examples, .timeout = 120)
{
    const char *lappsd = getenv("LAPPS_LAPPSD"), *examples = getenv("LAPPS_EXAMPLES_LUA");
    cr_assert(lappsd && examples, "run through meson");
    char dir[] = "/tmp/lapps-lua-XXXXXX", path[256], cmd[1024], line[96], uri[96];
    cr_assert(mkdtemp(dir));
    uint16_t port = api_free_port();
    snprintf(path, sizeof path, "%s/ws.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "{\"ip\": \"127.0.0.1\", \"port\": %u, \"workers\": {\"workers\": 2}}\n", port);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cp '%s/lapps.json' '%s/'", examples, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "LAPPS_HOME='%s' exec '%s' -c '%s' 2>&1", examples, lappsd, dir);
    char sh[] = "/bin/sh", c[] = "-c";
    char *argv[] = {sh, c, cmd, NULL};
    struct api_proc srv;
    api_spawn(&srv, argv);
    snprintf(line, sizeof line, "ws://127.0.0.1:%u", port);
    for (int t = 0; t < 200 && !strstr(srv.out ? srv.out : "", line); t++)
        api_proc_read(&srv, 100);
    cr_assert(srv.out && strstr(srv.out, line), "lappsd did not start:\n%s", srv.out);
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/echo", port);
    char *out = client("ws_client.py", "echo", uri, NULL);
    API_EXPECT_LINE(out, "done");
    free(out);
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/echo_lapps", port);
    out = client("echo_lapps_client.py", uri, NULL);
    cr_assert_str_eq(
        out,
        "{\"cid\": 0, \"error\": {\"code\": -32000, \"message\": \"not logged in: call login "
        "first\"}, \"status\": 0}\n"
        "{\"cid\": 0, \"error\": {\"code\": 10, \"message\": \"authentication failed\"}, "
        "\"status\": 0}\n"
        "close 1000\n"
        "{\"cid\": 0, \"result\": [{\"authkey\": KEY}], \"status\": 1}\n"
        "key is an integer: True\n"
        "{\"cid\": 0, \"result\": [\"a\", 1, \"hex:00ff\", {\"k\": [true, null]}], \"status\": 1}\n"
        "{\"cid\": 0, \"error\": {\"code\": -32000, \"message\": \"not logged in: call login "
        "first\"}, \"status\": 0}\n"
        "{\"cid\": 0, \"error\": {\"code\": -32601, \"message\": \"no such method\"}, "
        "\"status\": 0}\n"
        "close 1000\n"
        "done\n");
    free(out);
    /* The broadcast examples: the time feed (a standalone service) through echo_lapps's
     * subscribe, and the chat room. */
    snprintf(uri, sizeof uri, "127.0.0.1:%u", port);
    out = client("feeds_client.py", uri, NULL);
    cr_assert_str_eq(
        out, "time feed ok\n"
             "time feed ok\n"
             "no key: close 1008\n"
             "ann: {\"cid\": 0, \"result\": [\"joined\", [\"ann\"]], \"status\": 1}\n"
             "ann: {\"cid\": 6, \"message\": [\"joined\", \"ann\"]}\n"
             "bob: {\"cid\": 0, \"result\": [\"joined\", [\"ann\", \"bob\"]], \"status\": 1}\n"
             "bob: {\"cid\": 6, \"message\": [\"joined\", \"bob\"]}\n"
             "ann: {\"cid\": 6, \"message\": [\"joined\", \"bob\"]}\n"
             "bob: {\"cid\": 0, \"error\": {\"code\": 1, \"message\": \"already joined as bob\"}, "
             "\"status\": 0}\n"
             "ann: {\"cid\": 0, \"result\": [\"said\"], \"status\": 1}\n"
             "ann: {\"cid\": 6, \"message\": [\"said\", \"ann\", \"hello\"]}\n"
             "bob: {\"cid\": 6, \"message\": [\"said\", \"ann\", \"hello\"]}\n"
             "bob: {\"cid\": 0, \"result\": [\"ann\", \"bob\"], \"status\": 1}\n"
             "ann: {\"cid\": 6, \"message\": [\"left\", \"bob\"]}\n"
             "ann: {\"cid\": 0, \"result\": [\"ann\"], \"status\": 1}\n"
             "done\n");
    free(out);
    int rc = api_proc_kill(&srv, SIGTERM, 20000);
    cr_assert_eq(rc, 0, "lappsd must exit 0 after SIGTERM (got %d):\n%s", rc, srv.out);
    cr_assert(strstr(srv.out, "echo: stopped"), "%s", srv.out);
    api_proc_free(&srv);
    snprintf(cmd, sizeof cmd, "rm -r '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
