/* tcp-echo — raw TCP echo server, the floor for the echo benchmark.
 *
 * One thread, epoll (level-triggered), non-blocking sockets on 127.0.0.1:PORT. Per
 * readable connection: one read() into a shared buffer, one write() of what was read.
 * What the socket does not take is kept for that connection, which then stops reading
 * until it is flushed, so a client that does not read cannot make it buffer more than
 * one read. No framing, no parsing: what it costs per message is what the kernel's
 * loopback TCP costs, which every WebSocket server pays too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE   (256u << 10)
#define MAX_EVENTS 512

struct conn {
    int fd;
    unsigned char *pend; /* unwritten rest of the last read */
    size_t off;
    size_t len;
};

static int ep;
static int lfd;
static unsigned char buf[BUF_SIZE];

static void
conn_close(struct conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c->pend);
    free(c);
}

static void
set_events(struct conn *c, unsigned events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        perror("tcp-echo: epoll_ctl");
        exit(1);
    }
}

/* Returns false when the connection was closed. */
static bool
flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t w = write(c->fd, c->pend + c->off, c->len - c->off);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            conn_close(c);
            return false;
        }
        c->off += (size_t)w;
    }
    c->off = c->len = 0;
    set_events(c, EPOLLIN);
    return true;
}

static void
on_readable(struct conn *c)
{
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0) {
        conn_close(c);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(c);
        return;
    }
    ssize_t w = write(c->fd, buf, (size_t)n);
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            conn_close(c);
            return;
        }
        w = 0;
    }
    if (w < n) {
        size_t rest = (size_t)(n - w);
        unsigned char *p = realloc(c->pend, rest);
        if (!p) {
            conn_close(c);
            return;
        }
        memcpy(p, buf + w, rest);
        c->pend = p;
        c->off = 0;
        c->len = rest;
        set_events(c, EPOLLOUT);
    }
}

static void
on_accept(void)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("tcp-echo: accept4"); /* EMFILE: leave the rest in the backlog */
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("tcp-echo: epoll_ctl");
            close(fd);
            free(c);
        }
    }
}

static void
raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tcp-echo PORT\n");
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "tcp-echo: bad port \"%s\"\n", argv[1]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, SOMAXCONN) < 0) {
        fprintf(stderr, "tcp-echo: 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("tcp-echo: epoll");
        return 1;
    }
    fprintf(stderr, "tcp-echo: listening on 127.0.0.1:%ld\n", port);

    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("tcp-echo: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                on_accept();
                continue;
            }
            if (c->len > c->off) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    flush(c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(c);
        }
    }
}
