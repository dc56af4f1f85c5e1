/* Unit tests of lib/config: each kind of mistake in ws.json or lapps.json gives its exact
 * message (file: key.path: expected ..., found ...), warnings are warnings, and a good
 * LAppS configuration loads with its values, defaults and start order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lapps/config.h>
#include <lapps/error.h>

#include "config/config.h"

static char dir[64];
static char warnings[8192];

static void
collect(lapps_log_level level, const char *msg, void *ud)
{
    (void)ud;
    (void)level;
    strncat(warnings, msg, sizeof warnings - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

static void
setup(void)
{
    strcpy(dir, "/tmp/lapps-config-XXXXXX");
    cr_assert(mkdtemp(dir));
    warnings[0] = '\0';
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(config, .init = setup, .fini = teardown);

static void
put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

/* Loads dir's files; returns the error text ("" when it loaded) and frees the config. */
static const char *
load(lapps_config **keep)
{
    static char err[1024];
    lapps_config_paths p = {.size = sizeof p, .conf_dir = dir, .home = dir, .log_fn = collect};
    lapps_config *cfg = NULL;
    int rv = lapps_config_load(&cfg, &p, err, sizeof err);
    if (rv == 0) {
        err[0] = '\0';
        if (keep)
            *keep = cfg;
        else
            lapps_config_free(cfg);
    } else {
        cr_assert_eq(rv, LAPPS_ERR_INVAL);
        cr_assert_null(cfg);
    }
    return err;
}

/* The error for ws.json holding @p text, without the directory. */
static const char *
ws_error(const char *text)
{
    put("ws.json", text);
    const char *e = load(NULL);
    size_t n = strlen(dir);
    return strncmp(e, dir, n) == 0 ? e + n + 1 : e;
}

static const char *
services_error(const char *text)
{
    put("lapps.json", text);
    const char *e = load(NULL);
    size_t n = strlen(dir);
    return strncmp(e, dir, n) == 0 ? e + n + 1 : e;
}

Test(config, no_files_means_defaults)
{
    lapps_config *cfg = NULL;
    cr_assert_str_eq(load(&cfg), "");
    cr_assert_not_null(cfg);
    int tls = -1;
    cr_assert_str_eq(lapps_config_listener(cfg, 0, &tls), "127.0.0.1");
    cr_assert_eq(tls, 0);
    cr_assert_null(lapps_config_listener(cfg, 1, &tls));
    cr_assert_eq(cfg->listen[0].port, 5083);
    cr_assert_eq(cfg->max_connections, 10000);
    cr_assert_eq(cfg->max_message, 16 << 20);
    cr_assert_eq(cfg->n_order, 0);
    cr_assert_null(lapps_config_ws_path(cfg));
    cr_assert_eq(lapps_config_log_level(cfg), LAPPS_LOG_INFO);
    lapps_config_free(cfg);
    cr_assert(strstr(warnings, "ws.json: not found: the server's defaults"), "%s", warnings);
    cr_assert(strstr(warnings, "lapps.json: not found: no services"), "%s", warnings);
}

Test(config, bad_json_names_line_and_column)
{
    cr_assert_str_eq(ws_error("{\n  \"port\": 5083,\n  \"ip\" \"x\"\n}\n"),
                     "ws.json:3:10: invalid JSON: ':' expected near '\"x\"'");
    cr_assert_str_eq(ws_error("{\"port\": 1, \"port\": 2}"),
                     "ws.json:1:18: invalid JSON: duplicate object key near '\"port\"'");
}

Test(config, unreadable_file)
{
    char path[256];
    snprintf(path, sizeof path, "%s/ws.json", dir);
    cr_assert_eq(mkdir(path, 0700), 0); /* a directory where the file should be */
    const char *e = load(NULL);
    cr_assert(strstr(e, "/ws.json: cannot read: not a regular file"), "%s", e);
}

