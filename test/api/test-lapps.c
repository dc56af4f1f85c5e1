/* API tests of the LAppS protocol (include/lapps/protocol.h) over loopback, with an
 * independent CBOR encoder (python3-cbor2) on a real WebSocket client: requests and
 * client notifications, server notifications, every error path with its exact answer,
 * a bad message followed by good ones, 1000 pipelined requests answered in order,
 * deferred responses (answered from another thread) still in request order, and a
 * deferred response whose connection closed first.
 *
 * The service here (/rpc) is written against the public API only:
 *   echo [..]        → result = params
 *   later [ms, x]    → [x] from another thread after ms milliseconds
 *   notify [cid, x]  → [] then the notification {cid, message: [x]}
 *   fail [code, msg, data] → that error
 *   silent           → returns without answering
 *   forget           → deferred and never answered; on_close cancels it
 *   twice            → answers twice (the second answer must fail)
 *   notify_error [cid, code, msg] → [] then {cid, error: {code, message}, status: 0}
 *   notify_id [cid, x] → [] then, from another thread by connection id, {cid, message: [x]} */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapps/lapps.h>

#include "harness.h"

#define CLIENT_MS 60000

struct rpc_state {
    atomic_int cns;            /* client notifications received */
    atomic_int late_ok;        /* deferred answers accepted */
    atomic_int late_not_found; /* deferred answers refused: the connection was gone */
    atomic_int late_other;     /* deferred answers refused otherwise */
    atomic_int twice_state;    /* second answers refused with LAPPS_ERR_STATE */
    atomic_int closes;
    atomic_int threads_running;
    atomic_int cancelled;     /* deferred handles given up in on_close */
    lapps_request *forgotten; /* "forget": deferred on the worker, cancelled in on_close */
    char last_cn[64];
};

static struct rpc_state st;
static lapps_server *the_server; /* for lapps_notify_id from another thread */

struct by_id {
    uint64_t conn_id, cid;
    lapps_value *msg;
};

static void *
notify_thread(void *arg)
{
    struct by_id *b = arg;
    int rv = lapps_notify_id(the_server, b->conn_id, b->cid, b->msg);
    if (rv != 0)
        atomic_fetch_add(&st.late_other, 1);
    cr_assert_eq(lapps_notify_id(the_server, b->conn_id ^ 1, b->cid, b->msg), LAPPS_ERR_NOT_FOUND,
                 "a stale id is refused");
    lapps_value_free(b->msg);
    free(b);
    atomic_fetch_sub(&st.threads_running, 1);
    return NULL;
}

struct late {
    lapps_request *h;
    int64_t ms;
    lapps_value *x;
};

static void *
late_thread(void *arg)
{
    struct late *l = arg;
    api_sleep_ms((int)l->ms);
    lapps_value *r = lapps_value_build("[o]", l->x);
    int rv = lapps_reply_result(l->h, r);
    if (rv == 0)
        atomic_fetch_add(&st.late_ok, 1);
    else if (rv == LAPPS_ERR_NOT_FOUND)
        atomic_fetch_add(&st.late_not_found, 1);
    else
        atomic_fetch_add(&st.late_other, 1);
    lapps_value_free(r);
    free(l);
    atomic_fetch_sub(&st.threads_running, 1);
    return NULL;
}

