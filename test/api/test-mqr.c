/* API tests of the `mqr` Lua module between real Lua services (test/api/lua/): one
 * standalone producer posts 2000 messages to a queue of 64, two standalone consumers
 * receive them. Each consumer logs every message it got (print → the server's log),
 * which the log handler here tallies; the stop must then end both consumers, blocked in
 * recv by then, at once. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapps/lapps.h>

#include "harness.h"

#define N_MESSAGES 2000

static atomic_int got[N_MESSAGES + 1];
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
    } else if (strstr(msg, "left running")) {
        atomic_fetch_add(&left_running, 1);
    }
    if (level <= LAPPS_LOG_WARN && !strstr(msg, ": got "))
        fprintf(stderr, "log: %s\n", msg);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
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

    double t0 = now_s();
    lapps_server_free(srv); /* stops the server and joins the standalone threads */
    double took = now_s() - t0;
    cr_assert_lt(took, 2.0, "the stop took %.2f s", took);
    cr_assert_eq(atomic_load(&left_running), 0, "a consumer did not stop");
    cr_assert_eq(atomic_load(&stopped_lines), 2, "both consumers log their end");
    cr_assert_eq(atomic_load(&stopped_total), N_MESSAGES, "counts of the consumers");
    cr_assert_eq(atomic_load(&errors), 0, "errors were logged");
}
