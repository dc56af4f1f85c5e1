/* API tests of standalone services in C (include/lapps/task.h): they start with the
 * server, learn their instance, name and server, sleep until the stop wakes them, and a
 * graceful stop waits for them; one that ignores the stop is left running after the
 * close timeout, with a log line, and the server is freed anyway. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <lapps/lapps.h>

#include "harness.h"

static atomic_int started, ended, woken, instance_mask, ignored_done;
static atomic_bool release_stubborn;
static atomic_int log_detached;
static lapps_server *the_server;

static void
log_fn(lapps_log_level level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    if (strstr(msg, "left running, detached"))
        atomic_fetch_add(&log_detached, 1);
}

static void
polite(lapps_task *t, void *ud)
{
    cr_assert_eq(ud, &started);
    cr_assert_str_eq(lapps_task_name(t), "polite");
    cr_assert_eq(lapps_task_server(t), the_server);
    atomic_fetch_or(&instance_mask, 1 << lapps_task_instance(t));
    atomic_fetch_add(&started, 1);
    /* An hour per sleep: only the stop can end it in time. */
    while (!lapps_task_must_stop(t))
        if (lapps_task_sleep(t, 3600 * 1000) == 1)
            atomic_fetch_add(&woken, 1);
    atomic_fetch_add(&ended, 1);
}

static void
stubborn(lapps_task *t, void *ud)
{
    (void)ud;
    /* Ignores the stop; once left behind it may still ask lapps_task_must_stop(). */
    while (!atomic_load(&release_stubborn))
        api_sleep_ms(5);
    cr_assert(lapps_task_must_stop(t), "the server was freed: the task must stop");
    atomic_store(&ignored_done, 1);
}

static int cleanups;

static void
cleanup(void *ud)
{
    cr_assert_eq(ud, &started);
    cleanups++;
}

static lapps_server *
new_server(uint32_t close_ms)
{
    lapps_opts *o;
    lapps_server *srv;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, 1), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_opts_set_timeouts(o, 5000, close_ms ? close_ms : 5000, 0, 0), 0);
    cr_assert_eq(lapps_opts_set_log(o, log_fn, LAPPS_LOG_INFO, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    return srv;
}

Test(task, instances_start_with_the_server_and_stop_with_it, .timeout = 60)
{
    lapps_server *srv = the_server = new_server(0);
    cr_assert_eq(lapps_task_register(srv, "polite", 3, polite, &started, cleanup), 0);
    cr_assert_eq(lapps_server_start(srv), 0);
    cr_assert_eq(api_wait_atleast(&started, 3, 10000), 3);
    cr_assert_eq(atomic_load(&instance_mask), 7, "instances 0, 1 and 2");
    cr_assert_eq(lapps_task_register(srv, "late", 1, polite, NULL, NULL), LAPPS_ERR_STATE);
    lapps_server_free(srv);
    cr_assert_eq(atomic_load(&ended), 3, "the free waited for every instance");
    cr_assert_eq(atomic_load(&woken), 3, "each sleep was cut short by the stop");
    cr_assert_eq(cleanups, 1);
    cr_assert_eq(atomic_load(&log_detached), 0);
}

Test(task, bad_arguments)
{
    lapps_server *srv = new_server(0);
    cr_assert_eq(lapps_task_register(NULL, "x", 1, polite, NULL, NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_task_register(srv, NULL, 1, polite, NULL, NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_task_register(srv, "x", 1, NULL, NULL, NULL), LAPPS_ERR_INVAL);
    lapps_server_free(srv); /* never started: no thread, nothing to wait for */
}

Test(task, one_that_ignores_the_stop_is_left_behind_after_the_close_timeout, .timeout = 60)
{
    lapps_server *srv = the_server = new_server(200);
    cr_assert_eq(lapps_task_register(srv, "stubborn", 1, stubborn, NULL, NULL), 0);
    cr_assert_eq(lapps_server_start(srv), 0);
    lapps_server_free(srv);
    cr_assert_eq(atomic_load(&log_detached), 1);
    cr_assert_eq(atomic_load(&ignored_done), 0, "it was still running");
    atomic_store(&release_stubborn, true);
    for (int i = 0; i < 1000 && !atomic_load(&ignored_done); i++)
        api_sleep_ms(5);
    cr_assert_eq(atomic_load(&ignored_done), 1);
}

Test(task, embedded_servers_run_them_too, .timeout = 60)
{
    lapps_opts *o;
    lapps_server *srv;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, 0), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    the_server = srv;
    cr_assert_eq(lapps_task_register(srv, "polite", 1, polite, &started, NULL), 0);
    cr_assert_eq(lapps_server_start(srv), 0);
    cr_assert_eq(api_wait_atleast(&started, 1, 10000), 1);
    lapps_server_free(srv);
    cr_assert_eq(atomic_load(&ended), 1);
}
