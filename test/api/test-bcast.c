/* test-bcast.c — broadcast channels through the public API (lapps/bcast.h): every
 * worker's subscribers get every message in each sender's order; a subscriber that stops
 * reading is dropped alone; unsubscribing and disconnecting leave nothing behind.
 *
 * Subscribers are plain-socket clients (clients/bcast_client.py) of the harness's /echo
 * service; the test thread subscribes them by id (from another thread than their
 * workers, so through the inboxes) and two sender threads broadcast "S:I" text. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define CHANNEL 1000

/* Subscribes the first @p n connections opened. */
static void
subscribe_all(struct api_server *s, int n)
{
    cr_assert_eq(lapps_bcast_create(s->srv, CHANNEL), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(lapps_bcast_subscribe(s->srv, CHANNEL, api_id(s, (size_t)i)), 0, "conn %d", i);
    cr_assert_eq(lapps_bcast_subscribers(s->srv, CHANNEL), (size_t)n);
}

struct sender {
    lapps_server *srv;
    int id, count;
    int failures;
};

static void *
send_numbered(void *arg)
{
    struct sender *t = arg;
    char msg[32];
    for (int i = 0; i < t->count; i++) {
        int n = snprintf(msg, sizeof msg, "%d:%d", t->id, i);
        if (lapps_bcast_send(t->srv, CHANNEL, LAPPS_OP_TEXT, msg, (size_t)n) != 0)
            t->failures++;
    }
    return NULL;
}

static int
workers_used(struct api_server *s)
{
    int used = 0;
    for (int k = 0; k < API_MAX_WORKERS; k++)
        used += atomic_load(&s->c.per_worker[k]) > 0;
    return used;
}

/* n subscribers on @p workers workers; two threads send @p each messages each. */
static void
fan_out_across_workers(unsigned workers, int n, int each)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = workers});
    char n_str[16];
    snprintf(n_str, sizeof n_str, "%d", n);
    struct api_proc p;
    api_python_spawn(&p, "bcast_client.py", s.port_str, n_str, NULL);
    cr_assert(api_proc_wait_line(&p, "ready", 30000), "%s", p.out ? p.out : "");
    cr_assert_eq(api_wait_atleast(&s.c.opens, n, 10000), n);
    /* DESIGN §11: the kernel may put every connection on one worker. */
    cr_assert_geq(workers_used(&s), 2, "all %d connections landed on one worker", n);
    subscribe_all(&s, n);

    struct sender t[2] = {{s.srv, 0, each, 0}, {s.srv, 1, each, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, send_numbered, &t[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(t[0].failures + t[1].failures, 0);
    cr_assert_eq(lapps_bcast_send(s.srv, CHANNEL, LAPPS_OP_TEXT, "end", 3), 0);

    cr_assert_eq(api_proc_wait(&p, 60000), 0, "%s", p.out);
    char want[64];
    snprintf(want, sizeof want, "ok %d %d", n, 2 * each);
    cr_assert(api_has_line(p.out, want), "want \"%s\", got:\n%s", want, p.out);
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, n, 10000));
    cr_assert_eq(lapps_bcast_subscribers(s.srv, CHANNEL), 0, "closed connections left the channel");
    api_server_finish(&s);
}

Test(bcast, reaches_subscribers_on_2_workers_in_sender_order, .timeout = 120)
{
    fan_out_across_workers(2, 64, 500);
}

Test(bcast, reaches_subscribers_on_4_workers_in_sender_order, .timeout = 120)
{
    fan_out_across_workers(4, 64, 500);
}

/* 1000 subscribers read; one (SO_RCVBUF 4096) never reads. Its kernel buffers are filled
 * first (loopback's send buffer takes megabytes): it asks the service to produce until
 * half its 16 KiB limit waits. Broadcasting goes on until its queue passes the limit and
 * it alone is closed with 1008 (reaped after close_ms); the 1000 get every message, in
 * order. */
