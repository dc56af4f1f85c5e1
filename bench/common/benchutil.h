/* benchutil — process helpers shared by the benchmark clients (bench/echo/loadgen,
 * bench/bcast/fanout): fatal errors, allocation, clocks, CPU accounting from /proc,
 * the descriptor limit and command-line numbers.
 *
 * Benchmark clients are short-lived programs whose only useful reaction to a broken
 * environment is to say why and exit 1, so the helpers here die rather than return
 * errors (unlike liblapps, which never aborts; STYLE rule 8 applies to lib/, not here). */
#ifndef BENCH_COMMON_BENCHUTIL_H
#define BENCH_COMMON_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The program's name, the prefix of every message bench_die() prints. Each program
 * defines it (`const char bench_progname[] = "loadgen";`): a program that forgets it does
 * not link, rather than printing someone else's name. */
extern const char bench_progname[];

/* Prints "<bench_progname>: <message>\n" on stderr and exits 1. */
__attribute__((format(printf, 1, 2), noreturn)) void bench_die(const char *fmt, ...);

/* malloc / calloc that die when out of memory; a size of 0 still returns a unique
 * pointer, for free(). */
void *bench_xmalloc(size_t n);
void *bench_xcalloc(size_t n, size_t size);

/* CLOCK_MONOTONIC in ns. Inline: the clients call it once per wakeup on the measured path,
 * where an extra call would be part of what they measure. */
static inline uint64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* This process's user + system CPU time so far, in seconds (getrusage): the client's own
 * load, reported next to the server's so that a saturated client is visible. */
double bench_self_cpu_secs(void);

/* utime and stime (fields 14 and 15) of a /proc stat file, in clock ticks (USER_HZ):
 * /proc/PID/stat counts all of a process's threads, /proc/PID/task/TID/stat one thread.
 * Returns false if the file cannot be read or parsed (the process has exited). */
bool bench_proc_stat_cpu(const char *stat_path, uint64_t *utime, uint64_t *stime);

/* bench_proc_stat_cpu() of /proc/PID/stat: the whole server process. */
bool bench_proc_cpu(long pid, uint64_t *utime, uint64_t *stime);

/* Raises the soft RLIMIT_NOFILE to at least need descriptors (a client holds one per
 * connection, and the default soft limit of 1024 is below the connection counts the
 * benchmarks use). Dies, naming conns connections, if the hard limit is lower. */
void bench_raise_nofile(unsigned need, unsigned conns);

/* A decimal unsigned number, the whole of s; with suffix, a trailing k/K (x 1024) or m/M
 * (x 1048576) is accepted. Returns false on anything else (a sign, no digits, trailing
 * characters, overflow): each program says "bad ..." in its own words, with or without
 * the range it accepts. */
bool bench_parse_uint(const char *s, bool suffix, unsigned long long *v);

/* A number of seconds from 0 to max (fractions allowed); dies with "bad <what> "<s>""
 * otherwise. */
double bench_parse_secs(const char *s, const char *what, double max);

#endif
