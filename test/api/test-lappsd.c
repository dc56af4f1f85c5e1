/* test-lappsd.c — lappsd as its users run it: a LAppS-style configuration directory
 * (ws.json with TLS, workers and an ACL; lapps.json with apps/, depends, preload),
 * configuration errors (exact message, exit 2, nothing listening), --check-config, and
 * a graceful stop by SIGTERM with 500 clients connected. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static char dir[64];
static char certs[96];

static void
setup(void)
{
    strcpy(dir, "/tmp/lapps-lappsd-XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(lappsd, .init = setup, .fini = teardown);

static void put(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(const char *name, const char *fmt, ...)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

/* Starts lappsd with LAPPS_HOME=@p home and ARGS, stderr into its output. */
static void
spawn_lappsd(struct api_proc *p, const char *home, const char *args)
{
    const char *lappsd = getenv("LAPPS_LAPPSD");
    cr_assert(lappsd, "run through meson");
    static char cmd[1024];
    snprintf(cmd, sizeof cmd, "LAPPS_HOME='%s' exec '%s' %s 2>&1", home, lappsd, args);
    char sh[] = "/bin/sh", c[] = "-c";
    char *argv[] = {sh, c, cmd, NULL};
    api_spawn(p, argv);
}

/* Runs lappsd to its end; returns its exit code and its output in *out (static). */
static int
run_lappsd(const char *args, const char **out)
{
    struct api_proc p;
    spawn_lappsd(&p, dir, args);
    int rc = api_proc_wait(&p, 30000);
    static char text[8192];
    snprintf(text, sizeof text, "%s", p.out ? p.out : "");
    api_proc_free(&p);
    *out = text;
    return rc;
}

static bool
wait_output(struct api_proc *p, const char *needle, int ms)
{
    for (int t = 0; t < ms / 50 && !strstr(p->out ? p->out : "", needle); t++)
        api_proc_read(p, 50);
    return strstr(p->out ? p->out : "", needle) != NULL;
}

/* Starts lappsd -c dir and waits until it says it listens on @p scheme://127.0.0.1:port. */
static void
start_lappsd(struct api_proc *p, const char *scheme, uint16_t port)
{
    char args[128], want[64];
    snprintf(args, sizeof args, "-c '%s'", dir);
    spawn_lappsd(p, dir, args);
    snprintf(want, sizeof want, "%s://127.0.0.1:%u", scheme, port);
    cr_assert(wait_output(p, want, 20000), "lappsd did not start:\n%s", p->out);
}

/* The test's own apps (test/api/lappsd) beside a generated ws.json. */
static void
lappsd_home(void)
{
    const char *lua = getenv("LAPPS_API_LUA");
    cr_assert(lua);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp -r '%s/../lappsd/apps' '%s/../lappsd/lapps.json' '%s/'", lua, lua,
             dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(certs, sizeof certs, "%s/certs", dir);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && '%s/make_certs.sh' '%s' >/dev/null", certs,
             api_clients_dir(), certs);
    cr_assert_eq(system(cmd), 0);
}

/* A LAppS configuration directory: wss:// on a free port with 2 workers, the service
 * echo (4 instances asked, depends on the standalone clock, which has auto_start false
 * and so starts only because echo needs it), an unknown depends entry warned about. */