static void
on_request(lapps_conn *conn, lapps_request *req, void *ud)
{
    (void)ud;
    const char *m = lapps_request_method(req);
    const lapps_value *params = lapps_request_params(req);
    if (lapps_request_cid(req)) {
        snprintf(st.last_cn, sizeof st.last_cn, "%s %llu %zu", m,
                 (unsigned long long)lapps_request_cid(req), lapps_value_size(params));
        atomic_fetch_add(&st.cns, 1);
        cr_assert_eq(lapps_reply_result(req, NULL), LAPPS_ERR_INVAL, "a CN cannot be answered");
        cr_assert_null(lapps_request_defer(req));
        return;
    }
    if (strcmp(m, "echo") == 0) {
        cr_assert_eq(lapps_reply_result(req, params), 0);
    } else if (strcmp(m, "later") == 0) {
        struct late *l = malloc(sizeof *l);
        int64_t ms = 0;
        lapps_value_get_int(lapps_value_at(params, 0), &ms);
        *l = (struct late){lapps_request_defer(req), ms,
                           lapps_value_copy(lapps_value_at(params, 1))};
        cr_assert_not_null(l->h);
        cr_assert_null(lapps_request_defer(req), "deferred once only");
        cr_assert_eq(lapps_reply_result(req, NULL), LAPPS_ERR_STATE, "the stack request is spent");
        pthread_t t;
        atomic_fetch_add(&st.threads_running, 1);
        cr_assert_eq(pthread_create(&t, NULL, late_thread, l), 0);
        pthread_detach(t);
    } else if (strcmp(m, "notify") == 0) {
        uint64_t cid = 0;
        lapps_value_get_uint(lapps_value_at(params, 0), &cid);
        cr_assert_eq(lapps_reply_result(req, NULL), 0);
        lapps_value *msg = lapps_value_build("[O]", lapps_value_at(params, 1));
        cr_assert_eq(lapps_notify(conn, cid, msg), 0);
        cr_assert_eq(lapps_notify(conn, 0, msg), LAPPS_ERR_INVAL, "channel 0 is for responses");
        lapps_value_free(msg);
    } else if (strcmp(m, "fail") == 0) {
        int64_t code = 0;
        lapps_value_get_int(lapps_value_at(params, 0), &code);
        size_t n;
        const uint8_t *text = lapps_value_get_bytes(lapps_value_at(params, 1), &n);
        char msg[64];
        snprintf(msg, sizeof msg, "%.*s", (int)n, (const char *)text);
        cr_assert_eq(lapps_reply_error(req, code, msg, lapps_value_at(params, 2)), 0);
    } else if (strcmp(m, "notify_error") == 0) {
        uint64_t cid = 0;
        int64_t code = 0;
        lapps_value_get_uint(lapps_value_at(params, 0), &cid);
        lapps_value_get_int(lapps_value_at(params, 1), &code);
        size_t n;
        const uint8_t *text = lapps_value_get_bytes(lapps_value_at(params, 2), &n);
        char msg[64];
        snprintf(msg, sizeof msg, "%.*s", (int)n, (const char *)text);
        cr_assert_eq(lapps_reply_result(req, NULL), 0);
        cr_assert_eq(lapps_notify_error(conn, cid, code, msg, NULL), 0);
        cr_assert_eq(lapps_notify_error(conn, cid, code, "\xff", NULL), LAPPS_ERR_INVAL);
    } else if (strcmp(m, "notify_id") == 0) {
        struct by_id *b = malloc(sizeof *b);
        b->conn_id = lapps_conn_id(conn);
        lapps_value_get_uint(lapps_value_at(params, 0), &b->cid);
        b->msg = lapps_value_build("[O]", lapps_value_at(params, 1));
        cr_assert_eq(lapps_reply_result(req, NULL), 0);
        pthread_t t;
        atomic_fetch_add(&st.threads_running, 1);
        cr_assert_eq(pthread_create(&t, NULL, notify_thread, b), 0);
        pthread_detach(t);
    } else if (strcmp(m, "twice") == 0) {
        cr_assert_eq(lapps_reply_result(req, NULL), 0);
        if (lapps_reply_result(req, NULL) == LAPPS_ERR_STATE)
            atomic_fetch_add(&st.twice_state, 1);
    } else if (strcmp(m, "forget") == 0) {
        /* Deferred, never answered: on_close gives it up with lapps_request_cancel(). */
        cr_assert_eq(lapps_request_cancel(req), LAPPS_ERR_INVAL, "not a deferred handle");
        st.forgotten = lapps_request_defer(req);
        cr_assert_not_null(st.forgotten);
        cr_assert_eq(lapps_request_cancel(NULL), LAPPS_ERR_INVAL);
    } else if (strcmp(m, "silent") == 0) {
        /* no answer: liblapps answers -32603 */
    } else {
        cr_assert_eq(lapps_reply_error(req, -32601, "method not found", NULL), 0);
    }
}

