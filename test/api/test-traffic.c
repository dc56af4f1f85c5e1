/* test-traffic.c — normal WebSocket traffic through the in-process server, from
 * independent clients: python3-websockets, Node.js `ws`, and hand-built frames.
 * Echo of text, binary, empty and 16 MiB messages, fragments, ping/pong, corked
 * replies, frames that share the handshake's segment, service-initiated closes, query
 * strings, and the stats counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness.h"

#define CLIENT_MS 60000

static void
echo_on_workers(unsigned workers)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = workers});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "ws_client.py", "echo", s.uri, NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok text 5");
    API_EXPECT_LINE(out, "ok binary 256");
    API_EXPECT_LINE(out, "ok empty-text 0");
    API_EXPECT_LINE(out, "ok empty-binary 0");
    API_EXPECT_LINE(out, "ok binary-64k 65536");
    API_EXPECT_LINE(out, "close 1000");
    free(out);
    rc = api_python(CLIENT_MS, &out, "ws_client.py", "fragments", s.uri, NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok fragmented-text");
    API_EXPECT_LINE(out, "ok fragmented-binary 780000");
    free(out);
    rc = api_python(CLIENT_MS, &out, "ws_client.py", "ping", s.uri, NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok pong 9");
    API_EXPECT_LINE(out, "ok pong 125");
    free(out);
    cr_assert(api_wait_all_closed(&s, 3, 10000));
    /* 6 echoed messages, 2 fragmented ones (delivered whole, once each), 1 after pings. */
    cr_assert_eq(atomic_load(&s.c.messages), 9);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 3);
    cr_assert_eq(atomic_load(&s.c.codes[1000]), 3);
    cr_assert_eq(atomic_load(&s.c.send_errors), 0);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 3);
    cr_assert_eq(st.handshakes_failed, 0);
    cr_assert_eq(st.connections, 0);
    cr_assert_eq(st.messages_in, 9);
    cr_assert_eq(st.messages_out, 9);
    api_server_finish(&s);
}

Test(traffic, echo_fragments_ping_1_worker, .timeout = 120)
{
    echo_on_workers(1);
}

Test(traffic, echo_fragments_ping_2_workers, .timeout = 120)
{
    echo_on_workers(2);
}

Test(traffic, echo_fragments_ping_4_workers, .timeout = 120)
{
    echo_on_workers(4);
}

/* 16 MiB binary and 16 MiB (8 M characters) text messages, both exactly at the default
 * limit of 16 MiB, come back unchanged; the counters see every byte. */
Test(traffic, echo_16mib_messages, .timeout = 120)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "ws_client.py", "echo", s.uri, "large", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok binary-16m 16777216");
    API_EXPECT_LINE(out, "ok text-16m 8388608");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.messages_in, 8);
    cr_assert_eq(st.messages_out, 8);
    cr_assert_geq(st.bytes_in, 2u * (16u << 20));
    cr_assert_geq(st.bytes_out, 2u * (16u << 20));
    cr_assert_gt(st.reads, 0);
    cr_assert_gt(st.writes, 0);
    api_server_finish(&s);
}

/* One byte over the limit: close 1009 before the payload is taken. */
Test(traffic, message_over_default_limit_is_1009, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1, .max_message = 100000});
    char *out;
    /* The header alone announces 100001 bytes: the server must not wait for them. */
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http",
                        "frame:op=2,hdrlen=100001,len=10", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "close 1009 ");
    API_EXPECT_LINE(out, "eof");
    free(out);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:op=2,len=100000",
                    "readn:1", "frame:op=8,code=1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_not_null(api_find_prefix(out, "frame 2 1 100000 "), "%s", out);
    API_EXPECT_LINE(out, "close 1000 ");
    free(out);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_PROTOCOL]), 1);
    cr_assert_eq(atomic_load(&s.c.codes[1009]), 1);
    cr_assert_eq(atomic_load(&s.c.messages), 1);
    api_server_finish(&s);
}

/* Node.js `ws` (installed by .ci/install-deps into build-deps/node): it must be there. */
Test(traffic, node_ws_client, .timeout = 60)
{
    const char *mods = getenv("LAPPS_NODE_MODULES");
    cr_assert_not_null(mods);
    char pkg[4096];
    snprintf(pkg, sizeof pkg, "%s/ws/package.json", mods);
    FILE *f = fopen(pkg, "r");
    cr_assert_not_null(f, "%s is missing: run .ci/install-deps (npm ws@8 into build-deps/node)",
                       pkg);
    fclose(f);
    setenv("NODE_PATH", mods, 1);

    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2});
    char script[4096];
    snprintf(script, sizeof script, "%s/ws_client.js", api_clients_dir());
    char *argv[] = {(char *)"/usr/bin/node", script, s.uri, NULL};
    struct api_proc p;
    api_spawn(&p, argv);
    int rc = api_proc_wait(&p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    API_EXPECT_LINE(p.out, "ok text 15");
    API_EXPECT_LINE(p.out, "ok binary 6");
    API_EXPECT_LINE(p.out, "ok empty 0");
    API_EXPECT_LINE(p.out, "ok text-256k 262144");
    API_EXPECT_LINE(p.out, "ok fragments");
    API_EXPECT_LINE(p.out, "ok pong");
    API_EXPECT_LINE(p.out, "close 4001");
    API_EXPECT_LINE(p.out, "done");
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.messages), 5);
    cr_assert_eq(atomic_load(&s.c.codes[4001]), 1);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 1);
    api_server_finish(&s);
}

/* Eight requests in one segment get eight replies in one system call (DESIGN.md §2
 * write path): the whole connection takes three writes — the 101, the eight echoes and
 * the close reply. */
