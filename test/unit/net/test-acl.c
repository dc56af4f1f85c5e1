/* Tests for lib/net/acl.c: what lapps_acl_add() accepts and refuses, matching at every
 * prefix length of both families (the boundaries and one past them), IPv4-mapped IPv6
 * addresses as IPv4 both in exceptions and in peers (text and sockaddr), both policies,
 * the merged copies the server uses, and 10 000 random exceptions against a brute-force
 * model, before and after merging. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lapps/acl.h>
#include <lapps/error.h>

#include "net/acl.h"

__extension__ typedef unsigned __int128 u128;

/* A deterministic generator, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t
rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static lapps_acl *
acl_of(lapps_acl_policy policy)
{
    lapps_acl *acl;
    cr_assert_eq(lapps_acl_new(&acl, policy), 0);
    return acl;
}

static const char *
v4_text(uint32_t a, char *buf)
{
    struct in_addr in = {htonl(a)};
    return inet_ntop(AF_INET, &in, buf, INET_ADDRSTRLEN);
}

static const char *
v6_text(u128 a, char *buf)
{
    uint8_t b[16];
    for (int i = 15; i >= 0; i--, a >>= 8)
        b[i] = (uint8_t)a;
    return inet_ntop(AF_INET6, b, buf, INET6_ADDRSTRLEN);
}

/* ---- parsing ---- */

Test(acl, new_refuses_bad_arguments)
{
    lapps_acl *acl = NULL;
    cr_assert_eq(lapps_acl_new(NULL, LAPPS_ACL_ALLOW), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_new(&acl, (lapps_acl_policy)2), LAPPS_ERR_INVAL);
    cr_assert_null(acl);
    lapps_acl_free(NULL);
}

Test(acl, adds_addresses_and_prefixes)
{
    static const char *good[] = {
        "10.1.2.3",
        "10.0.0.0/8",
        "0.0.0.0/0",
        "255.255.255.255/32",
        "192.168.1.0/24",
        "::1",
        "::/0",
        "fe80::/10",
        "::1/128",
        "2001:db8::/32",
        "::ffff:10.0.0.0/104",
        "::ffff:10.1.2.3",
        "::ffff:0:0/96",
        "0.0.0.0",
        "1.2.3.4/32",
        "2001:DB8:0:0:0:0:0:1",
        "0001:0db8::/32",
        "1:2:3:4:5:6:7.8.9.10",
    };
    lapps_acl *acl = acl_of(LAPPS_ACL_DENY);
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_assert_eq(lapps_acl_add(acl, good[i]), 0, "\"%s\" refused", good[i]);
    lapps_acl_free(acl);
}

