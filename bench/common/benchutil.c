/* benchutil — process helpers shared by the benchmark clients; see benchutil.h. Linux only
 * (/proc, RLIMIT_NOFILE); no build options affect it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "benchutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

void
bench_die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", bench_progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void *
bench_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        bench_die("out of memory (%zu bytes)", n);
    return p;
}

void *
bench_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        bench_die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

double
bench_self_cpu_secs(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

bool
bench_proc_stat_cpu(const char *stat_path, uint64_t *utime, uint64_t *stime)
{
    char buf[4096];
    FILE *f = fopen(stat_path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name (field 2) may contain anything, spaces and ')' included: the
     * fields are counted from its last ')' */
    const char *p = strrchr(buf, ')');
    if (!p)
        return false;
    unsigned long long u, s;
    /* fields 3..13 skipped, 14 = utime, 15 = stime */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &u, &s) != 2)
        return false;
    *utime = u;
    *stime = s;
    return true;
}

bool
bench_proc_cpu(long pid, uint64_t *utime, uint64_t *stime)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    return bench_proc_stat_cpu(path, utime, stime);
}

void
bench_raise_nofile(unsigned need, unsigned conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        bench_die("getrlimit: %s", strerror(errno));
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
        return;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        bench_die("%u connections need %u file descriptors; the hard limit is %llu", conns, need,
                  (unsigned long long)rl.rlim_max);
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        bench_die("setrlimit(RLIMIT_NOFILE, %u): %s", need, strerror(errno));
}

bool
bench_parse_uint(const char *s, bool suffix, unsigned long long *v)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (suffix && (*end == 'k' || *end == 'K')) {
        n <<= 10;
        end++;
    } else if (suffix && (*end == 'm' || *end == 'M')) {
        n <<= 20;
        end++;
    }
    /* strtoull accepts "-1" as a huge number: a leading '-' is refused here */
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *v = n;
    return true;
}

double
bench_parse_secs(const char *s, const char *what, double max)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > max)
        bench_die("bad %s \"%s\"", what, s);
    return v;
}
