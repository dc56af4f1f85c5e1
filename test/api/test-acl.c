/* API tests of the ACLs (lapps/acl.h) over loopback: clients bound to 127.0.0.2,
 * 127.0.0.3, 127.1.2.3 and ::1 (test/api/clients/acl_client.py) meet a server ACL (the
 * socket closed at once, before any answer) and service ACLs (403 before the 101) of both
 * policies, IPv4 and IPv6, on 2 workers; refused peers never reach on_open nor the
 * connection count, and lapps_stats counts them. A Lua service gets its ACL through
 * lapps_server_service() after lapps_lua_service_register().
 *
 * The kernel spreads accepts over the workers' SO_REUSEPORT sockets by a hash of the
 * addresses and ports (DESIGN.md §11), so each source opens 16 connections, and the
 * tests assert that the allowed ones really landed on both workers: the server ACL is
 * checked in each worker's accept loop, the service ACL on whichever worker read the
 * request, including those that hand the connection over. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PER_SOURCE   16
#define PER_SOURCE_S "16"

/* Runs acl_client.py from @p source against @p host:@p port and @p path, and checks
 * that each of its PER_SOURCE connections ended with @p want ("http 101", "closed"). */
static void
expect_all(const char *host, const char *port, const char *source, const char *path,
           const char *want)
{
    char *out = NULL;
    int rc = api_python(60000, &out, "acl_client.py", host, port, source, "--path", path, "--count",
                        PER_SOURCE_S, "--timeout", "5", NULL);
    API_CLIENT_OK(rc, out);
    cr_assert_eq(api_count_prefix(out, want), PER_SOURCE,
                 "from %s to [%s]:%s%s: every connection should end with \"%s\":\n%s", source, host,
                 port, path, want, out);
    free(out);
}

static lapps_acl *
acl_with(lapps_acl_policy policy, const char *a, const char *b)
{
    lapps_acl *acl;
    cr_assert_eq(lapps_acl_new(&acl, policy), 0);
    if (a)
        cr_assert_eq(lapps_acl_add(acl, a), 0, "%s", a);
    if (b)
        cr_assert_eq(lapps_acl_add(acl, b), 0, "%s", b);
    return acl;
}

static void
expect_both_workers(struct api_server *s)
{
    int w0 = atomic_load(&s->c.per_worker[0]), w1 = atomic_load(&s->c.per_worker[1]);
    cr_assert(w0 > 0 && w1 > 0,
              "the allowed connections should have landed on both workers (%d and %d)", w0, w1);
}

/* Long handshake timeout: a "closed" can then only be the ACL's, not the timer's. */
static struct api_config
config(void)
{
    return (struct api_config){.workers = 2, .handshake_ms = 60000};
}

Test(acl, server_deny_by_default_lets_only_the_excluded_in)
{
    int fds = api_fd_count();
    lapps_acl *acl = acl_with(LAPPS_ACL_DENY, "127.0.0.2", NULL);
    struct api_config cfg = config();
    cfg.acl = acl;
    struct api_server s;
    api_server_start(&s, &cfg);
    lapps_acl_free(acl); /* the server has its own copy */
    expect_all("127.0.0.1", s.port_str, "127.0.0.2", "/echo", "http 101");
    expect_all("127.0.0.1", s.port_str, "127.0.0.3", "/echo", "closed");
    expect_all("127.0.0.1", s.port_str, "127.1.2.3", "/small", "closed");
    cr_assert(api_wait_all_closed(&s, PER_SOURCE, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), PER_SOURCE, "on_open only for the allowed peer");
    expect_both_workers(&s);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.accepted, 3 * PER_SOURCE);
    cr_assert_eq(st.acl_refused, 2 * PER_SOURCE);
    cr_assert_eq(st.handshakes_failed, 0, "refused at accept: no handshake was tried");
    cr_assert_eq(st.connections, 0);

    /* A caller built against the older lapps_stats (ending with handed_over) gets what
     * it knows and nothing is written past it; smaller sizes are refused. */
    struct {
        lapps_stats st;
        char guard[16];
    } old;
    memset(&old, 0x5a, sizeof old);
    old.st.size = offsetof(lapps_stats, acl_refused);
    cr_assert_eq(lapps_server_stats(s.srv, &old.st), 0);
    cr_assert_eq(old.st.accepted, 3 * PER_SOURCE);
    cr_assert_eq(old.st.acl_refused, 0x5a5a5a5a5a5a5a5aull, "written past out->size");
    old.st.size = offsetof(lapps_stats, handed_over);
    cr_assert_eq(lapps_server_stats(s.srv, &old.st), LAPPS_ERR_INVAL);
    api_server_finish(&s);
    cr_assert_eq(api_wait_fds(fds, 5000), fds, "descriptors leaked");
}