Test(config, wrong_types_and_ranges)
{
    cr_assert_str_eq(ws_error("[]"), "ws.json: expected an object, found an array");
    cr_assert_str_eq(ws_error("{\"port\": \"5083\"}"),
                     "ws.json: port: expected an integer from 0 to 65535, found \"5083\"");
    cr_assert_str_eq(ws_error("{\"port\": 70000}"),
                     "ws.json: port: expected an integer from 0 to 65535, found 70000");
    cr_assert_str_eq(ws_error("{\"workers\": {\"workers\": 0}}"),
                     "ws.json: workers.workers: expected an integer from 1 to 256, found 0");
    cr_assert_str_eq(ws_error("{\"workers\": 4}"), "ws.json: workers: expected an object, found 4");
    cr_assert_str_eq(ws_error("{\"tls\": \"yes\"}"),
                     "ws.json: tls: expected true or false, found \"yes\"");
    cr_assert_str_eq(ws_error("{\"ip\": \"localhost\"}"),
                     "ws.json: ip: expected a numeric IPv4 or IPv6 address, found \"localhost\"");
    cr_assert_str_eq(ws_error("{\"tls\": true}"),
                     "ws.json: tls_certificates: expected {\"cert\": chain file, \"key\": key "
                     "file} with tls, found nothing");
    cr_assert_str_eq(ws_error("{\"acl\": {\"policy\": \"maybe\"}}"),
                     "ws.json: acl.policy: expected \"allow\" or \"deny\", found \"maybe\"");
    cr_assert_str_eq(ws_error("{\"acl\": {\"exclude\": [\"1.2.3.4\", 5]}}"),
                     "ws.json: acl.exclude[1]: expected a non-empty string of at most 64 bytes, "
                     "found 5");
    cr_assert_str_eq(ws_error("{\"limits\": {\"close_timeout_ms\": 0}}"),
                     "ws.json: limits.close_timeout_ms: expected an integer from 1 to 3600000, "
                     "found 0");
    cr_assert_str_eq(ws_error("{\"log\": {\"level\": \"loud\"}}"),
                     "ws.json: log.level: expected \"error\", \"warn\", \"info\" or \"debug\", "
                     "found \"loud\"");
    cr_assert_str_eq(ws_error("{\"listen\": [{\"ip\": \"::1\", \"port\": -1}]}"),
                     "ws.json: listen[0].port: expected an integer from 0 to 65535, found -1");
    cr_assert_str_eq(ws_error("{\"listen\": []}"),
                     "ws.json: listen: expected an array of 1 to 16 objects {ip, port, tls}, "
                     "found an array");
}

Test(config, unknown_and_ignored_keys_are_warnings)
{
    put("ws.json",
        "{\"port\": 1, \"prot\": 2, \"listeners\": 2, \"workers\": {\"max_poll_events\": "
        "256, \"auto_fragment\": false}}");
    cr_assert_str_eq(load(NULL), "");
    cr_assert(strstr(warnings, "ws.json: prot: unknown key, ignored\n"), "%s", warnings);
    cr_assert(strstr(warnings, "ws.json: listeners: a LAppS setting that changes nothing here, "
                               "ignored\n"),
              "%s", warnings);
    cr_assert(strstr(warnings, "ws.json: workers.max_poll_events: a LAppS setting that changes "
                               "nothing here, ignored\n"),
              "%s", warnings);
}

Test(config, services_errors)
{
    cr_assert_str_eq(
        services_error("{\"services\": {\"a\": {\"protocol\": \"ws\", "
                       "\"request_target\": \"/a\"}}}"),
        "lapps.json: services.a.protocol: expected \"raw\" or \"LAppS\", found \"ws\"");
    cr_assert_str_eq(services_error("{\"services\": {\"a\": {}}}"),
                     "lapps.json: services.a.request_target: expected a path starting with '/', "
                     "found nothing");
    cr_assert_str_eq(services_error("{\"services\": {\"a\": {\"request_target\": \"a\"}}}"),
                     "lapps.json: services.a.request_target: expected a path starting with '/', "
                     "found \"a\"");
    cr_assert_str_eq(services_error("{\"services\": {\"a\": {\"request_target\": \"/a\", "
                                    "\"instances\": 0}}}"),
                     "lapps.json: services.a.instances: expected an integer from 1 to 65536, "
                     "found 0");
    cr_assert_str_eq(services_error("{\"services\": {\"a\": {\"request_target\": \"/a\", "
                                    "\"preload\": \"nap\"}}}"),
                     "lapps.json: services.a.preload: expected an array of at most 64 non-empty "
                     "strings, found \"nap\"");
    cr_assert_str_eq(services_error("{\"services\": {\"a\": {\"request_target\": \"/a\", "
                                    "\"lang\": \"c\", \"library\": \"x.so\"}}}"),
                     "lapps.json: services.a: expected \"library\" and \"symbol\" with \"lang\": "
                     "\"c\", found no symbol");
    cr_assert_str_eq(services_error("{\"services\": {\"a\": {\"request_target\": \"/a\", "
                                    "\"extra_headers\": {\"X-A\": 1}}}}"),
                     "lapps.json: services.a.extra_headers.X-A: expected a string, found 1");
}

