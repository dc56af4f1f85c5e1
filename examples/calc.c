/* calc.c — a C service speaking the LAppS protocol (CBOR requests and responses).
 * Serves ws://127.0.0.1:PORT/calc; stop it with Ctrl-C.
 *   cc calc.c $(pkg-config --cflags --libs liblapps) -lpthread -o calc && ./calc 5083
 *
 * Methods (params is an array):
 *   add/sub/mul/div [a, b]  → [a op b] as integers when both are, else as floats;
 *                             div by an integer 0 answers error -32602
 *   sum [x, ...]            → [total]
 *   later [ms, x]           → [x], answered after ms milliseconds from another thread
 *                             (a deferred response: later requests wait their turn)
 *   subscribe [cid]         → [] and then one notification {cid, message: ["tick"]}
 * A client notification (a request with a cid) on method "log" prints its params. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapps/lapps.h>

static lapps_server *server;

/* Reads params [a, b] as numbers; both_int tells whether both are integers. */
static int
two_numbers(const lapps_value *params, int64_t ia[2], double fa[2], int *both_int)
{
    if (lapps_value_size(params) != 2)
        return -1;
    *both_int = 1;
    for (size_t i = 0; i < 2; i++) {
        const lapps_value *v = lapps_value_at(params, i);
        if (lapps_value_get_double(v, &fa[i]) != 0)
            return -1;
        if (lapps_value_get_int(v, &ia[i]) != 0)
            *both_int = 0;
    }
    return 0;
}

static void
arithmetic(lapps_request *req, char op)
{
    int64_t ia[2];
    double fa[2];
    int both_int;
    if (two_numbers(lapps_request_params(req), ia, fa, &both_int) != 0) {
        lapps_reply_error(req, -32602, "expected [a, b], two numbers", NULL);
        return;
    }
    if (op == '/' && both_int && ia[1] == 0) {
        lapps_reply_error(req, -32602, "division by zero", NULL);
        return;
    }
    /* Integers stay integers while the result is exact and fits. */
    int64_t x = 0;
    int exact = both_int;
    if (exact && op == '+')
        exact = !__builtin_add_overflow(ia[0], ia[1], &x);
    else if (exact && op == '-')
        exact = !__builtin_sub_overflow(ia[0], ia[1], &x);
    else if (exact && op == '*')
        exact = !__builtin_mul_overflow(ia[0], ia[1], &x);
    else if (exact && op == '/')
        exact = ia[1] == -1 ? ia[0] != INT64_MIN : ia[0] % ia[1] == 0;
    if (exact && op == '/')
        x = ia[0] / ia[1];
    double f = op == '+'   ? fa[0] + fa[1]
               : op == '-' ? fa[0] - fa[1]
               : op == '*' ? fa[0] * fa[1]
                           : fa[0] / fa[1];
    lapps_value *r = exact ? lapps_value_build("[I]", x) : lapps_value_build("[f]", f);
    lapps_reply_result(req, r);
    lapps_value_free(r);
}

static void
sum(lapps_request *req)
{
    const lapps_value *params = lapps_request_params(req);
    double total = 0;
    for (size_t i = 0; i < lapps_value_size(params); i++) {
        double x;
        if (lapps_value_get_double(lapps_value_at(params, i), &x) != 0) {
            lapps_reply_error(req, -32602, "every param must be a number", NULL);
            return;
        }
        total += x;
    }
    lapps_value *r = lapps_value_build("[f]", total);
    lapps_reply_result(req, r);
    lapps_value_free(r);
}

struct later {
    lapps_request *handle;
    int64_t ms;
    lapps_value *x; /* a copy: params are borrowed only during the callback */
};