Test(lappsd, a_lapps_configuration_directory_starts_and_serves, .timeout = 120)
{
    lappsd_home();
    uint16_t port = api_free_port();
    put("ws.json",
        "{\"listeners\": 2, \"connection_weight\": 1.0, \"ip\": \"127.0.0.1\", \"port\": %u,\n"
        " \"lapps_config_auto_save\": true,\n"
        " \"workers\": {\"workers\": 2, \"max_connections\": 1000, \"auto_fragment\": false,\n"
        "             \"max_poll_events\": 256, \"max_poll_wait_ms\": 10},\n"
        " \"acl\": {\"policy\": \"allow\", \"exclude\": []},\n"
        " \"tls\": true, \"tls_server_version\": 4,\n"
        " \"tls_certificates\": {\"ca\": \"certs/ca.pem\", \"cert\": \"certs/server1.pem\",\n"
        "                      \"key\": \"certs/server1.key\"}}\n",
        port);
    struct api_proc p;
    char uri[96], ca[128];
    start_lappsd(&p, "wss", port);
    cr_assert(wait_output(&p, "echo: started, clock says nil", 5000), "%s", p.out);
    cr_assert(wait_output(&p, "clock: init", 5000), "%s", p.out);
    cr_assert(strstr(p.out, "lapps.json: services.echo.depends: no service \"not_configured\", "
                            "ignored (as LAppS did)"),
              "%s", p.out);
    cr_assert(strstr(p.out, "ws.json: listeners: a LAppS setting that changes nothing here"), "%s",
              p.out);
    cr_assert_null(strstr(p.out, "unused"), "a service nobody starts was loaded:\n%s", p.out);
    snprintf(uri, sizeof uri, "wss://127.0.0.1:%u/echo", port);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    char *out = NULL;
    cr_assert_eq(api_python(30000, &out, "tls_client.py", "connect", uri, ca, NULL), 0, "%s", out);
    API_EXPECT_LINE(out, "opened");
    API_EXPECT_LINE(out, "close 1000");
    free(out);
    cr_assert_eq(api_proc_kill(&p, SIGTERM, 20000), 0, "exit code after SIGTERM:\n%s", p.out);
    cr_assert(strstr(p.out, "clock: stopped"), "%s", p.out);
    api_proc_free(&p);
}

/* Every kind of configuration error: the exact message on stderr and exit 2, before
 * lappsd listens. */
Test(lappsd, configuration_errors_exit_2_with_the_key_path, .timeout = 60)
{
    lappsd_home();
    const char *out;
    char args[128], want[512];
    snprintf(args, sizeof args, "-c '%s'", dir);

    put("ws.json", "{\"port\": 5083,\n \"workers\": {\"workers\": \"four\"}}\n");
    cr_assert_eq(run_lappsd(args, &out), 2, "%s", out);
    snprintf(want, sizeof want,
             "lappsd: %s/ws.json: workers.workers: expected an integer from 1 to 256, found "
             "\"four\"\n",
             dir);
    cr_assert_str_eq(out, want);

    put("ws.json", "{\"port\": 5083,,}\n");
    cr_assert_eq(run_lappsd(args, &out), 2, "%s", out);
    snprintf(want, sizeof want,
             "lappsd: %s/ws.json:1:15: invalid JSON: string or '}' expected near ','\n", dir);
    cr_assert_str_eq(out, want);

    put("ws.json", "{\"port\": 0, \"limits\": {\"max_outbound_buffer\": 10}}\n");
    cr_assert_eq(run_lappsd(args, &out), 2, "%s", out);
    snprintf(want, sizeof want,
             "lappsd: %s/ws.json: limits.max_outbound_buffer: expected an integer from 1024 to "
             "4294967296, found 10\n",
             dir);
    cr_assert_str_eq(out, want);

    put("ws.json", "{\"port\": 0}\n");
    put("lapps.json", "{\"services\": {\"a\": {\"standalone\": true, \"depends\": [\"b\"]},"
                      " \"b\": {\"standalone\": true, \"depends\": [\"a\"]}}}\n");
    cr_assert_eq(run_lappsd(args, &out), 2, "%s", out);
    snprintf(want, sizeof want,
             "lappsd: %s/lapps.json: services.a.depends: expected no cycle, found a -> b -> a\n",
             dir);
    cr_assert(strstr(out, want), "want %s, got:\n%s", want, out);

    /* A Lua module without onDisconnect is found at registration, before listening. */
    put("lapps.json", "{\"services\": {\"half\": {\"request_target\": \"/half\"}}}\n");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/apps/half'", dir);
    cr_assert_eq(system(cmd), 0);
    put("apps/half/half.lua", "return {onStart = function() end, onMessage = function() return "
                              "true end, onShutdown = function() end}\n");
    cr_assert_eq(run_lappsd(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "lappsd: service half: the module has no function onDisconnect"), "%s",
              out);
    cr_assert_null(strstr(out, "ws://"), "it listened:\n%s", out);

    /* --check-config: the same checks, exit 0 when all is well. */
    put("lapps.json", "{\"services\": {\"echo\": {\"request_target\": \"/echo\"}}}\n");
    snprintf(args, sizeof args, "-c '%s' --check-config", dir);
    cr_assert_eq(run_lappsd(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "lappsd: the configuration is valid\n"), "%s", out);
    cr_assert_eq(run_lappsd("--bogus", &out), 2, "%s", out);
    cr_assert_eq(run_lappsd("--version", &out), 0, "%s", out);
    cr_assert_eq(strncmp(out, "lappsd ", 7), 0, "%s", out);
}

