/* test-faults.c — failures of system calls inside the server, injected by interposing
 * epoll_ctl() and close() (this program defines them; the shared liblapps resolves to
 * them first). The server must survive each failure, keep serving, and never close a
 * descriptor twice (a second close may hit a descriptor another connection reused). */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static atomic_int skip_adds;   /* EPOLL_CTL_ADD calls to let through first */
static atomic_int fail_adds;   /* EPOLL_CTL_ADD calls still to fail after those */
static atomic_int failed_adds; /* how many were failed */
static atomic_int bad_closes;  /* close() of a descriptor that was not open */

int
epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    static int (*real)(int, int, int, struct epoll_event *);
    if (!real)
        real = (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
    if (op == EPOLL_CTL_ADD) {
        int k = atomic_load(&skip_adds);
        while (k > 0 && !atomic_compare_exchange_weak(&skip_adds, &k, k - 1))
            ;
        if (k > 0)
            return real(epfd, op, fd, ev);
        int n = atomic_load(&fail_adds);
        while (n > 0 && !atomic_compare_exchange_weak(&fail_adds, &n, n - 1))
            ;
        if (n > 0) {
            atomic_fetch_add(&failed_adds, 1);
            errno = ENOSPC;
            return -1;
        }
    }
    return real(epfd, op, fd, ev);
}

int
close(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "close");
    int rv = real(fd);
    if (rv != 0 && errno == EBADF && fd >= 0)
        atomic_fetch_add(&bad_closes, 1);
    return rv;
}

/* epoll_ctl(ADD) fails for an accepted connection: it is closed once, and the next
 * connection is served. */
Test(faults, epoll_add_failure_on_accept, .timeout = 60)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 1});
    atomic_store(&fail_adds, 1);
    char *out;
    int rc = api_python(30000, &out, "raw.py", s.port_str, "hs", "http", "eof", NULL);
    API_CLIENT_OK(rc, out);
    /* Closed without an answer (a reset when the request had already arrived). */
    cr_assert_not_null(api_find_prefix(out, "http none "), "%s", out);
    free(out);
    cr_assert_eq(atomic_load(&failed_adds), 1);
    rc = api_python(30000, &out, "raw.py", s.port_str, "hs", "http", "frame:str=ok", "readn:1",
                    "frame:op=8", "read", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "text ok");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    api_server_finish(&s);
    cr_assert_eq(atomic_load(&bad_closes), 0, "a descriptor was closed twice");
}

/* The same on the worker that adopts a handed-over connection: the client got its 101
 * from the other worker, then the connection ends; the host's connection count is
 * given back. */
Test(faults, epoll_add_failure_on_adopt, .timeout = 120)
{
    struct api_server s;
    api_server_start(&s, &(struct api_config){.workers = 2, .instances = 1});
    char *out;
    /* The accept's add goes through, the next add fails: that is the adoption's when the
     * kernel gave the connection to worker 1 (else nothing fails; try again). */
    for (int i = 0; i < 64 && atomic_load(&failed_adds) == 0; i++) {
        atomic_store(&skip_adds, 1);
        atomic_store(&fail_adds, 1);
        int rc = api_python(30000, &out, "raw.py", s.port_str, "hs", "http", "frame:str=x",
                            "readn:1", "frame:op=8", "read", NULL);
        atomic_store(&fail_adds, 0);
        atomic_store(&skip_adds, 0);
        API_CLIENT_OK(rc, out);
        API_EXPECT_LINE(out, "http 101");
        if (atomic_load(&failed_adds))
            cr_assert(api_has_line(out, "eof") || api_has_line(out, "reset"),
                      "the connection must end:\n%s", out);
        free(out);
    }
    cr_assert_eq(atomic_load(&failed_adds), 1, "no connection was handed over");
    int rc = api_python(30000, &out, "ws_client.py", "many", s.uri, "8", NULL);
    API_CLIENT_OK(rc, out);
    API_EXPECT_LINE(out, "ok 8");
    free(out);
    cr_assert(api_wait_all_closed(&s, 1, 10000));
    cr_assert_eq(api_stats(&s).connections, 0, "the failed adoption's place was given back");
    api_server_finish(&s);
    cr_assert_eq(atomic_load(&bad_closes), 0, "a descriptor was closed twice");
}
