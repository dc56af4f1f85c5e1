/* test-lifecycle.c — the server's life and the connection's, across threads: graceful
 * stop (clients get 1001, lapps_server_run returns, on_shutdown runs), stop from a
 * callback, lapps_send/lapps_close from another thread by id (and stale ids), hand-over
 * of connections to the one worker that hosts a service, idle timeout and keep-alive
 * pings. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define CLIENT_MS 60000

static bool
port_refuses(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rv = connect(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    close(fd);
    return rv != 0 && e == ECONNREFUSED;
}

/* lapps_server_stop() from another thread: every client gets close 1001, the server
 * waits for their close frames, calls on_shutdown on every instance, and
 * lapps_server_run() returns 0. The listeners are closed. */
Test(lifecycle, graceful_stop_closes_clients_with_1001, .timeout = 90)
{
    struct api_server s;
    api_server_run_async(&s, &(struct api_config){.workers = 2});
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "hold", s.uri, "8", NULL);
    cr_assert_eq(api_wait_atleast(&s.c.opens, 8, 30000), 8);
    cr_assert(api_proc_wait_line(&p, "open 8", 30000), "%s", p.out);
    cr_assert_not(atomic_load(&s.run_returned));
    cr_assert_eq(atomic_load(&s.c.shutdowns), 0);
    cr_assert_eq(lapps_server_stop(s.srv), 0);
    cr_assert(api_server_join(&s, 20000), "lapps_server_run did not return");
    cr_assert_eq(s.run_rv, 0);
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "closed 1001 8");
    api_proc_free(&p);
    cr_assert_eq(atomic_load(&s.c.closes), 8);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_SHUTDOWN]), 8);
    cr_assert_eq(atomic_load(&s.c.codes[1001]), 8);
    /* Two services on two workers: four instances, each shut down once. */
    cr_assert_eq(atomic_load(&s.c.shutdowns), 4);
    cr_assert(port_refuses(s.port), "the listener must be closed after the stop");
    cr_assert_eq(lapps_server_stop(s.srv), 0, "a second stop is harmless");
    api_server_finish(&s);
}

/* A client that never answers the server's close frame: the stop still ends, after the
 * close timeout, and on_close reports the shutdown. */
Test(lifecycle, graceful_stop_with_a_silent_client, .timeout = 60)
{
    struct api_server s;
    api_server_run_async(&s, &(struct api_config){.workers = 1, .close_ms = 300});
    struct api_proc p;
    api_python_spawn(&p, "raw.py", s.port_str, "--no-close-reply", "--timeout", "20", "hs", "http",
                     "read", NULL);
    cr_assert_eq(api_wait_atleast(&s.c.opens, 1, 30000), 1);
    lapps_server_stop(s.srv);
    cr_assert(api_server_join(&s, 20000), "lapps_server_run did not return");
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "close 1001 server stopping");
    API_EXPECT_LINE(p.out, "eof");
    api_proc_free(&p);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_SHUTDOWN]), 1);
    cr_assert_eq(atomic_load(&s.c.last_code), 1001);
    api_server_finish(&s);
}

/* lapps_server_stop() called from inside on_message. */
Test(lifecycle, stop_from_a_callback, .timeout = 60)
{
    struct api_server s;
    api_server_run_async(&s, &(struct api_config){.workers = 2});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:str=!cmd:stop",
                        "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "close 1001 server stopping");
    API_EXPECT_LINE(out, "eof");
    free(out);
    cr_assert(api_server_join(&s, 20000), "lapps_server_run did not return");
    cr_assert_eq(s.run_rv, 0);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_SHUTDOWN]), 1);
    api_server_finish(&s);
}

/* lapps_send and lapps_close from the test's thread, by id; afterwards the id is stale. */
Test(lifecycle, cross_thread_send_and_close_by_id, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "wait-msg", s.uri, NULL);
    cr_assert_eq(api_wait_atleast(&s.c.opens, 1, 30000), 1);
    uint64_t id = api_id(&s, 0);
    cr_assert_lt(id, 1ull << 46, "ids stay below 2^46");
    const char *m = "from another thread";
    cr_assert_eq(lapps_send(s.srv, id, LAPPS_OP_TEXT, m, strlen(m)), 0);
    cr_assert_eq(lapps_send(s.srv, id, (lapps_opcode)8, "x", 1), LAPPS_ERR_INVAL,
                 "only text and binary");
    cr_assert_eq(lapps_close(s.srv, id, 1005, NULL), LAPPS_ERR_INVAL, "1005 is not sendable");
    cr_assert_eq(lapps_close(s.srv, id, 1000, "\xff"), LAPPS_ERR_INVAL, "reason not UTF-8");
    cr_assert_eq(lapps_close(s.srv, id, 4000, "bye from thread"), 0);
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "msg from another thread");
    API_EXPECT_LINE(p.out, "close 4000 bye from thread");
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_BY_SERVICE);
    cr_assert_eq(atomic_load(&s.c.last_code), 4000);
    /* The connection is gone: its id is stale. */
    cr_assert_eq(lapps_send(s.srv, id, LAPPS_OP_TEXT, "late", 4), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_close(s.srv, id, 1000, NULL), LAPPS_ERR_NOT_FOUND);
    /* Ids that never named a connection. */
    cr_assert_eq(lapps_send(s.srv, id ^ 1, LAPPS_OP_TEXT, "x", 1), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_send(s.srv, 0, LAPPS_OP_TEXT, "x", 1), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_send(s.srv, (uint64_t)200 << 38, LAPPS_OP_TEXT, "x", 1),
                 LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_send(s.srv, 1ull << 46 | id, LAPPS_OP_TEXT, "x", 1), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_send(s.srv, UINT64_MAX, LAPPS_OP_TEXT, "x", 1), LAPPS_ERR_NOT_FOUND);
    cr_assert_eq(lapps_close(s.srv, UINT64_MAX, 1000, NULL), LAPPS_ERR_NOT_FOUND);
    api_server_finish(&s);
}

