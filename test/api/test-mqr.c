/* API tests of the `mqr` Lua module between real Lua services (test/api/lua/): one
 * standalone producer posts 2000 messages to a queue of 64, two standalone consumers
 * receive them. Each consumer logs every message it got (print → the server's log),
 * which the log handler here tallies; the stop must then end both consumers, blocked in
 * recv by then, at once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapps/lapps.h>

#include "harness.h"

#define N_MESSAGES 2000

static atomic_int got[N_MESSAGES + 1];
static pthread_mutex_t waiter_lock = PTHREAD_MUTEX_INITIALIZER;
static char waiter_log[1024];
static atomic_int got_total, got_bad, stopped_total, stopped_lines, posted, left_running, errors;

/* Tallies the consumers' lines ("mqr_consumer: got 17", "mqr_consumer: stopped 0 after
 * 990") and the producer's ("mqr_producer: posted 2000"). */
static void
log_fn(lapps_log_level level, const char *msg, void *ud)
{
    int i, n;

    (void)ud;
    if (level == LAPPS_LOG_ERROR)
        atomic_fetch_add(&errors, 1);
    if (sscanf(msg, "mqr_consumer: got %d", &i) == 1) {
        if (i >= 1 && i <= N_MESSAGES)
            atomic_fetch_add(&got[i], 1);
        else
            atomic_fetch_add(&got_bad, 1);
        atomic_fetch_add(&got_total, 1);
    } else if (sscanf(msg, "mqr_consumer: stopped %d after %d", &i, &n) == 2) {
        atomic_fetch_add(&stopped_total, n);
        atomic_fetch_add(&stopped_lines, 1);
    } else if (strcmp(msg, "mqr_producer: posted 2000") == 0) {
        atomic_fetch_add(&posted, 1);
    } else if (strncmp(msg, "mqr_waiter: ", 12) == 0) {
        pthread_mutex_lock(&waiter_lock);
        strncat(waiter_log, msg + 12, sizeof waiter_log - strlen(waiter_log) - 2);
        strcat(waiter_log, "\n");
        pthread_mutex_unlock(&waiter_lock);
    } else if (strstr(msg, "left running")) {
        atomic_fetch_add(&left_running, 1);
    }
    if (level <= LAPPS_LOG_WARN && !strstr(msg, ": got "))
        fprintf(stderr, "log: %s\n", msg);
}

static void
add(lapps_server *srv, const char *name, unsigned instances)
{
    char err[512];
    const char *dir = getenv("LAPPS_API_LUA");
    cr_assert(dir, "LAPPS_API_LUA is not set (run the tests through meson)");
    const char *path[] = {dir, NULL};
    const char *preload[] = {"mqr", NULL};
    lapps_lua_service d = {.size = sizeof d,
                           .name = name,
                           .path = path,
                           .preload = preload,
                           .instances = instances,
                           .standalone = 1};

    cr_assert_eq(lapps_lua_service_register(srv, &d, err, sizeof err), 0, "%s", err);
}

Test(mqr, standalone_producer_and_two_consumers, .timeout = 90)
{
    lapps_opts *o;
    lapps_server *srv;

    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, 1), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_opts_set_log(o, log_fn, LAPPS_LOG_INFO, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    add(srv, "mqr_consumer", 2);
    add(srv, "mqr_producer", 1);
    cr_assert_eq(lapps_server_start(srv), 0);

    cr_assert_eq(api_wait_atleast(&got_total, N_MESSAGES, 60000), N_MESSAGES, "messages received");
    cr_assert_eq(api_wait_atleast(&posted, 1, 10000), 1, "the producer did not finish");
    /* Nothing more may come; the consumers now wait in recv on an empty queue. */
    api_sleep_ms(200);
    cr_assert_eq(atomic_load(&got_total), N_MESSAGES, "more messages than posted");
    cr_assert_eq(atomic_load(&got_bad), 0);
    for (int i = 1; i <= N_MESSAGES; i++)
        cr_assert_eq(atomic_load(&got[i]), 1, "message %d received %d times", i,
                     atomic_load(&got[i]));
    cr_assert_eq(atomic_load(&stopped_lines), 0, "a consumer ended before the stop");

    lapps_server_free(srv); /* stops the server and joins the standalone threads */
    cr_assert_eq(atomic_load(&left_running), 0, "a consumer did not stop within the timeout");
    cr_assert_eq(atomic_load(&stopped_lines), 2, "both consumers log their end");
    cr_assert_eq(atomic_load(&stopped_total), N_MESSAGES, "counts of the consumers");
    cr_assert_eq(atomic_load(&errors), 0, "errors were logged");
}

/* An isolated service may block (its thread is its own): a callback waiting in recv on a
 * queue nobody posts to, then in a minute-long nap, is ended by the stop, so the server
 * stops and onShutdown runs. */
Test(mqr, the_stop_ends_an_isolated_service_blocked_in_recv, .timeout = 60)
{
    lapps_opts *o;
    lapps_server *srv;
    char err[512];

    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, 1), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_opts_set_log(o, log_fn, LAPPS_LOG_INFO, NULL), 0);
    cr_assert_eq(lapps_opts_set_timeouts(o, 5000, 500, 0, 0), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    const char *path[] = {getenv("LAPPS_API_LUA"), NULL};
    const char *preload[] = {"mqr", "nap", NULL};
    lapps_lua_service d = {.size = sizeof d,
                           .name = "mqr_waiter",
                           .target = "/wait",
                           .path = path,
                           .preload = preload,
                           .instances = 1,
                           .isolated = 1};
    cr_assert(path[0], "LAPPS_API_LUA is not set (run the tests through meson)");
    cr_assert_eq(lapps_lua_service_register(srv, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(lapps_server_start(srv), 0);
    char port[8];
    snprintf(port, sizeof port, "%u", lapps_server_port(srv, 0));
    char *out = NULL;
    int rc = api_python(20000, &out, "raw.py", port, "hs:/wait", "http", "frame:str=go",
                        "sleep:300", NULL);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    for (int t = 0; t < 500 && !strstr(waiter_log, "waiting"); t++)
        api_sleep_ms(10);
    lapps_server_free(srv);
    cr_assert_str_eq(waiter_log, "waiting\nrecv returned nil\nnap ended early: true\nshutdown\n");
    cr_assert_eq(atomic_load(&errors), 0, "errors were logged");
}
