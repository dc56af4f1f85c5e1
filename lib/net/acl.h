/* acl.h — the ACL matcher's internal entry points, for the accept path (worker.c), the
 * handshake (conn.c) and the copies the options and services keep (server.c). */
#ifndef LAPPS_NET_ACL_H
#define LAPPS_NET_ACL_H

#include <stdbool.h>
#include <sys/socket.h>

#include <lapps/acl.h>

/* A copy of @p acl with every exception sorted and merged, so matching it is one binary
 * search; NULL when out of memory. @p acl must not be NULL. */
struct lapps_acl *lapps__acl_dup(const struct lapps_acl *acl);

/* Whether the peer at @p sa (AF_INET or AF_INET6; IPv4-mapped IPv6 counts as IPv4) may
 * connect. Any other family is denied. Read-only: any thread. */
bool lapps__acl_allows_sockaddr(const struct lapps_acl *acl, const struct sockaddr *sa);

/* Same for the peer of a connected socket (getpeername); false when it has none. */
bool lapps__acl_allows_peer(const struct lapps_acl *acl, int fd);

#endif /* LAPPS_NET_ACL_H */
