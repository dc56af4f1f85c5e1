/* test-tls.c — wss:// through the in-process server: a TLS listener beside a plain one,
 * driven by independent clients (python3-websockets over Python's ssl, TLS by hand
 * through memory BIOs, `openssl s_client` and `s_server`). Echo over wss, protocol
 * versions and cipher lists, peers that send garbage or stop in the middle of a
 * handshake or a record (the worker keeps serving others), hand-over of TLS sessions
 * between workers, certificate reload under load, client certificates, set-up errors,
 * and descriptors after many TLS connections.
 *
 * Every test makes its own PKI with the openssl CLI (clients/make_certs.sh) in a
 * directory of its own, removed afterwards. Server certificates are always verified by
 * the clients against that test CA. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

#define CLIENT_MS 60000

/* ---- the test PKI ---- */

static struct {
    char dir[64];
    char ca[128];
    char server1[128], server1_key[128];
    char server2[128], server2_key[128];
    char client[128], client_key[128];
    char rogue[128], rogue_key[128]; /* self-signed: no test CA vouches for it */
    char live[128], live_key[128];   /* what a reloading server reads */
    char trigger[128];
    char fp1[65], fp2[65]; /* SHA-256 of server1.pem and server2.pem */
} pki;

static void
read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
}

/* Writes a file under a temporary name and renames it into place, as an operator's
 * deployment would. */
static void
write_file(const char *path, const char *data, size_t len)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f, "%s: %s", tmp, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, path), 0, "rename %s: %s", path, strerror(errno));
}

static void
copy_file(const char *from, const char *to)
{
    static char buf[1 << 16];
    FILE *f = fopen(from, "r");
    cr_assert_not_null(f, "%s: %s", from, strerror(errno));
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert_gt(n, 0);
    write_file(to, buf, n);
}

/* Puts a certificate and key in place as the live pair. */
static void
install(const char *cert, const char *key)
{
    copy_file(cert, pki.live);
    copy_file(key, pki.live_key);
}

