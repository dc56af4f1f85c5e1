/* acl.c — access control lists (lapps/acl.h): parsing exceptions, and matching peer
 * addresses against them at accept and before the 101.
 *
 * Every address lives in one 128-bit space: IPv6 as it is, IPv4 as its IPv4-mapped
 * IPv6 form ::ffff:a.b.c.d. That is what makes "mapped peers are IPv4" hold by
 * construction (a peer reported as AF_INET and one reported as a mapped AF_INET6 are the
 * same number), and it lets one sorted array and one binary search serve both families.
 * An exception is the inclusive range [lo, hi] its prefix covers, except that an IPv6
 * prefix shorter than /96 leaves out the mapped block it contains ("::/0" means every
 * IPv6 peer, not IPv4 ones as well), so it may become two ranges. Since any match
 * decides (the policy is inverted, nothing else), overlapping ranges are merged into
 * disjoint ones, and "is a matched?" becomes "does the last range starting at or below a
 * end at or above it?": O(log n) with no allocation, on a copy no thread writes to.
 *
 * The ranges are kept sorted and merged lazily: lapps_acl_add() appends, and every
 * PENDING_MAX appends the array is sorted and merged again, so a check scans at most
 * that many unsorted ranges. The copies the server uses (lapps__acl_dup()) are always
 * fully merged. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <lapps/error.h>

#include "net/acl.h"

#define PENDING_MAX 64
/* The longest exception: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" (49). */
#define TEXT_MAX 64

__extension__ typedef unsigned __int128 u128;

#define U128_MAX  (~(u128)0)
#define V4_MAPPED ((u128)0xffff << 32) /* ::ffff:0.0.0.0, the first of IPv4 */
#define V4_LAST   (V4_MAPPED | 0xffffffffu)

struct range {
    u128 lo, hi; /* inclusive */
};

struct lapps_acl {
    lapps_acl_policy policy;
    struct range *r;
    size_t n;      /* ranges in r */
    size_t sorted; /* r[0, sorted) is sorted by lo and disjoint; r[sorted, n) is not yet */
    size_t cap;
};

static u128
from_bytes(const uint8_t b[16])
{
    u128 a = 0;
    for (int i = 0; i < 16; i++)
        a = a << 8 | b[i];
    return a;
}

/* The address in @p text and, when @p plen is not NULL, the prefix length after an
 * optional '/' (in the 128-bit space: an IPv4 /8 is /104). 0 or LAPPS_ERR_INVAL. */
static int
parse(const char *text, u128 *addr, unsigned *plen)
{
    char buf[TEXT_MAX];
    size_t len = strnlen(text, TEXT_MAX);
    if (len == 0 || len == TEXT_MAX)
        return LAPPS_ERR_INVAL;
    memcpy(buf, text, len + 1);
    char *slash = strchr(buf, '/');
    if (slash) {
        if (!plen)
            return LAPPS_ERR_INVAL;
        *slash = 0;
    }
    unsigned bits;
    uint8_t b[16];
    if (inet_pton(AF_INET, buf, b) == 1) {
        *addr = V4_MAPPED |
                (u128)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
        bits = 32;
    } else if (inet_pton(AF_INET6, buf, b) == 1) {
        *addr = from_bytes(b);
        bits = 128;
    } else {
        return LAPPS_ERR_INVAL;
    }
    if (!plen)
        return 0;
    unsigned p = bits;
    if (slash) {
        const char *d = slash + 1;
        /* Decimal, no sign, no leading zero, no trailing text: strtoul takes too much. */
        if (d[0] < '0' || d[0] > '9' || (d[0] == '0' && d[1]) || strlen(d) > 3)
            return LAPPS_ERR_INVAL;
        p = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return LAPPS_ERR_INVAL;
            p = p * 10 + (unsigned)(*d - '0');
        }
        if (p > bits)
            return LAPPS_ERR_INVAL;
    }
    *plen = p + (128 - bits);
    return 0;
}