Test(bcast, a_subscriber_that_stops_reading_is_dropped_alone, .timeout = 180)
{
    api_raise_nofile(4096);
    struct api_server s;
    api_server_start(
        &s, &(struct api_config){.workers = 2, .max_outbound = 16u << 10, .close_ms = 500});
    struct api_proc p;
    api_python_spawn(&p, "bcast_client.py", s.port_str, "1000", "--stall", "1", "--timeout", "120",
                     NULL);
    cr_assert(api_proc_wait_line(&p, "ready", 60000), "%s", p.out ? p.out : "");
    cr_assert_eq(api_wait_atleast(&s.c.opens, 1001, 10000), 1001);
    subscribe_all(&s, 1001);

    /* 100-byte messages, sent no faster than the workers deliver them (the inboxes would
     * take thousands at once), so the loop stops soon after the staller is dropped. */
    char msg[100];
    memset(msg, '.', sizeof msg);
    int sent = 0;
    uint64_t base = api_stats(&s).messages_out;
    for (; sent < 5000 && atomic_load(&s.c.reasons[LAPPS_CLOSED_OUTBOUND]) == 0; sent++) {
        int n = snprintf(msg, sizeof msg, "0:%d", sent);
        msg[n] = ' ';
        /* "0:I" then padding: the client reads the index up to the first space. */
        cr_assert_eq(lapps_bcast_send(s.srv, CHANNEL, LAPPS_OP_TEXT, msg, sizeof msg), 0);
        if (sent % 50 == 49)
            for (int i = 0; i < 1000 && api_stats(&s).messages_out < base + (sent + 1) * 1000ull;
                 i++)
                api_sleep_ms(10);
    }
    cr_assert_eq(api_wait_atleast(&s.c.reasons[LAPPS_CLOSED_OUTBOUND], 1, 10000), 1,
                 "the stalled subscriber was never dropped after %d messages", sent);
    cr_assert_eq(atomic_load(&s.c.codes[1008]), 1);
    cr_assert_eq(lapps_bcast_send(s.srv, CHANNEL, LAPPS_OP_TEXT, "end", 3), 0);
    cr_assert_eq(api_proc_wait(&p, 120000), 0, "%s", p.out);
    char want[64];
    snprintf(want, sizeof want, "ok 1000 %d", sent);
    cr_assert(api_has_line(p.out, want), "want \"%s\", got:\n%s", want, p.out);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_OUTBOUND]), 1, "only the staller");
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1001, 10000));
    cr_assert_eq(lapps_bcast_subscribers(s.srv, CHANNEL), 0);
    api_server_finish(&s);
}

/* Unsubscribed connections get nothing more; a client killed mid-subscription leaves no
 * member behind (ASan checks the memory, the count the bookkeeping). */
Test(bcast, unsubscribe_and_abrupt_disconnect_leave_nothing, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    struct api_proc p;
    api_python_spawn(&p, "bcast_client.py", s.port_str, "40", NULL);
    cr_assert(api_proc_wait_line(&p, "ready", 30000), "%s", p.out ? p.out : "");
    cr_assert_eq(api_wait_atleast(&s.c.opens, 40, 10000), 40);
    subscribe_all(&s, 40);
    /* Subscribing twice changes nothing. */
    cr_assert_eq(lapps_bcast_subscribe(s.srv, CHANNEL, api_id(&s, 0)), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(lapps_bcast_unsubscribe(s.srv, CHANNEL, api_id(&s, (size_t)i)), 0);
    /* The posts are applied in order: a broadcast after them reaches 20 connections. */
    lapps_stats before = api_stats(&s);
    cr_assert_eq(lapps_bcast_send(s.srv, CHANNEL, LAPPS_OP_TEXT, "0:0", 3), 0);
    for (int i = 0; i < 200 && api_stats(&s).messages_out < before.messages_out + 20; i++)
        api_sleep_ms(10);
    api_sleep_ms(100);
    cr_assert_eq(api_stats(&s).messages_out, before.messages_out + 20);
    cr_assert_eq(lapps_bcast_subscribers(s.srv, CHANNEL), 20);
    /* An unsubscribe by an unknown connection or on an unknown channel. */
    cr_assert_eq(lapps_bcast_unsubscribe(s.srv, CHANNEL + 1, api_id(&s, 0)), LAPPS_ERR_NOT_FOUND);
    api_proc_kill(&p, SIGKILL, 5000);
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 40, 10000));
    cr_assert_eq(lapps_bcast_subscribers(s.srv, CHANNEL), 0);
    cr_assert_eq(lapps_bcast_subscribe(s.srv, CHANNEL, api_id(&s, 0)), LAPPS_ERR_NOT_FOUND,
                 "a closed connection's id is stale");
    api_server_finish(&s);
}