static void
pki_make(void)
{
    char script[4096];
    snprintf(script, sizeof script, "%s/make_certs.sh", api_clients_dir());
    snprintf(pki.dir, sizeof pki.dir, "/tmp/lapps-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(pki.dir), "mkdtemp: %s", strerror(errno));
#define PKI_PATH(field, name) snprintf(pki.field, sizeof pki.field, "%s/" name, pki.dir)
    PKI_PATH(ca, "ca.pem");
    PKI_PATH(server1, "server1.pem");
    PKI_PATH(server1_key, "server1.key");
    PKI_PATH(server2, "server2.pem");
    PKI_PATH(server2_key, "server2.key");
    PKI_PATH(client, "client.pem");
    PKI_PATH(client_key, "client.key");
    PKI_PATH(rogue, "rogue.pem");
    PKI_PATH(rogue_key, "rogue.key");
    PKI_PATH(live, "live.pem");
    PKI_PATH(live_key, "live.key");
    PKI_PATH(trigger, "trigger");
#undef PKI_PATH
    char *argv[] = {(char *)"/bin/sh", script, pki.dir, NULL};
    struct api_proc p;
    api_spawn(&p, argv);
    int rc = api_proc_wait(&p, 30000);
    cr_assert_eq(rc, 0, "make_certs.sh failed (exit %d):\n%s", rc, p.out);
    cr_assert(api_has_line(p.out, "done"), "%s", p.out);
    api_proc_free(&p);
    char path[160];
    snprintf(path, sizeof path, "%s/server1.sha256", pki.dir);
    read_file(path, pki.fp1, sizeof pki.fp1);
    snprintf(path, sizeof path, "%s/server2.sha256", pki.dir);
    read_file(path, pki.fp2, sizeof pki.fp2);
    cr_assert_eq(strlen(pki.fp1), 64, "%s", pki.fp1);
    cr_assert_str_neq(pki.fp1, pki.fp2);
    install(pki.server1, pki.server1_key);
}

static void
pki_remove(void)
{
    if (!pki.dir[0])
        return;
    DIR *d = opendir(pki.dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof path, "%s/%s", pki.dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(pki.dir);
}

TestSuite(tls, .init = pki_make, .fini = pki_remove);

/* ---- helpers ---- */

/* A server with the plain listener and a TLS one using server1's certificate. */
static struct api_config
tls_config(unsigned workers)
{
    return (struct api_config){
        .workers = workers, .tls_cert = pki.server1, .tls_key = pki.server1_key};
}

/* Checks an "echo" run of tls_client.py; tls: through the wss:// listener. */
static void
expect_echo_output(const char *out, bool tls, bool large)
{
    API_EXPECT_LINE(out, "ok text 5");
    API_EXPECT_LINE(out, "ok binary 256");
    API_EXPECT_LINE(out, "ok empty-text 0");
    API_EXPECT_LINE(out, "ok empty-binary 0");
    API_EXPECT_LINE(out, "ok binary-64k 65536");
    if (large) {
        API_EXPECT_LINE(out, "ok binary-4m 4194304");
        API_EXPECT_LINE(out, "ok text-4m 2097152");
    }
    API_EXPECT_LINE(out, tls ? "tls 1" : "tls 0");
    API_EXPECT_LINE(out, "close 1000");
    API_EXPECT_LINE(out, "done");
}

/* The fingerprint a client printed ("fingerprint HEX"), compared with @p want. */
static void
expect_fingerprint(const char *out, const char *want)
{
    const char *fp = api_find_prefix(out, "fingerprint ");
    cr_assert_not_null(fp, "no fingerprint:\n%s", out);
    fp += strlen("fingerprint ");
    cr_assert(strncmp(fp, want, 64) == 0 && (fp[64] == '\n' || fp[64] == 0),
              "the server presented another certificate: expected %s:\n%s", want, out);
}

/* Waits until the server accepted @p n TCP connections. */
static bool
wait_accepted(struct api_server *s, uint64_t n, int timeout_ms)
{
    for (int t = 0; api_stats(s).accepted < n; t += 5) {
        if (t >= timeout_ms)
            return false;
        api_sleep_ms(5);
    }
    return true;
}

/* Waits until handshakes_failed reaches @p n (a refused client may read the server's
 * alert before the worker counts the failure); returns the count. */
static uint64_t
wait_failed(struct api_server *s, uint64_t n, int timeout_ms)
{
    for (int t = 0; api_stats(s).handshakes_failed < n && t < timeout_ms; t += 5)
        api_sleep_ms(5);
    return api_stats(s).handshakes_failed;
}

/* A new wss client's view of the server's certificate. */
static void
expect_new_client_sees(struct api_server *s, const char *want)
{
    char *out;
    int rc = api_python(CLIENT_MS, &out, "tls_client.py", "connect", s->tls_uri, pki.ca, NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "opened");
    API_EXPECT_LINE(out, "close 1000");
    expect_fingerprint(out, want);
    free(out);
}

/* Runs `openssl s_client` through tls_client.py against @p port (kind "ws": with a
 * WebSocket upgrade) with up to five arguments of its own (the first NULL ends them). */
static char *
sclient(const char *port, const char *kind, const char *a1, const char *a2, const char *a3,
        const char *a4, const char *a5)
{
    char *out;
    int rc = api_python(CLIENT_MS, &out, "tls_client.py", "sclient", port, kind, "--", a1, a2, a3,
                        a4, a5, NULL);
    API_CLIENT_OK(rc, out);
    return out;
}

/* ---- 1. echo over wss:// ---- */

/* python3-websockets over wss://, verifying the server's certificate against the test
 * CA, gets text, binary, empty and 4 MiB messages back unchanged, while a ws:// client
 * of the same server is served too; lapps_conn_is_tls() tells them apart (the service
 * counts it in on_open and answers "!cmd:tls"), and the certificate presented is the
 * configured one. */
Test(tls, wss_echo_beside_plain_listener, .timeout = 90)
{
    struct api_server s;
    struct api_config cfg = tls_config(2);
    api_server_start(&s, &cfg);
    struct api_proc wss, ws;
    api_python_spawn(&wss, "tls_client.py", "echo", s.tls_uri, pki.ca, "large", NULL);
    api_python_spawn(&ws, "tls_client.py", "echo", s.uri, pki.ca, NULL);
    int rc = api_proc_wait(&wss, CLIENT_MS);
    API_CLIENT_OK(rc, wss.out);
    expect_echo_output(wss.out, true, true);
    expect_fingerprint(wss.out, pki.fp1);
    rc = api_proc_wait(&ws, CLIENT_MS);
    API_CLIENT_OK(rc, ws.out);
    expect_echo_output(ws.out, false, false);
    cr_assert_null(api_find_prefix(ws.out, "fingerprint "), "%s", ws.out);
    api_proc_free(&wss);
    api_proc_free(&ws);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    cr_assert_eq(atomic_load(&s.c.tls_opens), 1);
    cr_assert_eq(atomic_load(&s.c.plain_opens), 1);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 2);
    cr_assert_eq(atomic_load(&s.c.send_errors), 0);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 2);
    cr_assert_eq(st.handshakes_failed, 0);
    /* wss: 7 echoes and "!cmd:tls"; ws: 5 echoes and "!cmd:tls". */
    cr_assert_eq(st.messages_in, 14);
    cr_assert_eq(st.messages_out, 14);
    cr_assert_gt(st.bytes_in, 2 * 4194304, "the 4 MiB messages were counted as plaintext");
    api_server_finish(&s);
}

