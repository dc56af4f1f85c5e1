/* clock.h — the monotonic clock in milliseconds that timers, deadlines and timeouts use
 * (the workers' wheel, the client's connect and handshake deadlines, cws's event loop). */
#ifndef LAPPS_UTIL_CLOCK_H
#define LAPPS_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
lapps__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif /* LAPPS_UTIL_CLOCK_H */