static void
on_close(lapps_conn *conn, const lapps_close_info *info, void *ud)
{
    (void)conn;
    (void)info;
    (void)ud;
    if (st.forgotten) {
        cr_assert_eq(lapps_request_cancel(st.forgotten), 0);
        st.forgotten = NULL;
        atomic_fetch_add(&st.cancelled, 1);
    }
    atomic_fetch_add(&st.closes, 1);
}

struct rpc_server {
    lapps_server *srv;
    char uri[64];
};

static void
rpc_start(struct rpc_server *r, unsigned workers)
{
    memset(&st, 0, sizeof st);
    lapps_opts *o;
    lapps_service *svc;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, workers), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_server_new(&r->srv, o), 0);
    lapps_opts_free(o);
    cr_assert_eq(lapps_service_new(&svc, "rpc", "/rpc"), 0);
    cr_assert_eq(lapps_service_set_protocol(svc, LAPPS_PROTO_LAPPS), 0);
    cr_assert_eq(lapps_service_set_on_request(svc, on_request), 0);
    cr_assert_eq(lapps_service_set_callbacks(svc, NULL, NULL, NULL, NULL, on_close, NULL), 0);
    cr_assert_eq(lapps_service_register(r->srv, svc), 0);
    lapps_service_free(svc);
    the_server = r->srv;
    cr_assert_eq(lapps_server_start(r->srv), 0);
    snprintf(r->uri, sizeof r->uri, "ws://127.0.0.1:%u/rpc", lapps_server_port(r->srv, 0));
}

static void
rpc_finish(struct rpc_server *r)
{
    for (int i = 0; i < 500 && atomic_load(&st.threads_running) > 0; i++)
        api_sleep_ms(10);
    cr_assert_eq(atomic_load(&st.threads_running), 0, "a deferred answer never came back");
    lapps_server_free(r->srv);
}

/* Runs lapps_client.py MODE URI ARGS... (at most 12 arguments, NULL-terminated) and
 * checks its whole output against @p expect. */