/* The same in embedded mode (one loop on the caller's thread, no workers): TLS
 * handshakes and records are driven by lapps_server_dispatch(). */
Test(tls, wss_echo_embedded, .timeout = 90)
{
    struct api_server s;
    struct api_config cfg = tls_config(0);
    api_server_start(&s, &cfg);
    struct api_proc p;
    api_python_spawn(&p, "tls_client.py", "echo", s.tls_uri, pki.ca, "large", NULL);
    int rc = api_embedded_wait_proc(&s, &p, CLIENT_MS);
    API_CLIENT_OK(rc, p.out);
    expect_echo_output(p.out, true, true);
    api_proc_free(&p);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.tls_opens), 1);
    api_server_finish(&s);
}

/* ---- 2. protocol versions and cipher lists ---- */

/* TLS 1.0 and 1.1 are refused, 1.2 and 1.3 accepted (and carry a WebSocket upgrade).
 * The refusals are not vacuous: the very same client command, which lowers OpenSSL's
 * security level to 0, completes TLS 1.1 and 1.0 handshakes with `openssl s_server`
 * (the control), so only the server can have refused them. */
Test(tls, protocol_versions, .timeout = 90)
{
    struct api_server s;
    struct api_config cfg = tls_config(1);
    api_server_start(&s, &cfg);
    static const char *const old[][2] = {{"-tls1_1", "TLSv1.1"}, {"-tls1", "TLSv1"}};
    for (size_t i = 0; i < 2; i++) {
        char *out;
        int rc = api_python(CLIENT_MS, &out, "tls_client.py", "control", pki.server1,
                            pki.server1_key, old[i][0], "-cipher", "DEFAULT@SECLEVEL=0", "--",
                            old[i][0], "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", pki.ca, NULL);
        API_CLIENT_OK(rc, out);
        char want[64];
        snprintf(want, sizeof want, "established %s ", old[i][1]);
        cr_assert_not_null(api_find_prefix(out, want),
                           "control: the client must accept %s from s_server:\n%s", old[i][1], out);
        free(out);
        out = sclient(s.tls_port_str, "tls", old[i][0], "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile",
                      pki.ca);
        API_EXPECT_LINE(out, "refused");
        cr_assert_null(api_find_prefix(out, "established"), "%s", out);
        free(out);
    }
    char *out =
        sclient(s.tls_port_str, "ws", "-tls1_2", "-CAfile", pki.ca, "-verify_return_error", NULL);
    cr_assert_not_null(api_find_prefix(out, "established TLSv1.2 ECDHE-ECDSA-"), "%s", out);
    API_EXPECT_LINE(out, "http 101");
    free(out);
    out = sclient(s.tls_port_str, "ws", "-tls1_3", "-CAfile", pki.ca, "-verify_return_error", NULL);
    cr_assert_not_null(api_find_prefix(out, "established TLSv1.3 TLS_"), "%s", out);
    API_EXPECT_LINE(out, "http 101");
    free(out);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    cr_assert_eq(atomic_load(&s.c.tls_opens), 2);
    cr_assert_eq(api_stats(&s).accepted, 4);
    cr_assert_eq(wait_failed(&s, 2, 10000), 2, "each refused version is a failed handshake");
    api_server_finish(&s);
}

/* With the minimum version set to 1.3, a TLS 1.2 client (which the default server above
 * accepts) is refused and a TLS 1.3 one served. */
Test(tls, min_version_1_3_refuses_1_2, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1,
                                              .tls_cert = pki.server1,
                                              .tls_key = pki.server1_key,
                                              .tls_min_version = LAPPS_TLS_1_3});
    char *out = sclient(s.tls_port_str, "ws", "-tls1_2", "-CAfile", pki.ca, NULL, NULL);
    API_EXPECT_LINE(out, "refused");
    free(out);
    out = sclient(s.tls_port_str, "ws", "-tls1_3", "-CAfile", pki.ca, "-verify_return_error", NULL);
    cr_assert_not_null(api_find_prefix(out, "established TLSv1.3 "), "%s", out);
    API_EXPECT_LINE(out, "http 101");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), 1);
    cr_assert_eq(wait_failed(&s, 1, 10000), 1);
    api_server_finish(&s);
}

/* lapps_tls_set_ciphers() is what the server negotiates: with one TLS 1.2 suite and one
 * TLS 1.3 suite configured, clients get exactly those, and a TLS 1.2 client offering
 * only another suite (one the defaults would take) is refused. */
