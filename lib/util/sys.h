/* sys.h — raw system calls for the hot path: no cancellation-point bookkeeping
 * (glibc's recv/sendmsg wrap each call in __pthread_enable/disable_asynccancel once the
 * process has a second thread). Return the result, or -errno. */
#ifndef LAPPS_UTIL_SYS_H
#define LAPPS_UTIL_SYS_H
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long
lapps__sys6(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
    long r = syscall(nr, a, b, c, d, e, f);
    return r < 0 ? -errno : r;
#endif
}
#endif
