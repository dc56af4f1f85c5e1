/* test-load.c — many connections and slow clients: 1000 clients open at once, 10 000
 * connect/close cycles without an fd leak, and a client that never reads, which the
 * server must cut off at its outbound limit with bounded memory. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

/* 1000 python-websockets clients connected at the same time (each waits until all are
 * open, echoes one message, and waits until all were answered before closing). */
Test(load, thousand_concurrent_clients, .timeout = 150)
{
    api_raise_nofile(20000);
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    int fds = api_fd_count();
    char *out;
    int rc = api_python(120000, &out, "ws_client.py", "many", s.uri, "1000", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok 1000");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1000, 20000), "%d opens, %d closes", atomic_load(&s.c.opens),
              atomic_load(&s.c.closes));
    cr_assert_eq(atomic_load(&s.c.opens), 1000);
    cr_assert_eq(atomic_load(&s.c.peak), 1000, "all 1000 must have been open at once (peak %d)",
                 atomic_load(&s.c.peak));
    cr_assert_eq(atomic_load(&s.c.messages), 1000);
    cr_assert_eq(atomic_load(&s.c.codes[1000]), 1000);
    cr_assert_eq(atomic_load(&s.c.per_worker[0]) + atomic_load(&s.c.per_worker[1]), 1000);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 1000);
    cr_assert_eq(st.connections, 0);
    cr_assert_eq(api_wait_fds(fds, 10000), fds, "descriptors leaked");
    api_server_finish(&s);
}

/* 10 000 connections one after another, ended five different ways (clean close, FIN
 * without close frame, reset, half a request, nothing at all): the server's descriptor
 * count comes back to where it was, and every opened connection got its on_close. */
Test(load, ten_thousand_connect_close_cycles_leak_no_fd, .timeout = 170)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    int fds = api_fd_count();
    char *out;
    int rc = api_python(150000, &out, "cycles.py", s.port_str, "10000", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "opened 6000");
    API_EXPECT_LINE(out, "clean 2000");
    free(out);
    cr_assert(api_wait_all_closed(&s, 6000, 20000), "%d opens, %d closes", atomic_load(&s.c.opens),
              atomic_load(&s.c.closes));
    cr_assert_eq(atomic_load(&s.c.opens), 6000);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 2000);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_DROPPED]), 4000);
    cr_assert_eq(atomic_load(&s.c.codes[1006]), 4000);
    cr_assert_eq(atomic_load(&s.c.messages), 2000);
    cr_assert_eq(api_wait_fds(fds, 10000), fds, "descriptors leaked: %d before, %d after", fds,
                 api_fd_count());
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 10000);
    cr_assert_eq(st.connections, 0);
    api_server_finish(&s);
}

/* A client with a tiny receive buffer that never reads, while the service answers each
 * of its messages with 16 KiB: once 64 KiB wait in the server, the connection is closed
 * (on_close: LAPPS_CLOSED_OUTBOUND, 1008), and what the server buffered for it never
 * went past the limit by more than one message. */
Test(load, client_that_never_reads_hits_outbound_limit, .timeout = 90)
{
    const size_t limit = 64u << 10, msg = 16u << 10;
    struct api_server s;
    api_server_start(
        &s, &(struct api_config){
                .workers = 1, .max_outbound = limit, .mode = API_FLOOD, .flood_size = msg});
    struct api_proc p;
    api_python_spawn(&p, "raw.py", s.port_str, "--rcvbuf", "4096", "hs", "http", "flood:4000,10",
                     "sleep:60000", NULL);
    cr_assert(api_wait_all_closed(&s, 1, 60000), "the server never closed the stalled client");
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_OUTBOUND);
    cr_assert_eq(atomic_load(&s.c.last_code), 1008);
    cr_assert_geq(atomic_load(&s.c.limit_errors), 1, "a send past the limit fails");
    size_t peak = atomic_load(&s.c.max_buffered);
    cr_assert_gt(peak, 0, "output was queued");
    cr_assert_leq(peak, limit + msg + 14, "buffered %zu bytes for a %zu-byte limit", peak, limit);
    /* The client was still there, not reading: the server cut it off. */
    siginfo_t si = {0};
    cr_assert_eq(waitid(P_PID, (id_t)p.pid, &si, WEXITED | WNOHANG | WNOWAIT), 0);
    cr_assert_eq(si.si_pid, 0, "the client exited by itself:\n%s", p.out);
    api_proc_kill(&p, SIGTERM, 5000);
    cr_assert(api_has_line(p.out, "http 101"), "%s", p.out);
    api_proc_free(&p);
    api_server_finish(&s);
}