Test(tls, cipher_lists_are_applied, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1,
                                              .tls_cert = pki.server1,
                                              .tls_key = pki.server1_key,
                                              .tls_ciphers12 = "ECDHE-ECDSA-CHACHA20-POLY1305",
                                              .tls_ciphers13 = "TLS_CHACHA20_POLY1305_SHA256"});
    char *out = sclient(s.tls_port_str, "ws", "-tls1_2", "-CAfile", pki.ca, NULL, NULL);
    API_EXPECT_LINE(out, "established TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305");
    API_EXPECT_LINE(out, "http 101");
    free(out);
    out = sclient(s.tls_port_str, "ws", "-tls1_3", "-CAfile", pki.ca, NULL, NULL);
    API_EXPECT_LINE(out, "established TLSv1.3 TLS_CHACHA20_POLY1305_SHA256");
    API_EXPECT_LINE(out, "http 101");
    free(out);
    out = sclient(s.tls_port_str, "tls", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
                  "-CAfile", pki.ca);
    API_EXPECT_LINE(out, "refused");
    free(out);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), 2);
    cr_assert_eq(wait_failed(&s, 1, 10000), 1);
    api_server_finish(&s);
}

/* ---- 3, 4, 5. peers that break or stall the TLS layer ---- */

/* A client that sends a plain HTTP request (no ClientHello) to the wss:// port is
 * closed at once — long before the 20 s handshake timeout, within the client's 10 s
 * deadline — and counted as a failed handshake, while a wss client and a ws client that
 * run at the same time on the same single worker are served. A TLS client at the ws://
 * port gets the opposite: its ClientHello is answered with 400 in clear text. */
Test(tls, garbage_instead_of_client_hello, .timeout = 90)
{
    struct api_server s;
    struct api_config cfg = tls_config(1);
    cfg.handshake_ms = 20000;
    api_server_start(&s, &cfg);
    struct api_proc bad, wss, ws;
    api_python_spawn(&bad, "tls_client.py", "--timeout", "10", "garbage", s.tls_port_str, NULL);
    api_python_spawn(&wss, "tls_client.py", "echo", s.tls_uri, pki.ca, "large", NULL);
    api_python_spawn(&ws, "tls_client.py", "echo", s.uri, pki.ca, "large", NULL);
    int rc = api_proc_wait(&bad, CLIENT_MS);
    API_CLIENT_OK(rc, bad.out);
    cr_assert(api_has_line(bad.out, "eof") || api_has_line(bad.out, "reset"),
              "the server must close the connection, not wait for the handshake timeout:\n%s",
              bad.out);
    rc = api_proc_wait(&wss, CLIENT_MS);
    API_CLIENT_OK(rc, wss.out);
    expect_echo_output(wss.out, true, true);
    rc = api_proc_wait(&ws, CLIENT_MS);
    API_CLIENT_OK(rc, ws.out);
    expect_echo_output(ws.out, false, true);
    api_proc_free(&bad);
    api_proc_free(&wss);
    api_proc_free(&ws);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 3);
    cr_assert_eq(wait_failed(&s, 1, 10000), 1, "the garbage connection is a failed handshake");
    cr_assert_eq(atomic_load(&s.c.opens), 2);

    /* TLS to the plain port. */
    char *out = sclient(s.port_str, "tls", "-CAfile", pki.ca, NULL, NULL, NULL);
    API_EXPECT_LINE(out, "refused");
    free(out);
    cr_assert_eq(api_stats(&s).accepted, 4);
    cr_assert_eq(wait_failed(&s, 2, 10000), 2, "the ClientHello is a malformed request (400)");
    cr_assert_eq(atomic_load(&s.c.opens), 2);
    api_server_finish(&s);
}

/* A client that completes TCP and sends only the first 50 bytes of a real ClientHello
 * (made by Python's ssl) is closed at the 1 s handshake timeout — never before it — and
 * counted as a failed handshake; meanwhile wss and ws clients on the same worker are
 * served. */