Test(config, a_depends_cycle_is_an_error)
{
    cr_assert_str_eq(services_error("{\"services\": {"
                                    "\"a\": {\"standalone\": true, \"depends\": [\"b\"]},"
                                    "\"b\": {\"standalone\": true, \"depends\": [\"c\"]},"
                                    "\"c\": {\"standalone\": true, \"depends\": [\"a\"]}}}"),
                     "lapps.json: services.a.depends: expected no cycle, found a -> b -> c -> a");
}

/* LAppS's own example file: depends order, auto_start false services started because a
 * started one depends on them, an unknown depends entry warned about. */
Test(config, depends_order_and_auto_start)
{
    put("lapps.json",
        "{\"directories\": {\"applications\": \"apps\", \"deploy\": \"deploy\"},"
        " \"services\": {"
        "  \"echo\": {\"auto_start\": false, \"request_target\": \"/echo\"},"
        "  \"echo_lapps\": {\"protocol\": \"LAppS\", \"request_target\": \"/echo_lapps\","
        "                   \"depends\": [\"time_broadcast\"]},"
        "  \"time_broadcast\": {\"standalone\": true, \"preload\": [\"nap\"]},"
        "  \"benchmark\": {\"auto_start\": false, \"standalone\": true, \"depends\": [\"echo\"]},"
        "  \"user\": {\"standalone\": true, \"depends\": [\"benchmark\", \"ghost\"]},"
        "  \"off\": {\"auto_start\": false, \"request_target\": \"/off\"}}}");
    lapps_config *cfg = NULL;
    cr_assert_str_eq(load(&cfg), "");
    const char *names[8];
    for (size_t i = 0; i < cfg->n_order; i++)
        names[i] = cfg->svc[cfg->order[i]].name;
    cr_assert_eq(cfg->n_order, 5);
    cr_assert_str_eq(names[0], "time_broadcast");
    cr_assert_str_eq(names[1], "echo_lapps");
    cr_assert_str_eq(names[2], "echo");
    cr_assert_str_eq(names[3], "benchmark");
    cr_assert_str_eq(names[4], "user");
    char apps[128];
    snprintf(apps, sizeof apps, "%s/apps/echo", dir);
    cr_assert_str_eq(cfg->svc[cfg->order[2]].dir, apps);
    lapps_config_free(cfg);
    cr_assert(strstr(warnings, "lapps.json: services.user.depends: no service \"ghost\", ignored "
                               "(as LAppS did)\n"),
              "%s", warnings);
    cr_assert(strstr(warnings, "lapps.json: directories.deploy: a LAppS setting that changes "
                               "nothing here, ignored\n"),
              "%s", warnings);
}

Test(config, values_reach_the_config)
{
    put("ws.json", "{\"ip\": \"127.0.0.2\", \"port\": 0, \"tls\": true, \"tls_certificates\": "
                   "{\"cert\": \"c.pem\", \"key\": \"/k.pem\"}, \"workers\": {\"workers\": 3, "
                   "\"max_connections\": 77}, \"limits\": {\"max_message_size\": 1000, "
                   "\"idle_timeout_ms\": 9}, \"log\": {\"level\": \"debug\", \"file\": "
                   "\"l.log\"}, \"stats\": {\"interval\": 60}}");
    lapps_config *cfg = NULL;
    cr_assert_str_eq(load(&cfg), "");
    int tls = 0;
    cr_assert_str_eq(lapps_config_listener(cfg, 0, &tls), "127.0.0.2");
    cr_assert_eq(tls, 1);
    char path[128];
    snprintf(path, sizeof path, "%s/c.pem", dir);
    cr_assert_str_eq(cfg->cert, path);
    cr_assert_str_eq(cfg->key, "/k.pem");
    cr_assert_eq(cfg->workers, 3);
    cr_assert_eq(cfg->max_connections, 77);
    cr_assert_eq(cfg->max_message, 1000);
    cr_assert_eq(cfg->idle_ms, 9);
    cr_assert_eq(cfg->close_ms, 5000);
    cr_assert_eq(lapps_config_log_level(cfg), LAPPS_LOG_DEBUG);
    snprintf(path, sizeof path, "%s/l.log", dir);
    cr_assert_str_eq(lapps_config_log_file(cfg), path);
    cr_assert_eq(lapps_config_stats_interval(cfg), 60);
    lapps_config_free(cfg);
}