Test(acl, server_allow_with_an_excluded_network)
{
    lapps_acl *acl = acl_with(LAPPS_ACL_ALLOW, "127.1.0.0/16", NULL);
    struct api_config cfg = config();
    cfg.acl = acl;
    struct api_server s;
    api_server_start(&s, &cfg);
    lapps_acl_free(acl);
    expect_all("127.0.0.1", s.port_str, "127.1.2.3", "/echo", "closed");
    expect_all("127.0.0.1", s.port_str, "127.0.0.2", "/echo", "http 101");
    expect_all("127.0.0.1", s.port_str, "127.0.0.3", "/echo", "http 101");
    cr_assert(api_wait_all_closed(&s, 2 * PER_SOURCE, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), 2 * PER_SOURCE);
    expect_both_workers(&s);
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.acl_refused, PER_SOURCE);
    cr_assert_eq(st.accepted, 3 * PER_SOURCE);
    api_server_finish(&s);
}

/* The /echo service has one instance on 2 workers: connections read on the other worker
 * are handed over after the handshake, and the ACL must refuse before that. /small has
 * no ACL: the service's ACL is its own. */
Test(acl, service_acl_answers_403_before_the_101)
{
    lapps_acl *acl = acl_with(LAPPS_ACL_DENY, "127.0.0.2", "::1");
    struct api_config cfg = config();
    cfg.instances = 1;
    cfg.ipv6 = true;
    cfg.service_acl = acl;
    struct api_server s;
    api_server_start(&s, &cfg);
    lapps_acl_free(acl);
    expect_all("127.0.0.1", s.port_str, "127.0.0.2", "/echo", "http 101");
    expect_all("127.0.0.1", s.port_str, "127.0.0.3", "/echo", "http 403");
    expect_all("127.0.0.1", s.port_str, "127.1.2.3", "/echo", "http 403");
    expect_all("::1", s.v6_port_str, "::1", "/echo", "http 101");
    expect_all("127.0.0.1", s.port_str, "127.0.0.3", "/small", "http 101");
    cr_assert(api_wait_all_closed(&s, 3 * PER_SOURCE, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), 3 * PER_SOURCE, "on_open only for allowed peers");
    lapps_stats st = api_stats(&s);
    cr_assert_eq(st.acl_refused, 2 * PER_SOURCE);
    cr_assert_eq(st.handshakes_failed, 2 * PER_SOURCE, "a 403 is a failed handshake");
    cr_assert_eq(st.accepted, 5 * PER_SOURCE);
    cr_assert_eq(st.connections, 0);
    /* /small runs on both workers and took connections on both; /echo's one instance
     * took the others, half of them handed over from the worker that accepted them. */
    expect_both_workers(&s);
    cr_assert_gt(st.handed_over, 0,
                 "no connection crossed workers: the hand-over path was "
                 "not exercised");
    api_server_finish(&s);
}