static void *
later_thread(void *arg)
{
    struct later *l = arg;
    struct timespec ts = {l->ms / 1000, (l->ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    lapps_value *r = lapps_value_build("[o]", l->x);
    int rv = lapps_reply_result(l->handle, r); /* any thread; frees the handle */
    if (rv != 0)
        fprintf(stderr, "calc: late reply: %s\n", lapps_strerror(rv));
    lapps_value_free(r);
    free(l);
    return NULL;
}

static void
later(lapps_request *req)
{
    const lapps_value *params = lapps_request_params(req);
    int64_t ms;
    if (lapps_value_size(params) != 2 || lapps_value_get_int(lapps_value_at(params, 0), &ms) ||
        ms < 0 || ms > 10000) {
        lapps_reply_error(req, -32602, "expected [ms (0-10000), value]", NULL);
        return;
    }
    struct later *l = malloc(sizeof *l);
    lapps_value *x = lapps_value_copy(lapps_value_at(params, 1));
    lapps_request *h = l && x ? lapps_request_defer(req) : NULL;
    pthread_t t;
    if (!h) {
        free(l);
        lapps_value_free(x);
        return; /* unanswered: liblapps answers -32603 */
    }
    *l = (struct later){h, ms, x};
    if (pthread_create(&t, NULL, later_thread, l) != 0) {
        lapps_reply_error(h, -32603, "no thread", NULL);
        lapps_value_free(x);
        free(l);
        return;
    }
    pthread_detach(t);
}

static void
on_request(lapps_conn *conn, lapps_request *req, void *user_data)
{
    (void)user_data;
    const char *m = lapps_request_method(req);
    if (lapps_request_cid(req) != 0) { /* a client notification: nothing to answer */
        if (strcmp(m, "log") == 0)
            printf("calc: log from connection %llu\n", (unsigned long long)lapps_conn_id(conn));
        return;
    }
    if (strcmp(m, "add") == 0)
        arithmetic(req, '+');
    else if (strcmp(m, "sub") == 0)
        arithmetic(req, '-');
    else if (strcmp(m, "mul") == 0)
        arithmetic(req, '*');
    else if (strcmp(m, "div") == 0)
        arithmetic(req, '/');
    else if (strcmp(m, "sum") == 0)
        sum(req);
    else if (strcmp(m, "later") == 0)
        later(req);
    else if (strcmp(m, "subscribe") == 0) {
        uint64_t cid;
        if (lapps_value_get_uint(lapps_value_at(lapps_request_params(req), 0), &cid) != 0 ||
            cid == 0) {
            lapps_reply_error(req, -32602, "expected [cid], a channel above 0", NULL);
            return;
        }
        lapps_reply_result(req, NULL);
        lapps_value *tick = lapps_value_build("[s]", "tick");
        lapps_notify(conn, cid, tick);
        lapps_value_free(tick);
    } else {
        lapps_reply_error(req, -32601, "method not found", NULL);
    }
}

static void
on_signal(int sig)
{
    (void)sig;
    lapps_server_stop(server);
}

int
main(int argc, char **argv)
{
    uint16_t port = (uint16_t)(argc > 1 ? atoi(argv[1]) : 5083);
    lapps_opts *opts;
    lapps_service *calc;
    int rv;
    if ((rv = lapps_opts_new(&opts)) != 0 ||
        (rv = lapps_opts_add_listener(opts, "127.0.0.1", port, NULL)) != 0 ||
        (rv = lapps_server_new(&server, opts)) != 0) {
        fprintf(stderr, "calc: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_opts_free(opts);
    if ((rv = lapps_service_new(&calc, "calc", "/calc")) != 0 ||
        (rv = lapps_service_set_protocol(calc, LAPPS_PROTO_LAPPS)) != 0 ||
        (rv = lapps_service_set_on_request(calc, on_request)) != 0 ||
        (rv = lapps_service_register(server, calc)) != 0) {
        fprintf(stderr, "calc: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_service_free(calc);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("calc: ws://127.0.0.1:%u/calc\n", lapps_server_port(server, 0));
    fflush(stdout);
    rv = lapps_server_run(server);
    lapps_server_free(server);
    return rv == 0 ? 0 : 1;
}