Test(tls, stalled_client_hello_closed_at_handshake_timeout, .timeout = 90)
{
    struct api_server s;
    struct api_config cfg = tls_config(1);
    cfg.handshake_ms = 1000;
    api_server_start(&s, &cfg);
    int fds = api_fd_count();
    struct api_proc stalled, wss, ws;
    api_python_spawn(&stalled, "tls_client.py", "partial", s.tls_port_str, "50", NULL);
    cr_assert(wait_accepted(&s, 1, 30000), "the stalled client did not connect");
    api_python_spawn(&wss, "tls_client.py", "echo", s.tls_uri, pki.ca, NULL);
    api_python_spawn(&ws, "tls_client.py", "echo", s.uri, pki.ca, NULL);
    int rc = api_proc_wait(&wss, CLIENT_MS);
    API_CLIENT_OK(rc, wss.out);
    expect_echo_output(wss.out, true, false);
    rc = api_proc_wait(&ws, CLIENT_MS);
    API_CLIENT_OK(rc, ws.out);
    expect_echo_output(ws.out, false, false);
    rc = api_proc_wait(&stalled, CLIENT_MS);
    API_CLIENT_OK(rc, stalled.out);
    API_EXPECT_LINE(stalled.out, "bytes 0");
    cr_assert(api_has_line(stalled.out, "eof") || api_has_line(stalled.out, "reset"), "%s",
              stalled.out);
    /* Not a timed upper bound: the server must not give up before its timeout. */
    const char *el = api_find_prefix(stalled.out, "elapsed-ms ");
    cr_assert_not_null(el, "%s", stalled.out);
    cr_assert_geq(atoi(el + strlen("elapsed-ms ")), 990, "closed before the handshake timeout:\n%s",
                  stalled.out);
    api_proc_free(&stalled);
    api_proc_free(&wss);
    api_proc_free(&ws);
    cr_assert(api_wait_all_closed(&s, 2, 10000));
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 3);
    cr_assert_eq(st.handshakes_failed, 1);
    cr_assert_eq(atomic_load(&s.c.opens), 2);
    cr_assert_eq(api_wait_fds(fds, 10000), fds, "the timed-out socket is closed");
    api_server_finish(&s);
}

/* A client that opens a WebSocket over TLS and then stops in the middle of a TLS record
 * does not hold the worker: on the same single worker, wss, ws and pipelining TLS
 * clients are served while it is stalled. The stalled connection is ended by the idle
 * timeout (lib/net/conn.c: a partial record is no frame, so the last frame's time
 * stands): the server sends close 1001 "idle" through the session, waits close_ms for
 * an answer that cannot come, then drops it; on_close reports LAPPS_CLOSED_TIMEOUT with
 * 1001. */
Test(tls, stalled_record_does_not_block_worker, .timeout = 90)
{
    struct api_server s;
    struct api_config cfg = tls_config(1);
    cfg.idle_ms = 3000; /* long enough that the busy clients are never idle that long */
    cfg.close_ms = 500;
    api_server_start(&s, &cfg);
    struct api_proc stalled, wss, ws, pipe;
    api_python_spawn(&stalled, "tls_client.py", "stall", s.tls_port_str, pki.ca, NULL);
    cr_assert(api_proc_wait_line(&stalled, "stalled", 30000), "%s", stalled.out);
    api_python_spawn(&wss, "tls_client.py", "echo", s.tls_uri, pki.ca, NULL);
    api_python_spawn(&ws, "tls_client.py", "echo", s.uri, pki.ca, NULL);
    api_python_spawn(&pipe, "tls_client.py", "pipelined", s.tls_port_str, pki.ca, "8", NULL);
    int rc = api_proc_wait(&wss, CLIENT_MS);
    API_CLIENT_OK(rc, wss.out);
    expect_echo_output(wss.out, true, false);
    rc = api_proc_wait(&ws, CLIENT_MS);
    API_CLIENT_OK(rc, ws.out);
    expect_echo_output(ws.out, false, false);
    rc = api_proc_wait(&pipe, CLIENT_MS);
    API_CLIENT_OK(rc, pipe.out);
    API_EXPECT_LINE(pipe.out, "ok 8");
    rc = api_proc_wait(&stalled, CLIENT_MS);
    API_CLIENT_OK(rc, stalled.out);
    API_EXPECT_LINE(stalled.out, "open");
    API_EXPECT_LINE(stalled.out, "close 1001 idle");
    API_EXPECT_LINE(stalled.out, "eof");
    api_proc_free(&stalled);
    api_proc_free(&wss);
    api_proc_free(&ws);
    api_proc_free(&pipe);
    cr_assert(api_wait_all_closed(&s, 11, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), 11);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_TIMEOUT]), 1);
    cr_assert_eq(atomic_load(&s.c.codes[1001]), 1);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 10);
    api_server_finish(&s);
}

/* ---- 6. hand-over ---- */

/* Two workers, the service on one: TLS connections the other worker accepted finish
 * their TLS and WebSocket handshakes there and are handed over with their session —
 * including plaintext that followed the request in the same record and a second record
 * right behind it. Every connection echoes correctly on the host. */
