/* liblapps — access control lists: which peer addresses may connect.
 *
 * An ACL is a policy plus a list of exceptions, as in LAppS's `{policy, exclude}`:
 *   - LAPPS_ACL_ALLOW: every address is allowed except those the exceptions match;
 *   - LAPPS_ACL_DENY:  every address is denied except those the exceptions match.
 * Exceptions are IPv4 and IPv6 addresses or CIDR prefixes, matched exactly (no
 * classful guessing). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are the IPv4 address
 * a.b.c.d: "10.0.0.0/8" and "::ffff:10.0.0.0/104" are the same exception, and both
 * match a peer that connects as 10.1.2.3 or as ::ffff:10.1.2.3. IPv6 prefixes shorter
 * than /96 never match IPv4 peers, even those ("::/0", "::/64") whose range holds the
 * mapped block: "::/0" means every IPv6 peer; all of IPv4 is "0.0.0.0/0".
 *
 * Two places use one (lapps_opts_set_acl(), lapps_service_set_acl()):
 *   - the server's ACL is applied as each TCP connection is accepted: a refused peer's
 *     socket is closed at once, before anything is read from it or allocated for it;
 *   - a service's ACL is applied when the handshake names the service, before the 101:
 *     a refused peer gets "403 Forbidden" and the connection is closed. Neither kind of
 *     refusal reaches on_open, and lapps_stats.acl_refused counts both.
 *
 * Threads. An ACL has no lock: lapps_acl_add() and lapps_acl_free() need the ACL to
 * themselves; lapps_acl_check() only reads it and may run on many threads at once.
 * The setters copy the ACL, so it may be changed or freed right after. */
#ifndef LAPPS_ACL_H
#define LAPPS_ACL_H

#include <lapps/common.h>
#include <lapps/server.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lapps_acl lapps_acl;

/** What an address the exceptions do not match gets. */
typedef enum lapps_acl_policy {
    /** Allowed, unless an exception matches it. */
    LAPPS_ACL_ALLOW = 0,
    /** Denied, unless an exception matches it. */
    LAPPS_ACL_DENY = 1,
} lapps_acl_policy;

/** Creates an empty ACL with @p policy (with no exception, ALLOW allows everyone and
 *  DENY denies everyone).
 *  @return 0, LAPPS_ERR_INVAL (@p out NULL, or an unknown policy) or LAPPS_ERR_NOMEM.
 *  Any thread. */
LAPPS_EXPORT int lapps_acl_new(lapps_acl **out, lapps_acl_policy policy);

/** Adds an exception: an address ("10.1.2.3", "::1", "::ffff:10.1.2.3") or a CIDR prefix
 *  ("10.0.0.0/8", "fe80::/10", "::ffff:10.0.0.0/104"). Addresses are written as
 *  inet_pton() reads them: IPv4 in four decimal parts without leading zeros, IPv6 in
 *  any RFC 4291 text form, without a zone ("%eth0") or brackets. The prefix length is
 *  decimal without a sign or leading zero: 0–32 for IPv4, 0–128 for IPv6. An address
 *  without a prefix is /32 (IPv4) or /128 (IPv6).
 *  A prefix with bits set past its length ("10.1.2.3/8") is refused rather than
 *  rounded: it is most likely a typo for a host or a narrower network, and guessing
 *  which is what LAppS got wrong. Nothing around the text is skipped (no spaces).
 *  Adding an exception already present changes nothing. Every 64th add sorts and merges
 *  the list (O(n log n) for n exceptions); the others only append.
 *  @return 0, LAPPS_ERR_INVAL (a NULL argument, or @p addr not of that form; the ACL is
 *  then unchanged) or LAPPS_ERR_NOMEM. Not concurrently with any other use of @p acl. */
LAPPS_EXPORT int lapps_acl_add(lapps_acl *acl, const char *addr);

/** Whether the peer address @p addr (an address as lapps_acl_add() takes it, without a
 *  prefix) may connect. O(log n), no allocation.
 *  @return 1 when allowed, 0 when denied, LAPPS_ERR_INVAL (a NULL argument or a bad
 *  address). Any thread, concurrently with other lapps_acl_check() calls. */
LAPPS_EXPORT int lapps_acl_check(const lapps_acl *acl, const char *addr);

/** Frees an ACL (NULL is a no-op). Copies made by the setters stay valid. */
LAPPS_EXPORT void lapps_acl_free(lapps_acl *acl);

/** Sets the server-wide ACL, applied at accept (see above), to a copy of @p acl; NULL
 *  removes it (every peer may connect: the default). A server made from @p opts keeps
 *  its own copy.
 *  @return 0, LAPPS_ERR_INVAL (@p opts NULL) or LAPPS_ERR_NOMEM (the previous ACL is then
 *  kept). Not concurrently with other uses of @p opts. */
LAPPS_EXPORT int lapps_opts_set_acl(lapps_opts *opts, const lapps_acl *acl);

/** Sets the service's ACL, applied before the 101 (see above), to a copy of @p acl; NULL
 *  removes it. Works on a description before lapps_service_register() (which copies it
 *  along) and on a registered service from lapps_server_service() until
 *  lapps_server_start(), never after (the workers read it without a lock).
 *  @return 0, LAPPS_ERR_INVAL (@p svc NULL) or LAPPS_ERR_NOMEM (the previous ACL is then
 *  kept). */
LAPPS_EXPORT int lapps_service_set_acl(lapps_service *svc, const lapps_acl *acl);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_ACL_H */