static int
cmp_lo(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts every range and merges those that overlap or touch; never allocates. */
static void
merge_all(struct lapps_acl *acl)
{
    if (acl->sorted == acl->n)
        return;
    qsort(acl->r, acl->n, sizeof *acl->r, cmp_lo);
    size_t k = 0;
    for (size_t i = 0; i < acl->n; i++) {
        struct range x = acl->r[i];
        if (k > 0 && (x.lo <= acl->r[k - 1].hi ||
                      (acl->r[k - 1].hi != U128_MAX && x.lo == acl->r[k - 1].hi + 1))) {
            if (x.hi > acl->r[k - 1].hi)
                acl->r[k - 1].hi = x.hi;
        } else {
            acl->r[k++] = x;
        }
    }
    acl->n = acl->sorted = k;
}

static bool
matches(const struct lapps_acl *acl, u128 a)
{
    /* The first sorted range that starts above a; the one before it is the candidate. */
    size_t lo = 0, hi = acl->sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (acl->r[mid].lo <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && a <= acl->r[lo - 1].hi)
        return true;
    for (size_t i = acl->sorted; i < acl->n; i++)
        if (acl->r[i].lo <= a && a <= acl->r[i].hi)
            return true;
    return false;
}

static bool
allows(const struct lapps_acl *acl, u128 a)
{
    return matches(acl, a) ? acl->policy == LAPPS_ACL_DENY : acl->policy == LAPPS_ACL_ALLOW;
}

LAPPS_EXPORT int
lapps_acl_new(lapps_acl **out, lapps_acl_policy policy)
{
    if (!out || (policy != LAPPS_ACL_ALLOW && policy != LAPPS_ACL_DENY))
        return LAPPS_ERR_INVAL;
    lapps_acl *acl = calloc(1, sizeof *acl);
    if (!acl)
        return LAPPS_ERR_NOMEM;
    acl->policy = policy;
    *out = acl;
    return 0;
}

LAPPS_EXPORT int
lapps_acl_add(lapps_acl *acl, const char *addr)
{
    u128 a;
    unsigned plen;
    if (!acl || !addr || parse(addr, &a, &plen) != 0)
        return LAPPS_ERR_INVAL;
    u128 host = plen == 128 ? 0 : U128_MAX >> plen;
    if (a & host)
        return LAPPS_ERR_INVAL; /* bits past the prefix: refused, not rounded */
    if (acl->cap - acl->n < 2) {
        size_t cap = acl->cap ? acl->cap * 2 : 16;
        struct range *r = realloc(acl->r, cap * sizeof *r);
        if (!r)
            return LAPPS_ERR_NOMEM;
        acl->r = r;
        acl->cap = cap;
    }
    struct range x = {a, a | host};
    if (x.lo < V4_MAPPED && x.hi >= V4_LAST) {
        /* An IPv6 prefix around all of IPv4 (it is shorter than /96): IPv4 is not its. */
        acl->r[acl->n++] = (struct range){x.lo, V4_MAPPED - 1};
        if (x.hi > V4_LAST)
            acl->r[acl->n++] = (struct range){V4_LAST + 1, x.hi};
    } else {
        acl->r[acl->n++] = x;
    }
    if (acl->n - acl->sorted >= PENDING_MAX)
        merge_all(acl);
    return 0;
}

LAPPS_EXPORT int
lapps_acl_check(const lapps_acl *acl, const char *addr)
{
    u128 a;
    if (!acl || !addr || parse(addr, &a, NULL) != 0)
        return LAPPS_ERR_INVAL;
    return allows(acl, a);
}

LAPPS_EXPORT void
lapps_acl_free(lapps_acl *acl)
{
    if (!acl)
        return;
    free(acl->r);
    free(acl);
}

struct lapps_acl *
lapps__acl_dup(const struct lapps_acl *acl)
{
    struct lapps_acl *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->policy = acl->policy;
    if (acl->n) {
        if (!(c->r = malloc(acl->n * sizeof *c->r))) {
            free(c);
            return NULL;
        }
        memcpy(c->r, acl->r, acl->n * sizeof *c->r);
        c->n = c->cap = acl->n;
        c->sorted = acl->sorted;
        merge_all(c);
    }
    return c;
}

bool
lapps__acl_allows_sockaddr(const struct lapps_acl *acl, const struct sockaddr *sa)
{
    /* Copied out: a struct sockaddr promises less alignment than the family's struct. */
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in v4;
        memcpy(&v4, sa, sizeof v4);
        return allows(acl, V4_MAPPED | (u128)ntohl(v4.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 v6;
        memcpy(&v6, sa, sizeof v6);
        return allows(acl, from_bytes(v6.sin6_addr.s6_addr));
    }
    return false;
}

bool
lapps__acl_allows_peer(const struct lapps_acl *acl, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return false;
    return lapps__acl_allows_sockaddr(acl, (const struct sockaddr *)&ss);
}