Test(tls, hand_over_of_tls_sessions, .timeout = 120)
{
    struct api_server s;
    struct api_config cfg = tls_config(2);
    cfg.instances = 1;
    api_server_start(&s, &cfg);
    struct api_proc many, pipe;
    api_python_spawn(&many, "tls_client.py", "many", s.tls_uri, pki.ca, "64", NULL);
    api_python_spawn(&pipe, "tls_client.py", "pipelined", s.tls_port_str, pki.ca, "32", NULL);
    int rc = api_proc_wait(&many, CLIENT_MS);
    API_CLIENT_OK(rc, many.out);
    API_EXPECT_LINE(many.out, "ok 64");
    rc = api_proc_wait(&pipe, CLIENT_MS);
    API_CLIENT_OK(rc, pipe.out);
    API_EXPECT_LINE(pipe.out, "ok 32");
    api_proc_free(&many);
    api_proc_free(&pipe);
    cr_assert(api_wait_all_closed(&s, 96, 20000));
    cr_assert_eq(atomic_load(&s.c.tls_opens), 96);
    cr_assert_eq(atomic_load(&s.c.per_worker[0]), 96);
    cr_assert_eq(atomic_load(&s.c.per_worker[1]), 0,
                 "a connection opened on a worker without "
                 "an instance");
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 96);
    lapps_stats st = api_stats(&s);
    cr_assert_gt(st.handed_over, 0, "no connection crossed workers: the test proved nothing");
    cr_assert_lt(st.handed_over, 96);
    cr_assert_eq(st.messages_in, 64 * 2 + 32 * 2);
    cr_assert_eq(st.connections, 0);
    api_server_finish(&s);
}

/* ---- 7. certificate reload ---- */

/* lapps_server_reload_tls() under load: 8 wss connections echo in a loop throughout.
 * After the files are replaced with the second certificate and reloaded, a new client
 * sees the new certificate (by SHA-256 fingerprint) while the old connections keep
 * echoing with the old one. A reload with a broken key file, or with a key that does
 * not match the certificate, returns LAPPS_ERR_TLS, logs the file, and changes nothing.
 * A later good reload still works. */
Test(tls, certificate_reload_under_load, .timeout = 120)
{
    struct api_server s;
    api_server_start(
        &s, &(struct api_config){.workers = 2, .tls_cert = pki.live, .tls_key = pki.live_key});
    struct api_proc load;
    api_python_spawn(&load, "tls_client.py", "load", s.tls_uri, pki.ca, "8", pki.trigger, NULL);
    cr_assert(api_proc_wait_line(&load, "open 8", 30000), "%s", load.out);
    cr_assert_geq(api_wait_atleast(&s.c.messages, 8 + 40, 30000), 8 + 40, "the load is running");
    expect_new_client_sees(&s, pki.fp1);

    install(pki.server2, pki.server2_key);
    int before = atomic_load(&s.c.messages);
    cr_assert_eq(lapps_server_reload_tls(s.srv), 0);
    expect_new_client_sees(&s, pki.fp2);
    cr_assert_geq(api_wait_atleast(&s.c.messages, before + 40, 30000), before + 40,
                  "the connections made before the reload keep echoing");

    /* A key file that is not PEM. */
    static const char junk[] =
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
    write_file(pki.live_key, junk, sizeof junk - 1);
    int errors = atomic_load(&s.c.log_errors);
    cr_assert_eq(lapps_server_reload_tls(s.srv), LAPPS_ERR_TLS);
    cr_assert_gt(atomic_load(&s.c.log_errors), errors, "the failure is logged");
    cr_assert(api_log_has(&s, pki.live_key), "the log names the key file:\n%s", s.errlog);
    expect_new_client_sees(&s, pki.fp2);
    /* A valid key of another certificate. */
    install(pki.server1, pki.server2_key);
    cr_assert_eq(lapps_server_reload_tls(s.srv), LAPPS_ERR_TLS);
    expect_new_client_sees(&s, pki.fp2);
    /* Files fixed: the next reload takes them. */
    install(pki.server1, pki.server1_key);
    cr_assert_eq(lapps_server_reload_tls(s.srv), 0);
    expect_new_client_sees(&s, pki.fp1);

    before = atomic_load(&s.c.messages);
    cr_assert_geq(api_wait_atleast(&s.c.messages, before + 40, 30000), before + 40);
    write_file(pki.trigger, "", 0);
    int rc = api_proc_wait(&load, CLIENT_MS);
    API_CLIENT_OK(rc, load.out);
    API_EXPECT_LINE(load.out, "after-trigger 8");
    char want[128];
    snprintf(want, sizeof want, "fingerprints 1 %s", pki.fp1);
    cr_assert(api_has_line(load.out, want),
              "the old connections keep the certificate they were made with:\n%s", load.out);
    api_proc_free(&load);
    cr_assert(api_wait_all_closed(&s, 8 + 5, 20000));
    cr_assert_eq(atomic_load(&s.c.opens), 13);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 13);
    cr_assert_eq(atomic_load(&s.c.send_errors), 0);
    api_server_finish(&s);
}

/* ---- 8. client certificates ---- */

/* LAPPS_TLS_VERIFY_REQUIRE with the test CA: a client without a certificate is refused,
 * one with a certificate the CA signed is served, one with a self-signed certificate is
 * refused. LAPPS_TLS_VERIFY_OPTIONAL: with or without a certificate is served, a
 * certificate that does not verify is still refused. */