Test(traffic, pipelined_requests_get_corked_replies, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:str=r1",
                        "frame:str=r2", "frame:str=r3", "frame:str=r4", "frame:op=2,str=r5",
                        "frame:str=r6", "frame:str=r7", "frame:str=r8", "readn:8",
                        "frame:op=8,code=1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "text r1");
    API_EXPECT_LINE(out, "text r8");
    API_EXPECT_LINE(out, "frame 2 1 2 7235");
    API_EXPECT_LINE(out, "close 1000 ");
    API_EXPECT_LINE(out, "eof");
    cr_assert_eq(api_count_prefix(out, "frame "), 9, "%s", out);
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.messages_out, 8);
    cr_assert_leq(st.writes, 3, "8 replies to one read must leave together (%lu writes)",
                  (unsigned long)st.writes);
    api_server_finish(&s);
}

/* Frames that arrive in the same segment as the request are processed at once (no
 * epoll event will announce them): a message and a ping. */
Test(traffic, frames_in_the_handshake_segment, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "frame:str=early",
                        "frame:op=9,str=p1", "frame:op=2,hex=00ff", "http", "readn:3", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "http 101");
    API_EXPECT_LINE(out, "text early");
    API_EXPECT_LINE(out, "pong 7031");
    API_EXPECT_LINE(out, "frame 2 1 2 00ff");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.messages), 2);
    api_server_finish(&s);
}

/* Everything trickled one byte per segment: the request, a message, a ping, a 300-byte
 * binary message, a text message fragmented inside a character with a ping between
 * the fragments, and a close — partial headers and control frames are kept across
 * reads. */
Test(traffic, handshake_in_one_byte_segments, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "--trickle", "hs", "frame:str=slow",
                        "http", "readn:1", "frame:op=9,len=125", "frame:op=2,len=300",
                        "frame:fin=0,hex=61c3", "frame:op=9,str=p", "frame:op=0,hex=a962",
                        "readn:3", "frame:op=8,code=4000,reason=bye", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "http 101");
    API_EXPECT_LINE(out, "text slow");
    cr_assert_not_null(api_find_prefix(out, "frame 10 1 125 "), "%s", out);
    cr_assert_not_null(api_find_prefix(out, "frame 2 1 300 "), "%s", out);
    API_EXPECT_LINE(out, "text a\xc3\xa9"
                         "b");
    API_EXPECT_LINE(out, "close 4000 ");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    api_server_finish(&s);
}

/* Pings get pongs with their payload, also between the fragments of a message; an
 * unsolicited pong is ignored. */
Test(traffic, ping_between_fragments_and_unsolicited_pong, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:fin=0,str=hel",
                        "frame:op=9,hex=0102", "frame:op=10,str=unasked",
                        "frame:op=0,fin=0,str=lo ", "frame:op=9,len=125", "frame:op=0,str=world",
                        "readn:3", "frame:op=8,code=1000", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "pong 0102");
    cr_assert_not_null(api_find_prefix(out, "frame 10 1 125 "), "%s", out);
    API_EXPECT_LINE(out, "text hello world");
    cr_assert_eq(api_count_prefix(out, "pong "), 2, "%s", out);
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.messages), 1);
    api_server_finish(&s);
}

/* The service closes: lapps_conn_close() with a code and reason; an invalid code is
 * refused and the connection goes on; an on_message error closes with 1011. */
Test(traffic, service_closes, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *out;
    int rc =
        api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:str=!cmd:close 1005",
                   "frame:str=!cmd:close 999", "frame:str=!cmd:close 4321 see you", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "text close refused -5001");
    cr_assert_eq(api_count_prefix(out, "text close refused"), 2, "%s", out);
    API_EXPECT_LINE(out, "close 4321 see you");
    API_EXPECT_LINE(out, "eof");
    free(out);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:str=!cmd:fail",
                    "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "close 1011 ");
    API_EXPECT_LINE(out, "eof");
    free(out);
    /* And python-websockets closing with 3001: the server answers 3001. */
    rc = api_python(CLIENT_MS, &out, "ws_client.py", "close", s.uri, "3001", "done here", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "close 3001 ");
    free(out);
    cr_assert(api_wait_all_closed(&s, 3, 10000));
    cr_assert_eq(atomic_load(&s.c.codes[3001]), 1);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 1);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_SERVICE]), 1);
    cr_assert_eq(atomic_load(&s.c.codes[4321]), 1);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_SERVICE_ERROR]), 1);
    cr_assert_eq(atomic_load(&s.c.codes[1011]), 1);
    cr_assert_eq(atomic_load(&s.c.send_errors), 0, "send or close after close not refused");
    api_server_finish(&s);
}

/* The query string reaches the service; the peer address is the client's. */
Test(traffic, query_string_and_peer, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char *out;
    int rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs:/echo?room=7&x=%20y", "http",
                        "frame:str=!cmd:query", "frame:str=!cmd:peer", "readn:2", "frame:op=8",
                        "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "http 101");
    API_EXPECT_LINE(out, "text room=7&x=%20y");
    cr_assert_not_null(api_find_prefix(out, "text 127.0.0.1:"), "%s", out);
    API_EXPECT_LINE(out, "close empty");
    free(out);
    rc = api_python(CLIENT_MS, &out, "raw.py", s.port_str, "hs", "http", "frame:str=!cmd:query",
                    "readn:1", "frame:op=8", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "frame 1 1 0 ");
    free(out);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    cr_assert_eq(atomic_load(&s.c.query_seen), 1);
    api_server_finish(&s);
}