Test(bcast, bad_arguments_and_unknown_channels, .timeout = 30)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    lapps_server *srv = s.srv;
    cr_assert_eq(lapps_bcast_create(NULL, 1), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_bcast_send(srv, 7, LAPPS_OP_TEXT, "x", 1), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_bcast_subscribe(srv, 7, 1), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_bcast_create(srv, 7), 0);
    cr_assert_eq(lapps_bcast_create(srv, 7), 0, "creating twice is allowed");
    cr_assert_eq(lapps_bcast_send(srv, 7, LAPPS_OP_TEXT, "x", 1), 0, "nobody listens: fine");
    cr_assert_eq(lapps_bcast_send(srv, 7, (lapps_opcode)9, "x", 1), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_bcast_send(srv, 7, LAPPS_OP_TEXT, "\xff", 1), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_bcast_send(srv, 7, LAPPS_OP_BINARY, NULL, 3), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_bcast_subscribe(srv, 7, 12345), LAPPS_ERR_NOT_FOUND);
    lapps_value *arr = lapps_value_build("[s]", "hi");
    cr_assert_eq(lapps_bcast_notify(srv, 7, 0, arr), LAPPS_ERR_INVAL, "cid 0");
    cr_assert_eq(lapps_bcast_notify(srv, 7, 5, arr), 0);
    lapps_value_free(arr);
    /* Many channels: the table grows and finds each. */
    for (uint64_t id = 100; id < 1100; id++)
        cr_assert_eq(lapps_bcast_create(srv, id), 0);
    for (uint64_t id = 100; id < 1100; id++)
        cr_assert_eq(lapps_bcast_send(srv, id, LAPPS_OP_BINARY, "", 0), 0);
    cr_assert_eq(lapps_bcast_subscribers(srv, 99), 0);
    lapps_server_stop(srv);
    cr_assert_eq(lapps_bcast_send(srv, 7, LAPPS_OP_TEXT, "x", 1), LAPPS_ERR_STATE);
    api_server_finish(&s);
}

/* Embedded mode: the host's thread is the worker, so subscriptions apply at once, and a
 * broadcast is delivered when the host dispatches. */
Test(bcast, embedded_mode_delivers_on_dispatch, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 0});
    struct api_proc p;
    api_python_spawn(&p, "bcast_client.py", s.port_str, "10", NULL);
    for (int t = 0; t < 3000 && !(p.out && strstr(p.out, "ready\n")); t++) {
        api_embedded_pump(&s, 10);
        api_proc_read(&p, 0);
    }
    cr_assert(p.out && strstr(p.out, "ready\n"), "%s", p.out ? p.out : "");
    for (int t = 0; t < 100 && atomic_load(&s.c.opens) < 10; t++)
        api_embedded_pump(&s, 10);
    cr_assert_eq(atomic_load(&s.c.opens), 10);
    subscribe_all(&s, 10);
    /* Unsubscribing on the worker's own thread reports a connection that was not in. */
    cr_assert_eq(lapps_bcast_unsubscribe(s.srv, CHANNEL, api_id(&s, 0)), 0);
    cr_assert_eq(lapps_bcast_unsubscribe(s.srv, CHANNEL, api_id(&s, 0)), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_bcast_subscribe(s.srv, CHANNEL, api_id(&s, 0)), 0);
    char msg[32];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(msg, sizeof msg, "0:%d", i);
        cr_assert_eq(lapps_bcast_send(s.srv, CHANNEL, LAPPS_OP_TEXT, msg, (size_t)n), 0);
    }
    cr_assert_eq(lapps_bcast_send(s.srv, CHANNEL, LAPPS_OP_TEXT, "end", 3), 0);
    cr_assert_eq(api_embedded_wait_proc(&s, &p, 30000), 0, "%s", p.out);
    cr_assert(api_has_line(p.out, "ok 10 100"), "%s", p.out);
    api_proc_free(&p);
    for (int t = 0; t < 300 && atomic_load(&s.c.closes) < 10; t++)
        api_embedded_pump(&s, 10);
    cr_assert_eq(lapps_bcast_subscribers(s.srv, CHANNEL), 0);
    api_server_finish(&s);
}