Test(acl, ipv6_entries_allow_and_deny_the_ipv6_peer)
{
    /* Deny by default, ::1 excluded: the IPv6 client gets in, IPv4 ones do not. */
    lapps_acl *acl = acl_with(LAPPS_ACL_DENY, "::1/128", NULL);
    struct api_config cfg = config();
    cfg.ipv6 = true;
    cfg.acl = acl;
    struct api_server s;
    api_server_start(&s, &cfg);
    lapps_acl_free(acl);
    expect_all("::1", s.v6_port_str, "::1", "/echo", "http 101");
    expect_all("127.0.0.1", s.port_str, "127.0.0.2", "/echo", "closed");
    cr_assert(api_wait_all_closed(&s, PER_SOURCE, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), PER_SOURCE);
    cr_assert_eq(api_stats(&s).acl_refused, PER_SOURCE);
    api_server_finish(&s);

    /* Allow by default, the loopback /64 excluded (so a prefix, not just the address):
     * the reverse. An IPv4-mapped exception (::ffff:127.0.0.3) is the IPv4 address. */
    acl = acl_with(LAPPS_ACL_ALLOW, "::/64", "::ffff:127.0.0.3");
    cfg.acl = acl;
    api_server_start(&s, &cfg);
    lapps_acl_free(acl);
    expect_all("::1", s.v6_port_str, "::1", "/echo", "closed");
    expect_all("127.0.0.1", s.port_str, "127.0.0.2", "/echo", "http 101");
    expect_all("127.0.0.1", s.port_str, "127.0.0.3", "/echo", "closed");
    cr_assert(api_wait_all_closed(&s, PER_SOURCE, 10000));
    cr_assert_eq(atomic_load(&s.c.opens), PER_SOURCE);
    cr_assert_eq(api_stats(&s).acl_refused, 2 * PER_SOURCE);
    api_server_finish(&s);
}

/* ---- a Lua service ---- */

static void
quiet_log(lapps_log_level level, const char *msg, void *ud)
{
    (void)ud;
    if (level <= LAPPS_LOG_WARN)
        fprintf(stderr, "lapps[%d]: %s\n", (int)level, msg);
}

Test(acl, lua_service_gets_its_acl_after_registering)
{
    const char *dir = getenv("LAPPS_API_LUA");
    cr_assert(dir, "LAPPS_API_LUA is not set (run the tests through meson)");
    lapps_opts *o;
    lapps_server *srv;
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_opts_set_workers(o, 2), 0);
    cr_assert_eq(lapps_opts_add_listener(o, "127.0.0.1", 0, NULL), 0);
    cr_assert_eq(lapps_opts_set_log(o, quiet_log, LAPPS_LOG_WARN, NULL), 0);
    cr_assert_eq(lapps_server_new(&srv, o), 0);
    lapps_opts_free(o);
    const char *path[] = {dir, NULL};
    lapps_lua_service d = {.size = sizeof d,
                           .name = "rawecho",
                           .target = "/raw",
                           .path = path,
                           .protocol = LAPPS_PROTO_RAW,
                           .instances = 1};
    char err[512];
    cr_assert_eq(lapps_lua_service_register(srv, &d, err, sizeof err), 0, "%s", err);
    cr_assert_null(lapps_server_service(srv, "no_such_service"));
    lapps_service *svc = lapps_server_service(srv, "rawecho");
    cr_assert_not_null(svc);
    /* Set twice: the second replaces (and frees) the first. */
    lapps_acl *first = acl_with(LAPPS_ACL_DENY, NULL, NULL);
    lapps_acl *acl = acl_with(LAPPS_ACL_DENY, "127.0.0.2", NULL);
    cr_assert_eq(lapps_service_set_acl(svc, first), 0);
    cr_assert_eq(lapps_service_set_acl(svc, acl), 0);
    lapps_acl_free(first);
    lapps_acl_free(acl);
    cr_assert_eq(lapps_server_start(srv), 0);
    char port[8];
    snprintf(port, sizeof port, "%u", lapps_server_port(srv, 0));
    expect_all("127.0.0.1", port, "127.0.0.2", "/raw", "http 101");
    expect_all("127.0.0.1", port, "127.0.0.3", "/raw", "http 403");
    lapps_stats st = {.size = sizeof st};
    cr_assert_eq(lapps_server_stats(srv, &st), 0);
    cr_assert_eq(st.acl_refused, PER_SOURCE);
    cr_assert_gt(st.handed_over, 0, "one instance on 2 workers: some were handed over");
    lapps_server_free(srv);
}