/* The same flood from a client that only pauses: when it reads again it gets what was
 * queued for it, then the close frame (1008) that the limit put behind it, then the
 * server's FIN; the service hears LAPPS_CLOSED_OUTBOUND. */
Test(load, slow_reader_past_the_limit_sees_close_1008, .timeout = 60)
{
    const size_t limit = 64u << 10, msg = 16u << 10;
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1,
                                              .max_outbound = limit,
                                              .close_ms = 20000,
                                              .mode = API_FLOOD,
                                              .flood_size = msg});
    char *out;
    int rc = api_python(40000, &out, "raw.py", s.port_str, "--rcvbuf", "4096", "hs", "http",
                        "flood:200,10", "sleep:1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert(api_has_line(out, "close 1008 outbound limit"), "%s", out);
    cr_assert(api_has_line(out, "eof"), "%s", out);
    /* The limit fires when what waits plus the next 16 KiB passes 64 KiB: at least three
     * whole messages were waiting, and the reader gets them before the close. */
    cr_assert_geq(api_count_prefix(out, "frame 2 1 16384 "), 3, "%s", out);
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_OUTBOUND);
    cr_assert_eq(atomic_load(&s.c.last_code), 1008);
    cr_assert_geq(atomic_load(&s.c.limit_errors), 1);
    api_server_finish(&s);
}

/* A service that applies backpressure (sends while lapps_conn_buffered() is at most half
 * the limit, then waits for on_drain) gets to send everything to a client that reads:
 * 100 messages of 4000 bytes with a 64 KiB limit. */
Test(load, backpressure_with_on_drain_reader_keeps_up, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .max_outbound = 64u << 10});
    char *out;
    int rc = api_python(30000, &out, "raw.py", s.port_str, "hs", "http",
                        "frame:str=!cmd:produce 100 4000", "readn:101", "frame:op=8", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, "frame 2 1 4000 "), 100, "%s", out);
    API_EXPECT_LINE(out, "text produced");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_geq(atomic_load(&s.c.drains), 1);
    cr_assert_eq(atomic_load(&s.c.limit_errors), 0);
    api_server_finish(&s);
}

/* The same with a client that reads only after a pause, through a tiny receive buffer:
 * output really queues in the server, and on_drain resumes the service. */
Test(load, backpressure_with_on_drain_slow_reader, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .max_outbound = 64u << 10});
    char *out;
    int rc = api_python(30000, &out, "raw.py", s.port_str, "--rcvbuf", "4096", "hs", "http",
                        "frame:str=!cmd:produce 2000 4000", "sleep:500", "readn:2001", "frame:op=8",
                        "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, "frame 2 1 4000 "), 2000, "%s", out);
    API_EXPECT_LINE(out, "text produced");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_geq(atomic_load(&s.c.drains), 1);
    cr_assert_eq(atomic_load(&s.c.limit_errors), 0);
    api_server_finish(&s);
}

/* Peak resident memory of this process, in KiB. */
static long
peak_rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = atol(line + 6);
    fclose(f);
    return kib;
}

/* A client that sends pings and never reads: the pongs it is owed wait in the server,
 * so they count against the outbound limit too. 400 000 pings (50 MB of pongs) against a
 * 64 KiB limit: the server closes the connection, and its memory does not grow by the
 * pongs' size. */
Test(load, ping_flood_without_reading_is_bounded, .timeout = 90)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .max_outbound = 64u << 10});
    long before = peak_rss_kib();
    struct api_proc p;
    api_python_spawn(&p, "raw.py", s.port_str, "--rcvbuf", "4096", "hs", "http", "pingflood:400000",
                     "sleep:60000", NULL);
    cr_assert(api_wait_all_closed(&s, 1, 30000), "the server never closed the ping flooder");
    long grown = peak_rss_kib() - before;
    cr_assert_eq(atomic_load(&s.c.last_reason), LAPPS_CLOSED_OUTBOUND);
    cr_assert_eq(atomic_load(&s.c.last_code), 1008);
    cr_assert_lt(grown, 16 * 1024, "the server's memory grew by %ld KiB", grown);
    api_proc_kill(&p, SIGTERM, 5000);
    api_proc_free(&p);
    api_server_finish(&s);
}