/* 2000 messages sent by id from one thread arrive in order (the inbox may be full for
 * a moment: LAPPS_ERR_AGAIN means retry). */
Test(lifecycle, cross_thread_sends_keep_their_order, .timeout = 90)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "count", s.uri, "2000", NULL);
    cr_assert_eq(api_wait_atleast(&s.c.opens, 1, 30000), 1);
    uint64_t id = api_id(&s, 0);
    int again = 0;
    for (int i = 0; i < 2000; i++) {
        char m[16];
        int n = snprintf(m, sizeof m, "%d", i);
        int rv;
        while ((rv = lapps_send(s.srv, id, LAPPS_OP_TEXT, m, (size_t)n)) == LAPPS_ERR_AGAIN &&
               again < 1000000) {
            again++;
            sched_yield();
        }
        cr_assert_eq(rv, 0, "lapps_send %d: %s", i, lapps_strerror(rv));
    }
    cr_assert_eq(lapps_close(s.srv, id, 1000, NULL), 0);
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "ok 2000");
    API_EXPECT_LINE(p.out, "close 1000 ");
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    api_server_finish(&s);
}

/* A service with one instance on a 2-worker server: every connection's on_open runs on
 * the hosting worker (the harness also checks the thread), including connections whose
 * first frames came in the handshake's segment — those bytes travel with the hand-over.
 * The test only counts if the kernel put some connections on the other worker. */
Test(lifecycle, hand_over_to_the_hosting_worker, .timeout = 120)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2, .instances = 1});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "ws_client.py", "many", s.uri, "64", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok 64");
    free(out);
    rc =
        api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--repeat", "24", "hs", "frame:str=early",
                   "frame:op=9,str=p", "http", "readn:2", "frame:op=8,code=1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, "http 101"), 24, "%s", out);
    cr_assert_eq(api_count_prefix(out, "text early"), 24, "%s", out);
    cr_assert_eq(api_count_prefix(out, "pong 70"), 24, "%s", out);
    cr_assert_eq(api_count_prefix(out, "close 1000"), 24, "%s", out);
    free(out);
    /* More than a read buffer of frames right behind the request. */
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--repeat", "8", "hs",
                    "frame:op=2,len=100000", "frame:str=after", "http", "readn:2",
                    "frame:op=8,code=1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, "frame 2 1 100000 "), 8, "%s", out);
    cr_assert_eq(api_count_prefix(out, "text after"), 8, "%s", out);
    free(out);
    cr_assert(api_wait_all_closed(&s, 96, 20000));
    /* The first service's only instance is on worker 0. */
    cr_assert_eq(atomic_load(&s.c.per_worker[0]), 96);
    cr_assert_eq(atomic_load(&s.c.per_worker[1]), 0,
                 "a connection opened on a worker without "
                 "an instance");
    lapps_stats st = api_stats(&s);
    cr_assert_gt(st.handed_over, 0, "no connection crossed workers: the test proved nothing");
    cr_assert_lt(st.handed_over, 96);
    cr_assert_eq(st.accepted, 96);
    cr_assert_eq(atomic_load(&s.c.messages), 64 + 24 + 16);
    api_server_finish(&s);
}

/* Keep-alive pings every 200 ms and a 1.5 s idle timeout: a client that answers pings
 * (python-websockets does by itself) stays connected well past the idle timeout; one
 * that does not is closed with 1001. */
Test(lifecycle, idle_timeout_and_pings, .timeout = 90)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .idle_ms = 1500, .ping_ms = 200});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "ws_client.py", "idle", s.uri, "3", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok text 10");
    API_EXPECT_LINE(out, "close 1000");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_BY_PEER);

    /* Raw, answering pings for 3 s: pings arrive, no close. */
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--answer-pings", "--timeout", "3", "hs",
                    "http", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_geq(api_count_prefix(out, "ping "), 2, "%s", out);
    cr_assert_null(api_find_prefix(out, "close "), "%s", out);
    API_EXPECT_LINE(out, "timeout");
    free(out);
    cr_assert(api_wait_all_closed(&s, 2, 10000));

    /* Raw, ignoring pings: closed with 1001 at the idle timeout. */
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_geq(api_count_prefix(out, "ping "), 1, "%s", out);
    API_EXPECT_LINE(out, "close 1001 idle");
    API_EXPECT_LINE(out, "eof");
    free(out);
    cr_assert(api_wait_all_closed(&s, 3, 10000));
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_TIMEOUT);
    cr_assert_eq(atomic_load(&s.c.last_code), 1001);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_TIMEOUT]), 1);
    api_server_finish(&s);
}

