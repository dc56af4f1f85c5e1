/* listen.c — listening sockets. Each worker has its own socket per listener, bound with
 * SO_REUSEPORT so the kernel spreads accepts over the workers. The port is first bound
 * once without SO_REUSEPORT (the probe), so a port held by another process — even one
 * that also uses SO_REUSEPORT — is an error instead of a silent share of its traffic. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net.h"

static int
parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof *v6;
        return 0;
    }
    return LAPPS_ERR_INVAL;
}

static int
open_socket(const char *addr, uint16_t port, bool reuseport, bool do_listen, uint16_t *bound)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rv = parse_addr(addr, port, &ss, &len);
    if (rv != 0)
        return rv;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || (do_listen && listen(fd, 4096) != 0)) {
        rv = -errno;
        close(fd);
        return rv;
    }
    if (bound) {
        len = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
            rv = -errno;
            close(fd);
            return rv;
        }
        *bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                               : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

int
lapps__listen_probe(const char *addr, uint16_t port, uint16_t *bound)
{
    int fd = open_socket(addr, port, false, false, bound);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

int
lapps__listen_open(const char *addr, uint16_t port)
{
    return open_socket(addr, port, true, true, NULL);
}
