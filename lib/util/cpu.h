/* cpu.h — which SIMD instruction sets this CPU offers, detected once.
 *
 * The environment variable LAPPS_SIMD (scalar, sse2, sse4, avx2) caps the tier the
 * dispatchers choose, so the portable paths can be run and measured on any machine. */
#ifndef LAPPS_UTIL_CPU_H
#define LAPPS_UTIL_CPU_H

#include <stdbool.h>

enum {
    LAPPS__CPU_SSE2 = 1u << 0,
    LAPPS__CPU_SSSE3 = 1u << 1,
    LAPPS__CPU_SSE41 = 1u << 2,
    LAPPS__CPU_AVX2 = 1u << 3,
    LAPPS__CPU_AVX512BW = 1u << 4,
};

/* The LAPPS__CPU_* bits this CPU has, after the LAPPS_SIMD cap. Thread-safe. */
unsigned lapps__cpu_features(void);

static inline bool
lapps__cpu_has(unsigned needs)
{
    return (lapps__cpu_features() & needs) == needs;
}

/* The entry of an implementation table (ordered slowest first, the portable entry first,
 * ended by a NULL name, each entry with `needs`) that this CPU should use: the last one
 * whose needs it has. The one rule every dispatcher follows. */
#define LAPPS__CPU_BEST(table)                                                                     \
    ({                                                                                             \
        __typeof__(&(table)[0]) best_ = &(table)[0];                                               \
        for (__typeof__(&(table)[0]) i_ = &(table)[0]; i_->name; i_++)                             \
            if (lapps__cpu_has(i_->needs))                                                         \
                best_ = i_;                                                                        \
        best_;                                                                                     \
    })

#endif /* LAPPS_UTIL_CPU_H */