/* SIGTERM with 500 clients connected: every one gets close 1001 and lappsd exits 0. */
Test(lappsd, sigterm_closes_500_clients_with_1001_and_exits_0, .timeout = 120)
{
    lappsd_home();
    api_raise_nofile(4096);
    uint16_t port = api_free_port();
    put("ws.json", "{\"port\": %u, \"workers\": {\"workers\": 2}}\n", port);
    struct api_proc p, c;
    char uri[96];
    start_lappsd(&p, "ws", port);
    snprintf(uri, sizeof uri, "ws://127.0.0.1:%u/echo", port);
    api_python_spawn(&c, "ws_client.py", "hold", uri, "500", NULL);
    cr_assert(api_proc_wait_line(&c, "open 500", 60000), "%s", c.out ? c.out : "");
    cr_assert_eq(api_proc_kill(&p, SIGTERM, 30000), 0, "exit code after SIGTERM:\n%s", p.out);
    cr_assert_eq(api_proc_wait(&c, 30000), 0, "%s", c.out);
    API_EXPECT_LINE(c.out, "closed 1001 500");
    cr_assert(strstr(p.out, "signal 15: stopping"), "%s", p.out);
    api_proc_free(&c);
    api_proc_free(&p);
}

/* What lapps.json and ws.json say about admission reaches the handshake: the server ACL
 * (closed at accept), a service ACL (403), origins (403 for others) and extra headers in
 * the 101. Clients bind different loopback source addresses. */
