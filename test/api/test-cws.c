/* API tests of the cws Lua module (a ws:// and wss:// client): a standalone Lua service
 * (test/api/lua/cws_client.lua) runs in a server of its own and talks to the harness's
 * in-process echo service (plain and TLS, certificates from clients/make_certs.sh) and
 * to an independent server, Node.js `ws` (clients/ws_server.js). The service reports by
 * print(), so the tests read the log; the echo servers report what they saw. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lapps/lapps.h>

#include "harness.h"

#define EXPECT_LOG(line)                                                                           \
    cr_assert(api_log_has_line(line), "no log line \"%s\" in:\n%s", (line), api_log_text())

/* A server with one standalone Lua service @p name from @p dir (preload: cws), started. */
static lapps_server *
start_standalone(const char *name, const char *dir)
{
    lapps_opts *o;
    lapps_server *srv;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, 1), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_opts_set_log(o, api_log_keep, LAPPS_LOG_DEBUG, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    const char *path[] = {dir, NULL};
    const char *preload[] = {"cws", NULL};
    lapps_lua_service d = {
        .size = sizeof d, .name = name, .path = path, .preload = preload, .standalone = 1};
    char err[512];
    cr_assert_eq(lapps_lua_service_register(srv, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(lapps_server_start(srv), 0);
    return srv;
}

/* Runs cws_client.lua as a standalone service against @p uri until it logs "done". */
static void
run_client(const char *uri, const char *ca_file, bool no_verify)
{
    const char *dir = getenv("LAPPS_API_LUA");
    cr_assert(dir, "run through meson");
    setenv("CWS_URI", uri, 1);
    if (ca_file)
        setenv("CWS_CA", ca_file, 1);
    else
        unsetenv("CWS_CA");
    if (no_verify)
        setenv("CWS_NOVERIFY", "1", 1);
    else
        unsetenv("CWS_NOVERIFY");
    api_log_clear();
    lapps_server *srv = start_standalone("cws_client", dir);
    for (int t = 0; t < 3000 && !api_log_has_line("cws_client: done"); t++)
        api_sleep_ms(10);
    lapps_server_free(srv);
    EXPECT_LOG("cws_client: done");
}

static void
expect_echoes(void)
{
    EXPECT_LOG("cws_client: open number");
    EXPECT_LOG("cws_client: bad opcode false Usage: cws:se");
    EXPECT_LOG("cws_client: echo 1 1 5 ok");
    EXPECT_LOG("cws_client: echo 2 2 4 ok");
    EXPECT_LOG("cws_client: echo 3 1 102400 ok");
    EXPECT_LOG("cws_client: echo 4 1 0 ok");
    EXPECT_LOG("cws_client: send after close false");
}

/* ---- against the in-process echo service ---- */

static void
finish_echo_server(struct api_server *s)
{
    cr_assert(api_wait_all_closed(s, 1, 10000));
    cr_assert_eq(atomic_load(&s->c.messages), 4);
    cr_assert_eq(atomic_load(&s->c.codes[4000]), 1, "the server saw our close code");
    cr_assert_eq(atomic_load(&s->c.reasons[LAPPS_CLOSED_BY_PEER]), 1);
    api_server_finish(s);
}

Test(cws, ws_echo_in_process, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    int fds = api_fd_count();
    run_client(s.uri, NULL, false);
    expect_echoes();
    /* The server answers our close with the same code (and no reason). */
    EXPECT_LOG("cws_client: close 4000 '' string");
    cr_assert_eq(api_wait_fds(fds, 5000), fds, "a descriptor leaked");
    finish_echo_server(&s);
}

Test(cws, connection_refused, .timeout = 60)
{
    char uri[64], line[160];
    uint16_t port = api_free_port();
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/echo", port);
    run_client(uri, NULL, false);
    snprintf(line, sizeof line,
             "cws_client: Can't create socket: cannot connect to 127.0.0.1 port %u: Connection "
             "refused",
             port);
    EXPECT_LOG(line);
}

Test(cws, handshake_refused, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    char uri[96];
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/nothing-here", s.port);
    run_client(uri, NULL, false);
    EXPECT_LOG("cws_client: error handshake failed: the server refused the upgrade: \"HTTP/1.1 "
               "404 Not Found\"");
    cr_assert_eq(atomic_load(&s.c.opens), 0);
    api_server_finish(&s);
}

/* ---- wss:// ---- */

static char pki_dir[64], ca_file[128], cert_file[128], key_file[128];

static void
pki_make(void)
{
    char script[4096];
    snprintf(script, sizeof script, "%s/make_certs.sh", api_clients_dir());
    snprintf(pki_dir, sizeof pki_dir, "/tmp/lapps-cws-XXXXXX");
    cr_assert_not_null(mkdtemp(pki_dir), "mkdtemp: %s", strerror(errno));
    snprintf(ca_file, sizeof ca_file, "%s/ca.pem", pki_dir);
    snprintf(cert_file, sizeof cert_file, "%s/server1.pem", pki_dir);
    snprintf(key_file, sizeof key_file, "%s/server1.key", pki_dir);
    char *argv[] = {(char *)"/bin/sh", script, pki_dir, NULL};
    struct api_proc p;
    api_spawn(&p, argv);
    int rc = api_proc_wait(&p, 30000);
    cr_assert_eq(rc, 0, "make_certs.sh failed (exit %d):\n%s", rc, p.out);
    api_proc_free(&p);
}

static void
pki_remove(void)
{
    if (!pki_dir[0])
        return;
    DIR *d = opendir(pki_dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(path, sizeof path, "%s/%s", pki_dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(pki_dir);
}

Test(cws, wss_echo_verified_with_the_ca, .timeout = 90)
{
    pki_make();
    struct api_server s;
    api_server_start(
        &s, &(struct api_config){.workers = 1, .tls_cert = cert_file, .tls_key = key_file});
    run_client(s.tls_uri, ca_file, false);
    expect_echoes();
    EXPECT_LOG("cws_client: close 4000 '' string");
    cr_assert_eq(atomic_load(&s.c.tls_opens), 1);
    finish_echo_server(&s);
    pki_remove();
}

Test(cws, wss_unknown_ca_refused_unless_verify_is_off, .timeout = 90)
{
    pki_make();
    struct api_server s;
    api_server_start(
        &s, &(struct api_config){.workers = 1, .tls_cert = cert_file, .tls_key = key_file});
    /* The test CA is in no system store. */
    run_client(s.tls_uri, NULL, false);
    EXPECT_LOG("cws_client: error TLS handshake failed: certificate verify failed: unable to get "
               "local issuer certificate");
    cr_assert_eq(atomic_load(&s.c.opens), 0);
    /* {verify = false}: LAppS's behaviour. */
    run_client(s.tls_uri, NULL, true);
    expect_echoes();
    finish_echo_server(&s);
    pki_remove();
}

/* ---- against Node.js `ws`, over IPv6 ---- */

Test(cws, node_ws_server_over_ipv6, .timeout = 90)
{
    const char *mods = getenv("LAPPS_NODE_MODULES");
    cr_assert_not_null(mods);
    setenv("NODE_PATH", mods, 1);
    char script[4096];
    snprintf(script, sizeof script, "%s/ws_server.js", api_clients_dir());
    char *argv[] = {(char *)"/usr/bin/node", script, (char *)"::1", (char *)"0", NULL};
    struct api_proc p;
    api_spawn(&p, argv);
    for (int t = 0; t < 300 && !(p.out && strstr(p.out, "ready ")); t++)
        api_proc_read(&p, 100);
    const char *ready = p.out ? strstr(p.out, "ready ") : NULL;
    cr_assert_not_null(ready, "the node server did not start:\n%s", p.out ? p.out : "");
    char uri[96];
    snprintf(uri, sizeof uri, "ws://[::1]:%d/any/path?x=1", atoi(ready + 6));
    run_client(uri, NULL, false);
    expect_echoes();
    EXPECT_LOG("cws_client: close 4000 'bye' string");
    cr_assert(api_proc_wait_line(&p, "close 4000 bye", 10000), "node saw:\n%s", p.out);
    cr_assert(api_proc_wait_line(&p, "pong ping-from-node", 10000), "node saw:\n%s", p.out);
    api_proc_kill(&p, SIGTERM, 5000);
    api_proc_free(&p);
}

/* ---- the example ---- */

Test(cws, example_cws_echo_client, .timeout = 60)
{
    const char *examples = getenv("LAPPS_EXAMPLES_LUA");
    cr_assert(examples, "run through meson");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/apps/cws_echo_client", examples);
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    setenv("CWS_ECHO_URI", s.uri, 1);
    api_log_clear();
    lapps_server *srv = start_standalone("cws_echo_client", dir);
    const char *line = "cws_echo_client: echo (opcode 1): hello #2 from cws_echo_client";
    for (int t = 0; t < 1000 && !api_log_has_line(line); t++)
        api_sleep_ms(10);
    lapps_server_free(srv); /* the service closes with 1001 when it must stop */
    EXPECT_LOG(line);
    EXPECT_LOG("cws_echo_client: closed, code 1001 ");
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(atomic_load(&s.c.codes[1001]), 1);
    api_server_finish(&s);
}