Test(acl, refuses_what_is_not_an_address_or_a_prefix)
{
    static const char *bad[] = {
        "1.2.3.4/33",
        "1.2.3",
        "::1/129",
        "x",
        "",
        "1.2.3.4 ",
        " 1.2.3.4",
        "01.2.3.4",
        "1.2.3.04",
        "256.1.1.1",
        "1.2.3.4/",
        "1.2.3.4/08",
        "1.2.3.4/-1",
        "1.2.3.4/+8",
        "1.2.3.4/ 8",
        "1.2.3.4/8/8",
        "1.2.3.4/8x",
        "1.2.3.4/1000",
        "::1/0128",
        "10.1.2.3/8",         /* host bits set: refused, not rounded */
        "fe80::1/10",         /* the same for IPv6 */
        "::ffff:10.0.0.0/90", /* the ffff of the mapped block lies past /90 */
        "::1%lo",
        "[::1]",
        "1.2.3.4:80",
        "[::1]:80",
        "1.2.3.4\n",
        "localhost",
        "1::2::3",
        "0x7f.0.0.1",
        "127.1",
        "2001:db8::/",
        "/8",
        "::g",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128 and a lot more text after it",
    };
    lapps_acl *acl = acl_of(LAPPS_ACL_ALLOW);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(lapps_acl_add(acl, bad[i]), LAPPS_ERR_INVAL, "\"%s\" accepted", bad[i]);
    cr_assert_eq(lapps_acl_add(acl, NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_add(NULL, "1.2.3.4"), LAPPS_ERR_INVAL);
    /* Nothing was added: ALLOW with no exception allows everyone. */
    cr_assert_eq(lapps_acl_check(acl, "10.1.2.3"), 1);
    cr_assert_eq(lapps_acl_check(acl, "fe80::1"), 1);
    lapps_acl_free(acl);
}

Test(acl, check_takes_a_bare_address_only)
{
    lapps_acl *acl = acl_of(LAPPS_ACL_ALLOW);
    cr_assert_eq(lapps_acl_check(acl, "1.2.3.4/32"), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_check(acl, "::1/128"), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_check(acl, "1.2.3"), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_check(acl, ""), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_check(acl, "1.2.3.4 "), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_check(acl, NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_acl_check(NULL, "1.2.3.4"), LAPPS_ERR_INVAL);
    lapps_acl_free(acl);
}

/* ---- matching ---- */

Test(acl, empty_lists_follow_the_policy)
{
    lapps_acl *allow = acl_of(LAPPS_ACL_ALLOW), *deny = acl_of(LAPPS_ACL_DENY);
    const char *addrs[] = {"0.0.0.0", "127.0.0.1", "255.255.255.255",
                           "::",      "::1",       "::ffff:1.2.3.4"};
    for (size_t i = 0; i < sizeof addrs / sizeof *addrs; i++) {
        cr_assert_eq(lapps_acl_check(allow, addrs[i]), 1, "%s", addrs[i]);
        cr_assert_eq(lapps_acl_check(deny, addrs[i]), 0, "%s", addrs[i]);
    }
    lapps_acl_free(allow);
    lapps_acl_free(deny);
}

/* For each prefix length: the first and last addresses of the network match, the ones
 * just outside it do not, and neither does the address with the last prefix bit flipped;
 * under ALLOW the answers are the opposite. */
Test(acl, ipv4_every_prefix_length)
{
    const uint32_t base = 0xb3a5c3e7u; /* 179.165.195.231 */
    for (unsigned p = 0; p <= 32; p++) {
        uint32_t host = p == 32 ? 0 : 0xffffffffu >> p;
        uint32_t net = base & ~host;
        char text[64], a[INET_ADDRSTRLEN];
        snprintf(text, sizeof text, "%s/%u", v4_text(net, a), p);
        lapps_acl *deny = acl_of(LAPPS_ACL_DENY), *allow = acl_of(LAPPS_ACL_ALLOW);
        cr_assert_eq(lapps_acl_add(deny, text), 0, "%s", text);
        cr_assert_eq(lapps_acl_add(allow, text), 0, "%s", text);
        uint32_t in[] = {net, net | host, base};
        for (size_t i = 0; i < 3; i++) {
            cr_assert_eq(lapps_acl_check(deny, v4_text(in[i], a)), 1, "%s in %s", a, text);
            cr_assert_eq(lapps_acl_check(allow, v4_text(in[i], a)), 0, "%s in %s", a, text);
        }
        if (p > 0) {
            uint32_t out[] = {net - 1, (net | host) + 1, base ^ (1u << (32 - p))};
            for (size_t i = 0; i < 3; i++) {
                if ((out[i] & ~host) == net) /* wrapped around 0 or 2^32 */
                    continue;
                cr_assert_eq(lapps_acl_check(deny, v4_text(out[i], a)), 0, "%s not in %s", a, text);
                cr_assert_eq(lapps_acl_check(allow, v4_text(out[i], a)), 1, "%s not in %s", a,
                             text);
            }
        }
        /* An IPv4 exception never matches an IPv6 address, whatever its length. */
        cr_assert_eq(lapps_acl_check(deny, "2001:db8::1"), 0, "%s", text);
        lapps_acl_free(deny);
        lapps_acl_free(allow);
    }
}

Test(acl, ipv6_every_prefix_length)
{
    const u128 base = (u128)0x20010db8a5c3f00fu << 64 | 0x0123456789abcdefu;
    for (unsigned p = 0; p <= 128; p++) {
        u128 host = p == 128 ? 0 : ~(u128)0 >> p;
        u128 net = base & ~host;
        char text[80], a[INET6_ADDRSTRLEN];
        snprintf(text, sizeof text, "%s/%u", v6_text(net, a), p);
        lapps_acl *deny = acl_of(LAPPS_ACL_DENY), *allow = acl_of(LAPPS_ACL_ALLOW);
        cr_assert_eq(lapps_acl_add(deny, text), 0, "%s", text);
        cr_assert_eq(lapps_acl_add(allow, text), 0, "%s", text);
        u128 in[] = {net, net | host, base};
        for (size_t i = 0; i < 3; i++) {
            cr_assert_eq(lapps_acl_check(deny, v6_text(in[i], a)), 1, "%s in %s", a, text);
            cr_assert_eq(lapps_acl_check(allow, v6_text(in[i], a)), 0, "%s in %s", a, text);
        }
        if (p > 0) {
            u128 out[] = {net - 1, (net | host) + 1, base ^ ((u128)1 << (128 - p))};
            for (size_t i = 0; i < 3; i++) {
                if ((out[i] & ~host) == net)
                    continue;
                cr_assert_eq(lapps_acl_check(deny, v6_text(out[i], a)), 0, "%s not in %s", a, text);
                cr_assert_eq(lapps_acl_check(allow, v6_text(out[i], a)), 1, "%s not in %s", a,
                             text);
            }
        }
        /* No IPv6 prefix shorter than /96 matches an IPv4 peer, not even ::/1 and ::/2
         * (and ::/0), whose ranges hold the mapped block. */
        cr_assert_eq(lapps_acl_check(deny, "32.1.13.184"), 0, "%s", text);
        cr_assert_eq(lapps_acl_check(deny, "::ffff:32.1.13.184"), 0, "%s", text);
        lapps_acl_free(deny);
        lapps_acl_free(allow);
    }
}

Test(acl, mapped_addresses_are_ipv4)
{
    lapps_acl *acl = acl_of(LAPPS_ACL_DENY);
    cr_assert_eq(lapps_acl_add(acl, "10.0.0.0/8"), 0);
    cr_assert_eq(lapps_acl_add(acl, "::ffff:192.168.0.0/112"), 0); /* 192.168.0.0/16 */
    cr_assert_eq(lapps_acl_check(acl, "10.1.2.3"), 1);
    cr_assert_eq(lapps_acl_check(acl, "::ffff:10.1.2.3"), 1);
    cr_assert_eq(lapps_acl_check(acl, "::ffff:a01:203"), 1); /* the same, in hex */
    cr_assert_eq(lapps_acl_check(acl, "192.168.77.1"), 1);
    cr_assert_eq(lapps_acl_check(acl, "::ffff:192.168.77.1"), 1);
    cr_assert_eq(lapps_acl_check(acl, "192.169.0.1"), 0);
    cr_assert_eq(lapps_acl_check(acl, "11.1.2.3"), 0);
    cr_assert_eq(lapps_acl_check(acl, "::ffff:11.1.2.3"), 0);
    /* Not mapped: IPv4-compatible (::a.b.c.d) and NAT64 forms are other IPv6 addresses. */
    cr_assert_eq(lapps_acl_check(acl, "::10.1.2.3"), 0);
    cr_assert_eq(lapps_acl_check(acl, "64:ff9b::10.1.2.3"), 0);
    cr_assert_eq(lapps_acl_check(acl, "::fffe:10.1.2.3"), 0);
    lapps_acl_free(acl);

    /* The whole mapped block is all of IPv4; "::/96" (IPv4-compatible) is not. */
    acl = acl_of(LAPPS_ACL_DENY);
    cr_assert_eq(lapps_acl_add(acl, "::ffff:0:0/96"), 0);
    cr_assert_eq(lapps_acl_check(acl, "1.2.3.4"), 1);
    cr_assert_eq(lapps_acl_check(acl, "255.255.255.255"), 1);
    cr_assert_eq(lapps_acl_check(acl, "::1"), 0);
    lapps_acl_free(acl);
    acl = acl_of(LAPPS_ACL_DENY);
    cr_assert_eq(lapps_acl_add(acl, "::/96"), 0);
    cr_assert_eq(lapps_acl_check(acl, "1.2.3.4"), 0);
    cr_assert_eq(lapps_acl_check(acl, "::1"), 1);
    lapps_acl_free(acl);

    /* IPv6 prefixes around the mapped block (/80 and shorter, or ::8000:0:0/81) match
     * the IPv6 addresses beside it, never IPv4: "::/0" is every IPv6 peer. */
    const struct {
        const char *prefix, *in, *out;
    } around[] = {
        {"::/0", "2001:db8::1", NULL},
        {"::/64", "::1", "2001:db8::1"},
        {"::/80", "::fffe:ffff:ffff", "::1:0:0:0"},    /* ends where IPv4 ends */
        {"::8000:0:0/81", "::8000:0:0", "::7fff:0:0"}, /* the same */
    };
    for (size_t i = 0; i < sizeof around / sizeof *around; i++) {
        acl = acl_of(LAPPS_ACL_DENY);
        cr_assert_eq(lapps_acl_add(acl, around[i].prefix), 0);
        lapps_acl *copy = lapps__acl_dup(acl);
        cr_assert_not_null(copy);
        const lapps_acl *both[] = {acl, copy};
        for (int k = 0; k < 2; k++) {
            const lapps_acl *x = both[k];
            const char *p = around[i].prefix;
            cr_assert_eq(lapps_acl_check(x, around[i].in), 1, "%s in %s", around[i].in, p);
            cr_assert_eq(lapps_acl_check(x, "::ffff:0:0"), 0, "%s", p);
            if (around[i].out)
                cr_assert_eq(lapps_acl_check(x, around[i].out), 0, "%s not in %s", around[i].out,
                             p);
            cr_assert_eq(lapps_acl_check(x, "0.0.0.0"), 0, "%s", p);
            cr_assert_eq(lapps_acl_check(x, "1.2.3.4"), 0, "%s", p);
            cr_assert_eq(lapps_acl_check(x, "::ffff:1.2.3.4"), 0, "%s", p);
            cr_assert_eq(lapps_acl_check(x, "255.255.255.255"), 0, "%s", p);
        }
        lapps_acl_free(copy);
        lapps_acl_free(acl);
    }
}

Test(acl, sockaddr_peers)
{
    lapps_acl *acl = acl_of(LAPPS_ACL_DENY);
    cr_assert_eq(lapps_acl_add(acl, "127.0.0.2"), 0);
    cr_assert_eq(lapps_acl_add(acl, "::1"), 0);
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(80)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    inet_pton(AF_INET, "127.0.0.2", &v4.sin_addr);
    cr_assert(lapps__acl_allows_sockaddr(acl, (struct sockaddr *)&v4));
    inet_pton(AF_INET, "127.0.0.3", &v4.sin_addr);
    cr_assert_not(lapps__acl_allows_sockaddr(acl, (struct sockaddr *)&v4));
    inet_pton(AF_INET6, "::ffff:127.0.0.2", &v6.sin6_addr);
    cr_assert(lapps__acl_allows_sockaddr(acl, (struct sockaddr *)&v6), "mapped peer as IPv4");
    inet_pton(AF_INET6, "::ffff:127.0.0.3", &v6.sin6_addr);
    cr_assert_not(lapps__acl_allows_sockaddr(acl, (struct sockaddr *)&v6));
    inet_pton(AF_INET6, "::1", &v6.sin6_addr);
    cr_assert(lapps__acl_allows_sockaddr(acl, (struct sockaddr *)&v6));
    struct sockaddr other = {.sa_family = AF_UNIX};
    cr_assert_not(lapps__acl_allows_sockaddr(acl, &other), "unknown families are denied");
    /* A socket with no peer is denied too. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_not(lapps__acl_allows_peer(acl, fd));
    close(fd);
    lapps_acl_free(acl);
}

Test(acl, overlapping_and_duplicate_exceptions)
{
    lapps_acl *acl = acl_of(LAPPS_ACL_DENY);
    /* A wide network added after narrow ones inside it, and one that touches it: after
     * merging, an address of the wide network past the narrow ones still matches. */
    const char *list[] = {"10.1.0.0/16", "10.1.2.0/24", "10.0.0.0/8",   "10.1.2.3",
                          "11.0.0.0/8",  "10.1.2.3",    "9.255.255.255"};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        cr_assert_eq(lapps_acl_add(acl, list[i]), 0);
    lapps_acl *copy = lapps__acl_dup(acl);
    cr_assert_not_null(copy);
    const char *in[] = {"10.200.0.1", "10.1.2.3", "11.255.255.255", "9.255.255.255", "10.0.0.0"};
    const char *out[] = {"12.0.0.0", "9.255.255.254", "8.0.0.1"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        cr_assert_eq(lapps_acl_check(acl, in[i]), 1, "%s", in[i]);
        cr_assert_eq(lapps_acl_check(copy, in[i]), 1, "%s (copy)", in[i]);
    }
    for (size_t i = 0; i < sizeof out / sizeof *out; i++) {
        cr_assert_eq(lapps_acl_check(acl, out[i]), 0, "%s", out[i]);
        cr_assert_eq(lapps_acl_check(copy, out[i]), 0, "%s (copy)", out[i]);
    }
    /* The copy is its own: changing the original leaves it alone. */
    cr_assert_eq(lapps_acl_add(acl, "12.0.0.0/8"), 0);
    cr_assert_eq(lapps_acl_check(acl, "12.0.0.0"), 1);
    cr_assert_eq(lapps_acl_check(copy, "12.0.0.0"), 0);
    lapps_acl_free(acl);
    cr_assert_eq(lapps_acl_check(copy, "10.200.0.1"), 1);
    lapps_acl_free(copy);
}

/* ---- many exceptions against a brute-force model ---- */

struct model_range {
    u128 lo, hi;
};

#define N_MANY 10000

static struct model_range model[N_MANY];

static bool
model_matches(size_t n, u128 a)
{
    for (size_t i = 0; i < n; i++)
        if (model[i].lo <= a && a <= model[i].hi)
            return true;
    return false;
}

static u128
mapped(uint32_t a)
{
    return (u128)0xffff << 32 | a;
}

/* A random exception: an IPv4 host or prefix (/8../32), or an IPv6 one (/16../128) in a
 * few /16s so that they collide, nest and touch. */
static void
random_exception(char *text, size_t size, struct model_range *r)
{
    char a[INET6_ADDRSTRLEN];
    uint64_t x = rnd();
    if (x & 1) {
        unsigned p = 8 + (unsigned)(rnd() % 25);
        if (x & 2)
            p = 32;
        uint32_t host = p == 32 ? 0 : 0xffffffffu >> p;
        uint32_t net = ((uint32_t)rnd() & 0x3fffffffu) & ~host; /* 0.0.0.0 - 63.255.255.255 */
        snprintf(text, size, "%s/%u", v4_text(net, a), p);
        r->lo = mapped(net);
        r->hi = mapped(net | host);
    } else {
        unsigned p = 16 + (unsigned)(rnd() % 113);
        u128 host = p == 128 ? 0 : ~(u128)0 >> p;
        u128 net = ((u128)(0x2001 + rnd() % 4) << 112 | (u128)rnd() << 48 | rnd()) & ~host;
        snprintf(text, size, "%s/%u", v6_text(net, a), p);
        r->lo = net;
        r->hi = net | host;
    }
}

static void
check_probe(const lapps_acl *acl, const lapps_acl *copy, size_t n, u128 a)
{
    char t[INET6_ADDRSTRLEN];
    bool v4 = (a >> 32) == 0xffff;
    const char *text = v4 ? v4_text((uint32_t)a, t) : v6_text(a, t);
    int want = model_matches(n, a) ? 1 : 0; /* DENY: matched means allowed */
    cr_assert_eq(lapps_acl_check(acl, text), want, "%s after %zu exceptions", text, n);
    if (copy)
        cr_assert_eq(lapps_acl_check(copy, text), want, "%s after %zu (copy)", text, n);
}

Test(acl, ten_thousand_exceptions_match_like_a_linear_scan, .timeout = 120)
{
    lapps_acl *acl = acl_of(LAPPS_ACL_DENY);
    size_t n = 0;
    char text[80];
    for (; n < N_MANY; n++) {
        random_exception(text, sizeof text, &model[n]);
        cr_assert_eq(lapps_acl_add(acl, text), 0, "%s", text);
        /* Now and then, while unmerged exceptions wait: their ends and random probes. */
        if (n % 997 == 0) {
            for (size_t k = 0; k <= n; k += 1 + n / 50) {
                check_probe(acl, NULL, n + 1, model[k].lo);
                check_probe(acl, NULL, n + 1, model[k].hi);
            }
        }
    }
    lapps_acl *copy = lapps__acl_dup(acl);
    cr_assert_not_null(copy);
    for (size_t k = 0; k < n; k++) {
        /* Both ends of every exception, and one past each (which another may cover). */
        check_probe(acl, copy, n, model[k].lo);
        check_probe(acl, copy, n, model[k].hi);
        check_probe(acl, copy, n, model[k].lo - 1);
        check_probe(acl, copy, n, model[k].hi + 1);
    }
    for (int i = 0; i < 20000; i++) {
        u128 a = (rnd() & 1) ? mapped((uint32_t)rnd() & 0x3fffffffu)
                             : ((u128)(0x2001 + rnd() % 4) << 112 | (u128)rnd() << 48 | rnd());
        check_probe(acl, copy, n, a);
    }
    lapps_acl_free(acl);
    lapps_acl_free(copy);
}

Test(acl, allow_policy_inverts_the_same_list)
{
    lapps_acl *deny = acl_of(LAPPS_ACL_DENY), *allow = acl_of(LAPPS_ACL_ALLOW);
    char text[80];
    struct model_range r;
    for (int i = 0; i < 500; i++) {
        random_exception(text, sizeof text, &r);
        cr_assert_eq(lapps_acl_add(deny, text), 0);
        cr_assert_eq(lapps_acl_add(allow, text), 0);
    }
    for (int i = 0; i < 5000; i++) {
        char t[INET6_ADDRSTRLEN];
        const char *a = (rnd() & 1) ? v4_text((uint32_t)rnd() & 0x3fffffffu, t)
                                    : v6_text((u128)(0x2001 + rnd() % 4) << 112 | rnd(), t);
        cr_assert_eq(lapps_acl_check(deny, a) + lapps_acl_check(allow, a), 1, "%s", a);
    }
    lapps_acl_free(deny);
    lapps_acl_free(allow);
}

/* ---- the setters ---- */

Test(acl, setters_copy_and_replace)
{
    lapps_opts *o;
    lapps_service *svc;
    lapps_acl *acl = acl_of(LAPPS_ACL_DENY);
    cr_assert_eq(lapps_acl_add(acl, "10.0.0.0/8"), 0);
    cr_assert_eq(lapps_opts_new(&o), 0);
    cr_assert_eq(lapps_service_new(&svc, "s", "/s"), 0);
    cr_assert_eq(lapps_opts_set_acl(NULL, acl), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_service_set_acl(NULL, acl), LAPPS_ERR_INVAL);
    /* Set, replace (the old copy is freed: ASan would see a leak), remove, set again. */
    cr_assert_eq(lapps_opts_set_acl(o, acl), 0);
    cr_assert_eq(lapps_opts_set_acl(o, acl), 0);
    cr_assert_eq(lapps_opts_set_acl(o, NULL), 0);
    cr_assert_eq(lapps_opts_set_acl(o, acl), 0);
    cr_assert_eq(lapps_service_set_acl(svc, acl), 0);
    cr_assert_eq(lapps_service_set_acl(svc, acl), 0);
    cr_assert_eq(lapps_service_set_acl(svc, NULL), 0);
    cr_assert_eq(lapps_service_set_acl(svc, acl), 0);
    lapps_acl_free(acl); /* the copies live on and are freed with their owners */
    lapps_service_free(svc);
    lapps_opts_free(o);
}