/* Idle timeout without pings: no ping is sent, the close comes at the timeout. */
Test(lifecycle, idle_timeout_without_pings, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2, .idle_ms = 400});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:str=hi", "read",
                        NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "text hi");
    cr_assert_null(api_find_prefix(out, "ping "), "%s", out);
    API_EXPECT_LINE(out, "close 1001 idle");
    API_EXPECT_LINE(out, "eof");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_TIMEOUT);
    api_server_finish(&s);
}

/* lapps_server_free() on a running server without a stop first: the stop is graceful
 * (clients get 1001), every on_close and on_shutdown runs. */
Test(lifecycle, free_while_running_stops_gracefully, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "hold", s.uri, "4", NULL);
    cr_assert(api_proc_wait_line(&p, "open 4", 30000), "%s", p.out);
    api_server_finish(&s); /* lapps_server_free, then the exactly-once checks */
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_SHUTDOWN]), 4);
    cr_assert_eq(atomic_load(&s.c.shutdowns), 4);
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "closed 1001 4");
    api_proc_free(&p);
}

/* A close reason longer than a close frame holds is cut to 123 bytes on a character
 * boundary (python-websockets fails the connection on a reason that is not UTF-8). */
Test(lifecycle, long_close_reason_is_cut_on_a_character, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "wait-msg", s.uri, NULL);
    cr_assert_eq(api_wait_atleast(&s.c.opens, 1, 30000), 1);
    char reason[301] = "", want[200] = "close 4003 ";
    for (int i = 0; i < 100; i++)
        strcat(reason, "\xe2\x82\xac"); /* the euro sign: 3 bytes */
    for (int i = 0; i < 41; i++)        /* 41 * 3 = 123 */
        strcat(want, "\xe2\x82\xac");
    uint64_t id = api_id(&s, 0);
    cr_assert_eq(lapps_send(s.srv, id, LAPPS_OP_TEXT, "x", 1), 0);
    cr_assert_eq(lapps_close(s.srv, id, 4003, reason), 0);
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, want);
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    api_server_finish(&s);
}

/* on_open may send and close at once, also on a connection that was handed over with
 * frames behind its request: its own messages come first, and after its close the
 * carried frames are dropped. */
Test(lifecycle, on_open_sends_and_closes, .timeout = 90)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2, .instances = 1});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--repeat", "16", "hs:/echo?send=3",
                        "frame:str=early", "http", "readn:4", "frame:op=8", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, "text open 0"), 16, "%s", out);
    cr_assert_eq(api_count_prefix(out, "text early"), 16, "%s", out);
    /* In each connection: open 0, open 1, open 2, early. */
    for (const char *p = out; (p = api_find_prefix(p, "text open 0")) != NULL;) {
        const char *a = strstr(p, "text open 1"), *b = strstr(p, "text open 2"),
                   *e = strstr(p, "text early");
        cr_assert(a && b && e && a < b && b < e, "out of order:\n%s", out);
        p = e;
    }
    free(out);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--repeat", "16", "hs:/echo?close=4005",
                    "frame:str=early", "http", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, "close 4005 from on_open"), 16, "%s", out);
    cr_assert_eq(api_count_prefix(out, "eof"), 16, "%s", out);
    cr_assert_null(api_find_prefix(out, "text early"), "%s", out);
    free(out);
    cr_assert(api_wait_all_closed(&s, 32, 20000));
    cr_assert_eq(atomic_load(&s.c.per_worker[1]), 0);
    cr_assert_gt(api_stats(&s).handed_over, 0, "no connection crossed workers");
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_SERVICE]), 16);
    cr_assert_eq(atomic_load(&s.c.send_errors), 0);
    api_server_finish(&s);
}

/* lapps_server_service() finds a registered service by name, for changes before the
 * start; the registered copy is the server's, not the caller's description. */
Test(lifecycle, registered_services_are_found_by_name)
{
    lapps_opts *o;
    lapps_server *srv;
    lapps_service *svc;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    cr_assert_eq(lapps_service_new(&svc, "first", "/first"), 0);
    cr_assert_eq(lapps_service_register(srv, svc), 0);
    lapps_service *found = lapps_server_service(srv, "first");
    cr_assert_not_null(found);
    cr_assert_neq(found, svc);
    lapps_service_free(svc);
    cr_assert_eq(lapps_service_set_max_message_size(found, 4096), 0);
    cr_assert_null(lapps_server_service(srv, "second"));
    cr_assert_null(lapps_server_service(srv, NULL));
    cr_assert_null(lapps_server_service(NULL, "first"));
    lapps_server_free(srv);
}