static void
expect_client(const char *expect, const char *mode, const char *uri, ...)
{
    const char *x[13] = {0};
    va_list ap;
    va_start(ap, uri);
    for (int i = 0; i < 13 && (x[i] = va_arg(ap, const char *)); i++)
        cr_assert_lt(i, 12, "too many client arguments");
    va_end(ap);
    char *out;
    /* The unused trailing NULLs end the list early. */
    int rc = api_python(CLIENT_MS, &out, "lapps_client.py", mode, uri, x[0], x[1], x[2], x[3], x[4],
                        x[5], x[6], x[7], x[8], x[9], x[10], x[11], NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_str_eq(out, expect);
    free(out);
}

Test(lapps, requests_notifications_and_channels, .timeout = 60)
{
    struct rpc_server r;
    rpc_start(&r, 2);
    expect_client(
        "{\"cid\":0,\"result\":[1,\"two\",3.5,true,null,\"hex:00ff\",[],{\"k\":-5}],\"status\":1}\n"
        "{\"cid\":0,\"result\":[],\"status\":1}\n"
        "{\"cid\":0,\"result\":[],\"status\":1}\n"
        "{\"cid\":0,\"result\":[],\"status\":1}\n"
        "{\"cid\":7,\"message\":[\"tick\"]}\n"
        "{\"cid\":0,\"error\":{\"code\":42,\"data\":{\"why\":1},\"message\":\"custom\"},"
        "\"status\":0}\n"
        "{\"cid\":0,\"result\":[18446744073709551615,-18446744073709551616],\"status\":1}\n"
        "done\n",
        "send", r.uri,
        "cbor:{'lapps': 1, 'method': 'echo', 'params': [1, 'two', 3.5, True, None, b'\\x00\\xff', "
        "[], {'k': -5}]}",
        "cbor:{'lapps': 1, 'method': 'echo', 'params': []}", "cbor:{'lapps': 1, 'method': 'echo'}",
        "cn:{'lapps': 1, 'method': 'log', 'cid': 3, "
        "'params': [1, 2]}",
        "2*cbor:{'lapps': 1, 'method': 'notify', 'params': [7, 'tick']}",
        "cbor:{'lapps': 1, 'method': 'fail', 'params': [42, 'custom', {'why': 1}]}",
        "cbor:{'lapps': 1, 'method': 'echo', 'params': [18446744073709551615, "
        "-18446744073709551616]}",
        NULL);
    cr_assert_eq(atomic_load(&st.cns), 1);
    cr_assert_str_eq(st.last_cn, "log 3 2");
    rpc_finish(&r);
}

/* Every bad input gets its defined answer, and the connection goes on: each bad message
 * is followed by a good one that is answered. */
Test(lapps, bad_messages_are_answered_and_the_connection_goes_on, .timeout = 60)
{
    struct rpc_server r;
    rpc_start(&r, 1);
    const char *good = "cbor:{'lapps': 1, 'method': 'echo', 'params': ['ok']}";
    const char *ok = "{\"cid\":0,\"result\":[\"ok\"],\"status\":1}\n";
    static const struct {
        const char *msg, *answer;
    } bad[] = {
        {"ff", "{\"cid\":0,\"error\":{\"code\":-32700,\"message\":\"parse error: not well-formed "
               "CBOR\"},\"status\":0}\n"},
        /* 5 bytes declaring 2^27 items: refused before any allocation */
        {"9a08000000", "{\"cid\":0,\"error\":{\"code\":-32700,\"message\":\"parse error: not "
                       "well-formed CBOR\"},\"status\":0}\n"},
        {"c11a514b67b0", "{\"cid\":0,\"error\":{\"code\":-32600,\"message\":\"invalid request: "
                         "CBOR tags and undefined are not accepted\"},\"status\":0}\n"},
        {"cbor:[1, 2]", "{\"cid\":0,\"error\":{\"code\":-32600,\"message\":\"invalid request: a "
                        "request is a map\"},\"status\":0}\n"},
        {"cbor:{'lapps': 2, 'method': 'echo'}",
         "{\"cid\":0,\"error\":{\"code\":-32600,\"message\":\"invalid request: lapps must be "
         "1\"},\"status\":0}\n"},
        {"cbor:{'lapps': 1, 'method': 'a.b'}",
         "{\"cid\":0,\"error\":{\"code\":-32600,\"message\":\"invalid request: method must not "
         "contain '.' or NUL, nor start with '_'\"},\"status\":0}\n"},
        {"cbor:{'lapps': 1, 'method': 'echo', 'params': {}}",
         "{\"cid\":0,\"error\":{\"code\":-32600,\"message\":\"invalid request: params must be an "
         "array\"},\"status\":0}\n"},
        {"cbor:{'lapps': 1, 'method': 'echo', 'cid': 0}",
         "{\"cid\":0,\"error\":{\"code\":-32600,\"message\":\"invalid request: cid must be a "
         "positive integer (a client notification's channel)\"},\"status\":0}\n"},
        {"cbor:{'lapps': 1, 'method': 'nosuch'}",
         "{\"cid\":0,\"error\":{\"code\":-32601,\"message\":\"method not found\"},\"status\":0}\n"},
        {"cbor:{'lapps': 1, 'method': 'silent'}",
         "{\"cid\":0,\"error\":{\"code\":-32603,\"message\":\"internal error: the service did not "
         "answer\"},\"status\":0}\n"},
        {"cbor:{'lapps': 1, 'method': 'twice'}", "{\"cid\":0,\"result\":[],\"status\":1}\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char expect[1024];
        snprintf(expect, sizeof expect, "%s%sdone\n", bad[i].answer, ok);
        expect_client(expect, "send", r.uri, bad[i].msg, good, NULL);
    }
    cr_assert_eq(atomic_load(&st.twice_state), 1);
    rpc_finish(&r);
}

/* A text message on a LAppS service is a protocol error: close 1003. */
/* Notifications on channels: an error on a channel (lapps_notify_error) and a message
 * sent by connection id from another thread (lapps_notify_id). */
Test(lapps, channel_errors_and_notifications_by_id, .timeout = 60)
{
    struct rpc_server r;
    rpc_start(&r, 2);
    expect_client("{\"cid\":0,\"result\":[],\"status\":1}\n"
                  "{\"cid\":9,\"error\":{\"code\":-32000,\"message\":\"feed down\"},"
                  "\"status\":0}\n"
                  "{\"cid\":0,\"result\":[],\"status\":1}\n"
                  "{\"cid\":4,\"message\":[{\"from\":\"thread\"}]}\n"
                  "done\n",
                  "send", r.uri,
                  "2*cbor:{'lapps': 1, 'method': 'notify_error', 'params': [9, -32000, "
                  "'feed down']}",
                  "2*cbor:{'lapps': 1, 'method': 'notify_id', 'params': [4, {'from': 'thread'}]}",
                  NULL);
    rpc_finish(&r);
    cr_assert_eq(atomic_load(&st.late_other), 0);
}

Test(lapps, text_message_closes_1003, .timeout = 60)
{
    struct rpc_server r;
    rpc_start(&r, 1);
    expect_client("close 1003 LAppS messages are binary\ndone\n", "send", r.uri, "text:hello",
                  NULL);
    rpc_finish(&r);
}

Test(lapps, thousand_pipelined_requests_in_order, .timeout = 90)
{
    struct rpc_server r;
    rpc_start(&r, 2);
    expect_client("ordered 1000\ndone\n", "pipeline", r.uri, "1000", NULL);
    rpc_finish(&r);
}

/* Deferred answers come from other threads in a different order (300 ms, then at once,
 * then 10 ms); the responses still leave in request order. A server notification is
 * not a response: it leaves at once, ahead of the responses still waiting for "a". */
Test(lapps, deferred_responses_keep_request_order, .timeout = 60)
{
    struct rpc_server r;
    rpc_start(&r, 2);
    expect_client("{\"cid\":7,\"message\":[\"oob\"]}\n"
                  "{\"cid\":0,\"result\":[\"a\"],\"status\":1}\n"
                  "{\"cid\":0,\"result\":[\"b\"],\"status\":1}\n"
                  "{\"cid\":0,\"result\":[\"c\"],\"status\":1}\n"
                  "{\"cid\":0,\"result\":[\"d\"],\"status\":1}\n"
                  "{\"cid\":0,\"result\":[],\"status\":1}\n"
                  "done\n",
                  "read", r.uri, "6", "cbor:{'lapps': 1, 'method': 'later', 'params': [300, 'a']}",
                  "cbor:{'lapps': 1, 'method': 'echo', 'params': ['b']}",
                  "cbor:{'lapps': 1, 'method': 'later', 'params': [10, 'c']}",
                  "cbor:{'lapps': 1, 'method': 'echo', 'params': ['d']}",
                  "cbor:{'lapps': 1, 'method': 'notify', 'params': [7, 'oob']}", NULL);
    rpc_finish(&r);
    cr_assert_eq(atomic_load(&st.late_ok), 2);
    cr_assert_eq(atomic_load(&st.late_other), 0);
}

/* A deferred answer to a connection that closed first fails cleanly with
 * LAPPS_ERR_NOT_FOUND: nothing is sent, nothing leaks (ASan), nothing crashes. */
/* A deferred request whose connection closed is given up without an answer (ASan
 * checks that the handle is freed). */
Test(lapps, a_deferred_request_is_cancelled_when_its_connection_closes, .timeout = 60)
{
    struct rpc_server r;
    rpc_start(&r, 1);
    expect_client("done\n", "closing", r.uri, "cbor:{'lapps': 1, 'method': 'forget'}", NULL);
    cr_assert_eq(api_wait_atleast(&st.closes, 1, 10000), 1);
    rpc_finish(&r);
    cr_assert_eq(atomic_load(&st.cancelled), 1);
}

Test(lapps, deferred_answer_after_close_fails_cleanly, .timeout = 60)
{
    struct rpc_server r;
    rpc_start(&r, 1);
    expect_client("done\n", "closing", r.uri,
                  "cbor:{'lapps': 1, 'method': 'later', 'params': [500, 'x']}", NULL);
    cr_assert_eq(api_wait_atleast(&st.closes, 1, 10000), 1);
    rpc_finish(&r);
    cr_assert_eq(atomic_load(&st.late_not_found), 1);
    cr_assert_eq(atomic_load(&st.late_ok), 0);
}

#ifdef API_HAVE_CALC_EXAMPLE
#include <signal.h>

/* examples/calc as a program of its own, driven by the cbor2 client: arithmetic with
 * integers and floats, its errors, a deferred answer ahead of an immediate one, and a
 * notification; SIGTERM stops it with status 0. */
Test(lapps, examples_calc_program, .timeout = 90)
{
    const char *exe = getenv("LAPPS_CALC_EXAMPLE");
    cr_assert_not_null(exe);
    char port[8], uri[64], line[96];
    uint16_t pn = api_free_port();
    snprintf(port, sizeof port, "%u", pn);
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/calc", pn);
    snprintf(line, sizeof line, "calc: ws://127.0.0.1:%u/calc", pn);
    char *argv[] = {(char *)exe, port, NULL};
    struct api_proc srv;
    api_spawn(&srv, argv);
    cr_assert(api_proc_wait_line(&srv, line, 20000), "calc did not start:\n%s", srv.out);
    expect_client("{\"cid\":0,\"result\":[5],\"status\":1}\n"
                  "{\"cid\":0,\"result\":[3.5],\"status\":1}\n"
                  "{\"cid\":0,\"error\":{\"code\":-32602,\"message\":\"division by zero\"},"
                  "\"status\":0}\n"
                  "{\"cid\":0,\"result\":[9.223372036854776e+18],\"status\":1}\n"
                  "{\"cid\":0,\"result\":[6.5],\"status\":1}\n"
                  "{\"cid\":0,\"error\":{\"code\":-32601,\"message\":\"method not found\"},"
                  "\"status\":0}\n"
                  "{\"cid\":0,\"result\":[],\"status\":1}\n"
                  "{\"cid\":5,\"message\":[\"tick\"]}\n"
                  "done\n",
                  "send", uri, "cbor:{'lapps': 1, 'method': 'add', 'params': [2, 3]}",
                  "cbor:{'lapps': 1, 'method': 'div', 'params': [7, 2]}",
                  "cbor:{'lapps': 1, 'method': 'div', 'params': [7, 0]}",
                  "cbor:{'lapps': 1, 'method': 'add', 'params': [9223372036854775807, 1]}",
                  "cbor:{'lapps': 1, 'method': 'sum', 'params': [1, 2.5, 3]}",
                  "cbor:{'lapps': 1, 'method': 'pow', 'params': [2, 3]}",
                  "2*cbor:{'lapps': 1, 'method': 'subscribe', 'params': [5]}", NULL);
    expect_client("{\"cid\":0,\"result\":[\"slow\"],\"status\":1}\n"
                  "{\"cid\":0,\"result\":[-1],\"status\":1}\n"
                  "done\n",
                  "read", uri, "2", "cbor:{'lapps': 1, 'method': 'later', 'params': [200, 'slow']}",
                  "cbor:{'lapps': 1, 'method': 'sub', 'params': [2, 3]}", NULL);
    int rc = api_proc_kill(&srv, SIGTERM, 20000);
    cr_assert_eq(rc, 0, "calc must exit 0 after SIGTERM (got %d):\n%s", rc, srv.out);
    api_proc_free(&srv);
}
#endif
