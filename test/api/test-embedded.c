/* test-embedded.c — embedded mode (workers = 0: the host polls lapps_server_get_fd()
 * and calls lapps_server_dispatch(), as examples/own-loop.c does) with real clients:
 * traffic, cross-thread sends into the host's loop, timers (handshake and idle timeouts
 * run on the timerfd inside the server's fd), and a graceful stop driven by dispatch.
 * Also runs the examples/echo program as its own process and stops it with SIGTERM. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define CLIENT_MS 60000

/* Dispatches until lapps_server_dispatch() reports the stop is complete. */
static void
pump_until_stopped(struct api_server *s, int timeout_ms)
{
    int rv = 0;
    for (int t = 0; t < timeout_ms && rv == 0; t += 20)
        rv = api_embedded_pump(s, 20);
    cr_assert_eq(rv, LAPPS_ERR_STATE, "dispatch must report the end of the stop");
    cr_assert_eq(lapps_server_dispatch(s->srv), LAPPS_ERR_STATE, "and keep reporting it");
}

Test(embedded, traffic_through_the_hosts_poll_loop, .timeout = 120)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 0});
    cr_assert_eq(lapps_server_run(s.srv), LAPPS_ERR_STATE, "run is not for embedded mode");
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "echo", s.uri, NULL);
    int rc = api_embedded_wait_proc(&s, &p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "ok binary-64k 65536");
    API_EXPECT_LINE(p.out, "close 1000");
    api_proc_free(&p);
    api_python_spawn(&p, "ws_client.py", "fragments", s.uri, NULL);
    rc = api_embedded_wait_proc(&s, &p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    api_proc_free(&p);
    api_python_spawn(&p, "raw.py", s.port_str, "hs", "frame:str=early", "http", "readn:1",
                     "frame:op=9,str=x", "readn:1", "frame:op=8,code=3001", "read", NULL);
    rc = api_embedded_wait_proc(&s, &p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "text early");
    API_EXPECT_LINE(p.out, "pong 78");
    API_EXPECT_LINE(p.out, "close 3001 ");
    API_EXPECT_LINE(p.out, "eof");
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 3, 10000));
    cr_assert_eq(atomic_load(&s.c.messages), 6 + 2 + 1);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 3);
    cr_assert_eq(st.messages_out, 9);
    cr_assert_eq(lapps_server_stop(s.srv), 0);
    pump_until_stopped(&s, 10000);
    cr_assert_eq(atomic_load(&s.c.shutdowns), 2);
    api_server_finish(&s);
}

struct sender {
    struct api_server *s;
    atomic_int done;
    int send_rv, close_rv;
};

static void *
send_from_thread(void *arg)
{
    struct sender *x = arg;
    uint64_t id = api_id(x->s, 0);
    x->send_rv = lapps_send(x->s->srv, id, LAPPS_OP_TEXT, "via the inbox", 13);
    x->close_rv = lapps_close(x->s->srv, id, 4002, "embedded bye");
    atomic_store(&x->done, 1);
    return NULL;
}

/* Another thread's lapps_send/lapps_close wake the host's poll (the inbox eventfd is in
 * the server's fd). */
Test(embedded, cross_thread_send_wakes_the_host_loop, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 0});
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "wait-msg", s.uri, NULL);
    for (int t = 0; t < 30000 && atomic_load(&s.c.opens) < 1; t += 10)
        api_embedded_pump(&s, 10);
    cr_assert_eq(atomic_load(&s.c.opens), 1);
    struct sender x = {.s = &s};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, send_from_thread, &x), 0);
    int rc = api_embedded_wait_proc(&s, &p, CLIENT_MS);
    pthread_join(th, NULL);
    cr_assert_eq(x.send_rv, 0);
    cr_assert_eq(x.close_rv, 0);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "msg via the inbox");
    API_EXPECT_LINE(p.out, "close 4002 embedded bye");
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_BY_SERVICE);
    api_server_finish(&s);
}

/* Timers fire in embedded mode: a half-sent handshake is closed at the handshake
 * timeout, a silent connection at the idle timeout (after a keep-alive ping). */
Test(embedded, timers_fire_through_the_fd, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){
                             .workers = 0, .handshake_ms = 300, .idle_ms = 600, .ping_ms = 200});
    struct api_proc p;
    api_python_spawn(&p, "raw.py", s.port_str, "text:GET /echo HTTP/1.1\r\nHost: x\r\n", "eof",
                     NULL);
    int rc = api_embedded_wait_proc(&s, &p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "bytes 0");
    API_EXPECT_LINE(p.out, "eof");
    api_proc_free(&p);
    cr_assert_eq(api_stats(&s).handshakes_failed, 1);

    api_python_spawn(&p, "raw.py", s.port_str, "hs", "http", "read", NULL);
    rc = api_embedded_wait_proc(&s, &p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    cr_assert_geq(api_count_prefix(p.out, "ping "), 1, "%s", p.out);
    API_EXPECT_LINE(p.out, "close 1001 idle");
    API_EXPECT_LINE(p.out, "eof");
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_TIMEOUT);
    api_server_finish(&s);
}

/* A graceful stop in embedded mode: the client gets 1001 and dispatch reports the end. */
Test(embedded, graceful_stop_through_dispatch, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 0});
    struct api_proc p;
    api_python_spawn(&p, "ws_client.py", "hold", s.uri, "3", NULL);
    for (int t = 0; t < 30000 && !api_has_line(p.out, "open 3"); t += 10) {
        api_embedded_pump(&s, 10);
        api_proc_read(&p, 0);
    }
    API_EXPECT_LINE(p.out, "open 3");
    cr_assert_eq(lapps_server_stop(s.srv), 0);
    pump_until_stopped(&s, 20000);
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "closed 1001 3");
    api_proc_free(&p);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_SHUTDOWN]), 3);
    cr_assert_eq(atomic_load(&s.c.shutdowns), 2);
    api_server_finish(&s);
}

#ifdef API_HAVE_ECHO_EXAMPLE
/* examples/echo as a program of its own: it serves a python client, and SIGTERM stops it
 * gracefully with exit status 0. */
Test(embedded, examples_echo_program, .timeout = 90)
{
    const char *exe = getenv("LAPPS_ECHO_EXAMPLE");
    cr_assert_not_null(exe);
    char port[8], uri[64], line[96];
    uint16_t pn = api_free_port();
    snprintf(port, sizeof port, "%u", pn);
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/echo", pn);
    snprintf(line, sizeof line, "echo: ws://127.0.0.1:%u/echo", pn);
    char *argv[] = {(char *)exe, port, NULL};
    struct api_proc srv;
    api_spawn(&srv, argv);
    cr_assert(api_proc_wait_line(&srv, line, 20000), "echo did not start:\n%s", srv.out);
    char *out;
    int rc = api_python(CLIENT_MS, &out, "ws_client.py", "echo", uri, NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok utf8 15");
    free(out);
    /* A client still connected when the signal comes gets 1001. */
    struct api_proc held;
    api_python_spawn(&held, "ws_client.py", "hold", uri, "2", NULL);
    cr_assert(api_proc_wait_line(&held, "open 2", 30000), "%s", held.out);
    rc = api_proc_kill(&srv, SIGTERM, 20000);
    cr_assert_eq(rc, 0, "echo must exit 0 after SIGTERM (got %d):\n%s", rc, srv.out);
    rc = api_proc_wait(&held, CLIENT_MS);
    API_CLIENT_OK(rc, held.out);
    API_EXPECT_LINE(held.out, "closed 1001 2");
    api_proc_free(&held);
    api_proc_free(&srv);
}
#endif