Test(tls, client_certificates, .timeout = 90)
{
    static const lapps_tls_verify modes[] = {LAPPS_TLS_VERIFY_REQUIRE, LAPPS_TLS_VERIFY_OPTIONAL};
    for (size_t m = 0; m < 2; m++) {
        struct api_server s;
        struct api_config cfg = tls_config(1);
        cfg.tls_client_ca = pki.ca;
        cfg.tls_verify = modes[m];
        api_server_start(&s, &cfg);
        bool require = modes[m] == LAPPS_TLS_VERIFY_REQUIRE;
        char *out;
        int rc = api_python(CLIENT_MS, &out, "tls_client.py", "connect", s.tls_uri, pki.ca, NULL);
        API_CLIENT_OK(rc, out);
        if (require)
            cr_assert_not_null(api_find_prefix(out, "refused "), "REQUIRE, no certificate:\n%s",
                               out);
        else
            API_EXPECT_LINE(out, "opened");
        free(out);
        rc = api_python(CLIENT_MS, &out, "tls_client.py", "connect", s.tls_uri, pki.ca, pki.client,
                        pki.client_key, NULL);
        API_CLIENT_OK(rc, out);
        API_EXPECT_LINE(out, "opened");
        API_EXPECT_LINE(out, "close 1000");
        free(out);
        rc = api_python(CLIENT_MS, &out, "tls_client.py", "connect", s.tls_uri, pki.ca, pki.rogue,
                        pki.rogue_key, NULL);
        API_CLIENT_OK(rc, out);
        cr_assert_not_null(api_find_prefix(out, "refused "),
                           "a certificate that does not verify:\n%s", out);
        free(out);
        int opens = require ? 1 : 2;
        cr_assert(api_wait_all_closed(&s, opens, 10000));
        cr_assert_eq(atomic_load(&s.c.opens), opens);
        cr_assert_eq(api_stats(&s).accepted, 3);
        cr_assert_eq(wait_failed(&s, 3 - (uint64_t)opens, 10000), 3 - (uint64_t)opens,
                     "each refused certificate is a failed handshake");
        api_server_finish(&s);
    }
}

/* ---- 9. set-up errors ---- */

static char setup_log[8192];
static size_t setup_log_len;

static void
capture_log(lapps_log_level level, const char *msg, void *user_data)
{
    (void)user_data;
    if (level != LAPPS_LOG_ERROR)
        return;
    int k = snprintf(setup_log + setup_log_len, sizeof setup_log - setup_log_len, "%s\n", msg);
    if (k > 0 && (size_t)k < sizeof setup_log - setup_log_len)
        setup_log_len += (size_t)k;
}

/* lapps_server_new() with one TLS listener built from @p t; returns its result and
 * frees any server. The error log lines are in setup_log. */
static int
try_server(const lapps_tls *t)
{
    setup_log_len = 0;
    setup_log[0] = 0;
    lapps_opts *o;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, 1), 0);
    cr_assert_eq(lapps_opts_set_log(o, capture_log, LAPPS_LOG_DEBUG, NULL), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, t), 0);
    lapps_server *srv = NULL;
    int rv = lapps_server_new(&srv, o);
    lapps_opts_free(o);
    if (rv == 0) {
        cr_assert_not_null(srv);
        lapps_server_free(srv);
    }
    return rv;
}

static lapps_tls *
settings(const char *cert, const char *key)
{
    lapps_tls *t;
    cr_assert_eq(lapps_tls_new(&t), 0);
    cr_assert_eq(lapps_tls_set_certificate(t, cert, key), 0);
    return t;
}

#define EXPECT_TLS_ERROR(t, file)                                                                  \
    do {                                                                                           \
        int rv_ = try_server(t);                                                                   \
        cr_assert_eq(rv_, LAPPS_ERR_TLS, "expected LAPPS_ERR_TLS, got %s", lapps_err_name(rv_));   \
        cr_assert_not_null(strstr(setup_log, (file)), "the log must name %s:\n%s", (file),         \
                           setup_log);                                                             \
    } while (0)

/* Bad TLS settings fail where the API says: lapps_server_new() returns LAPPS_ERR_TLS for a
 * missing certificate or key file, a key that does not match its certificate, a missing
 * client CA file, or a cipher list OpenSSL does not understand, with a log line naming
 * the file or list; lapps_opts_add_listener() refuses settings without a certificate;
 * the setters refuse bad arguments. The good settings next to them work, so each
 * failure has one cause. */