Test(lappsd, acls_origins_and_headers_from_the_files, .timeout = 120)
{
    lappsd_home();
    char cmd[512];
    snprintf(
        cmd, sizeof cmd,
        "mkdir -p '%s/apps/guarded' && cp '%s/apps/echo/echo.lua' '%s/apps/guarded/guarded.lua'",
        dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    uint16_t port = api_free_port();
    put("ws.json",
        "{\"port\": %u, \"workers\": {\"workers\": 2},\n"
        " \"acl\": {\"policy\": \"allow\", \"exclude\": [\"127.0.0.7\"]}}\n",
        port);
    put("lapps.json", "{\"services\": {\n"
                      " \"echo\": {\"request_target\": \"/echo\", \"extra_headers\": "
                      "{\"X-Served-By\": \"lappsd-test\"},\n"
                      "          \"acl\": {\"policy\": \"allow\", \"exclude\": [\"127.0.0.9\", "
                      "\"127.1.0.0/16\"]}},\n"
                      " \"guarded\": {\"request_target\": \"/guarded\", \"origins\": "
                      "[\"https://app.example\"]}}}\n");
    struct api_proc p;
    char ports[8];
    start_lappsd(&p, "ws", port);
    snprintf(ports, sizeof ports, "%u", port);
    static const struct {
        const char *source, *path, *answer;
    } cases[] = {
        {"127.0.0.2", "/echo", "http 101"},    {"127.0.0.7", "/echo", "closed"},
        {"127.0.0.9", "/echo", "http 403"},    {"127.1.2.3", "/echo", "http 403"},
        {"127.0.0.9", "/guarded", "http 403"}, /* no Origin */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL;
        cr_assert_eq(api_python(20000, &out, "acl_client.py", "127.0.0.1", ports, cases[i].source,
                                "--path", cases[i].path, NULL),
                     0, "%s", out);
        cr_assert(api_has_line(out, cases[i].answer), "%s %s: want %s, got:\n%s", cases[i].source,
                  cases[i].path, cases[i].answer, out);
        free(out);
    }
    char *out = NULL;
    cr_assert_eq(api_python(20000, &out, "raw.py", ports, "hs", "http", NULL), 0, "%s", out);
    API_EXPECT_LINE(out, "header x-served-by: lappsd-test");
    free(out);
    const char *req = "text:GET /guarded HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\nOrigin: https://app.example\r\n\r\n";
    cr_assert_eq(api_python(20000, &out, "raw.py", ports, req, "http", NULL), 0, "%s", out);
    API_EXPECT_LINE(out, "http 101");
    free(out);
    cr_assert_eq(api_proc_kill(&p, SIGTERM, 20000), 0, "%s", p.out);
    api_proc_free(&p);
}

/* Reads a whole small file into a static buffer ("" when absent). */
static const char *
slurp(const char *path)
{
    static char text[16384];
    text[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    return text;
}

static bool
wait_file_has(const char *path, const char *needle, int ms)
{
    for (int t = 0; t < ms / 50 && !strstr(slurp(path), needle); t++)
        api_sleep_ms(50);
    return strstr(slurp(path), needle) != NULL;
}

/* Operations: -d runs in the background and logs to log.file; the stats line comes every
 * stats.interval; SIGHUP reopens the log (after a rotation the new file gets the lines);
 * SIGTERM stops it (found by the pid it logged). */
Test(lappsd, daemon_log_file_stats_and_sighup, .timeout = 120)
{
    lappsd_home();
    uint16_t port = api_free_port();
    put("ws.json",
        "{\"port\": %u, \"workers\": {\"workers\": 1}, \"log\": {\"level\": \"info\", "
        "\"file\": \"lappsd.log\"}, \"stats\": {\"interval\": 1}}\n",
        port);
    const char *out;
    char args[128], log[128], rotated[160], want[64];
    snprintf(args, sizeof args, "-c '%s' -d", dir);
    cr_assert_eq(run_lappsd(args, &out), 0, "the foreground part must exit 0:\n%s", out);
    snprintf(log, sizeof log, "%s/lappsd.log", dir);
    snprintf(want, sizeof want, "ws://127.0.0.1:%u", port);
    cr_assert(wait_file_has(log, want, 20000), "%s", slurp(log));
    cr_assert(wait_file_has(log, "running as pid ", 5000), "%s", slurp(log));
    long pid = atol(strstr(slurp(log), "running as pid ") + 15);
    cr_assert_gt(pid, 1);
    cr_assert(wait_file_has(log, "stats: 0 connections; last 1 s: ", 5000), "%s", slurp(log));
    snprintf(rotated, sizeof rotated, "%s.1", log);
    cr_assert_eq(rename(log, rotated), 0);
    cr_assert_eq(kill((pid_t)pid, SIGHUP), 0);
    cr_assert(wait_file_has(log, "stats: ", 5000), "no new log after SIGHUP");
    cr_assert_eq(kill((pid_t)pid, SIGTERM), 0);
    cr_assert(wait_file_has(log, "lappsd info: stopped", 20000), "%s", slurp(log));
    for (int t = 0; t < 100 && kill((pid_t)pid, 0) == 0; t++)
        api_sleep_ms(50);
    cr_assert_neq(kill((pid_t)pid, 0), 0, "the daemon is still running");
}

/* No configuration anywhere: the demo services, with a line saying so. */
Test(lappsd, without_configuration_the_demo_services, .timeout = 60)
{
    const char *out;
    char args[128];
    snprintf(args, sizeof args, "-c '%s' --check-config", dir);
    cr_assert_eq(run_lappsd(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "/ws.json: not found: the server's defaults"), "%s", out);
    cr_assert(strstr(out, "/lapps.json: not found: serving the demo services of "), "%s", out);
    cr_assert(strstr(out, "lappsd: the configuration is valid"), "%s", out);
}

/* lang "c": a native service from a shared object serves beside the Lua ones; a symbol
 * that is missing, or an entry point that fails, is a configuration error (exit 2). */
Test(lappsd, native_services_from_a_shared_object, .timeout = 60)
{
    const char *so = getenv("LAPPS_NATIVE_ECHO");
    cr_assert(so, "run through meson");
    lappsd_home();
    uint16_t port = api_free_port();
    put("ws.json", "{\"port\": %u, \"workers\": {\"workers\": 2}}\n", port);
    put("lapps.json",
        "{\"services\": {\"native\": {\"lang\": \"c\", \"library\": \"%s\", \"symbol\": "
        "\"native_echo_init\", \"request_target\": \"/native\", \"protocol\": \"raw\"},\n"
        " \"echo\": {\"request_target\": \"/echo\"}}}\n",
        so);
    struct api_proc p;
    char args[128], uri[96];
    start_lappsd(&p, "ws", port);
    snprintf(uri, sizeof uri, "%u", port);
    char *out = NULL;
    cr_assert_eq(api_python(20000, &out, "raw.py", uri, "hs:/native", "http", "frame:str=hello",
                            "readn:1", NULL),
                 0, "%s", out);
    API_EXPECT_LINE(out, "text native: hello");
    free(out);
    cr_assert_eq(api_proc_kill(&p, SIGTERM, 20000), 0, "%s", p.out);
    api_proc_free(&p);

    const char *text;
    snprintf(args, sizeof args, "-c '%s'", dir);
    put("lapps.json",
        "{\"services\": {\"native\": {\"lang\": \"c\", \"library\": \"%s\", \"symbol\": "
        "\"no_such_init\", \"request_target\": \"/native\"}}}\n",
        so);
    cr_assert_eq(run_lappsd(args, &text), 2, "%s", text);
    cr_assert(strstr(text, "/lapps.json: services.native.symbol: "), "%s", text);
    cr_assert(strstr(text, "no_such_init"), "%s", text);
    put("lapps.json",
        "{\"services\": {\"native\": {\"lang\": \"c\", \"library\": \"%s\", \"symbol\": "
        "\"native_refuse_init\", \"request_target\": \"/native\"}}}\n",
        so);
    cr_assert_eq(run_lappsd(args, &text), 2, "%s", text);
    cr_assert(strstr(text, "/lapps.json: services.native: native_refuse_init() failed: "), "%s",
              text);
    put("lapps.json",
        "{\"services\": {\"native\": {\"lang\": \"c\", \"library\": "
        "\"/nonexistent/lib.so\", \"symbol\": \"x\", \"request_target\": \"/n\"}}}\n");
    cr_assert_eq(run_lappsd(args, &text), 2, "%s", text);
    cr_assert(
        strstr(text, "/lapps.json: services.native.library: /nonexistent/lib.so: cannot open"),
        "%s", text);
}

/* workers.auto_fragment: a 5000-byte echo leaves in 1392-byte frames, as in LAppS; a
 * short one stays one frame. */
Test(lappsd, auto_fragment_splits_long_messages, .timeout = 60)
{
    lappsd_home();
    uint16_t port = api_free_port();
    put("ws.json", "{\"port\": %u, \"workers\": {\"workers\": 1, \"auto_fragment\": true}}\n",
        port);
    struct api_proc p;
    char ports[8];
    start_lappsd(&p, "ws", port);
    snprintf(ports, sizeof ports, "%u", port);
    char *out = NULL;
    cr_assert_eq(api_python(20000, &out, "raw.py", ports, "hs", "http", "frame:op=2,len=5000",
                            "readn:4", "frame:str=short", "readn:1", NULL),
                 0, "%s", out);
    cr_assert_eq(api_count_prefix(out, "frame 2 0 1392 "), 1, "%s", out);
    cr_assert_eq(api_count_prefix(out, "frame 0 0 1392 "), 2, "%s", out);
    cr_assert_eq(api_count_prefix(out, "frame 0 1 824 "), 1, "%s", out);
    API_EXPECT_LINE(out, "text short");
    free(out);
    cr_assert_eq(api_proc_kill(&p, SIGTERM, 20000), 0, "%s", p.out);
    api_proc_free(&p);
}