Test(tls, setup_errors, .timeout = 60)
{
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.pem", pki.dir);
    lapps_tls *t = settings(pki.server1, pki.server1_key);
    cr_assert_eq(try_server(t), 0, "the control: good settings make a server\n%s", setup_log);
    lapps_tls_free(t);

    t = settings(missing, pki.server1_key);
    EXPECT_TLS_ERROR(t, missing);
    lapps_tls_free(t);
    t = settings(pki.server1, missing);
    EXPECT_TLS_ERROR(t, missing);
    lapps_tls_free(t);
    t = settings(pki.server1, pki.server2_key);
    EXPECT_TLS_ERROR(t, pki.server2_key);
    lapps_tls_free(t);
    t = settings(pki.ca, pki.server1_key); /* a certificate, but another key's */
    EXPECT_TLS_ERROR(t, pki.server1_key);
    lapps_tls_free(t);

    t = settings(pki.server1, pki.server1_key);
    cr_assert_eq(lapps_tls_set_client_ca(t, missing, LAPPS_TLS_VERIFY_REQUIRE), 0);
    EXPECT_TLS_ERROR(t, missing);
    lapps_tls_free(t);

    t = settings(pki.server1, pki.server1_key);
    cr_assert_eq(lapps_tls_set_ciphers(t, "NO-SUCH-CIPHER", NULL), 0);
    EXPECT_TLS_ERROR(t, "NO-SUCH-CIPHER");
    cr_assert_eq(lapps_tls_set_ciphers(t, NULL, "TLS_NO_SUCH_SUITE"), 0);
    EXPECT_TLS_ERROR(t, "TLS_NO_SUCH_SUITE");
    cr_assert_eq(lapps_tls_set_ciphers(t, NULL, NULL), 0);
    cr_assert_eq(try_server(t), 0, "the defaults are back\n%s", setup_log);
    lapps_tls_free(t);

    /* No certificate: refused when the listener is added. */
    lapps_opts *o;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_tls_new(&t), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, t), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_client_ca(t, pki.ca, LAPPS_TLS_VERIFY_REQUIRE), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, t), LAPPS_ERR_INVAL);
    lapps_server *srv = NULL;
    cr_assert_eq(lapps_server_new(&srv, o), LAPPS_ERR_INVAL, "no listener was added");
    lapps_opts_free(o);

    /* The setters. */
    cr_assert_eq(lapps_tls_new(NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_certificate(t, "", pki.server1_key), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_certificate(t, pki.server1, NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_client_ca(t, NULL, LAPPS_TLS_VERIFY_REQUIRE), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_client_ca(t, NULL, LAPPS_TLS_VERIFY_NONE), 0);
    cr_assert_eq(lapps_tls_set_min_version(t, (lapps_tls_version)0x0302), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_ciphers(t, "", NULL), LAPPS_ERR_INVAL);
    lapps_tls_free(t);
    lapps_tls_free(NULL);

    /* A reload on a server without TLS listeners has nothing to do. */
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    cr_assert_eq(lapps_server_reload_tls(s.srv), 0);
    cr_assert_eq(lapps_server_reload_tls(NULL), LAPPS_ERR_INVAL);
    api_server_finish(&s);
}

/* ---- 10. descriptors ---- */

/* 360 TLS connections one after another, ended six ways (clean close handshake, TCP
 * closed without a close frame, reset right after the TLS handshake, half a
 * ClientHello, garbage, nothing at all): the descriptor count comes back to where it
 * was, every opened connection got its on_close, the four kinds that end before the
 * 101 are counted as failed handshakes, and the server still serves. */
Test(tls, no_fd_leak_after_tls_cycles, .timeout = 120)
{
    struct api_server s;
    struct api_config cfg = tls_config(2);
    api_server_start(&s, &cfg);
    int fds = api_fd_count();
    char *out;
    int rc =
        api_python(CLIENT_MS, &out, "tls_client.py", "cycles", s.tls_port_str, pki.ca, "360", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "opened 120");
    API_EXPECT_LINE(out, "clean 60");
    free(out);
    cr_assert(api_wait_all_closed(&s, 120, 20000), "%d opens, %d closes", atomic_load(&s.c.opens),
              atomic_load(&s.c.closes));
    cr_assert_eq(atomic_load(&s.c.opens), 120);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_BY_PEER]), 60);
    cr_assert_eq(atomic_load(&s.c.reasons[LAPPS_CLOSED_DROPPED]), 60);
    cr_assert_eq(atomic_load(&s.c.messages), 60);
    cr_assert_eq(api_wait_fds(fds, 10000), fds, "descriptors leaked: %d before, %d after", fds,
                 api_fd_count());
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 360);
    cr_assert_eq(st.connections, 0);
    /* Kinds 2 to 5 end before the 101. */
    cr_assert_eq(wait_failed(&s, 240, 10000), 240);
    expect_new_client_sees(&s, pki.fp1);
    api_server_finish(&s);
}
