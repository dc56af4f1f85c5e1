/* cpu.c — SIMD feature detection, done once, capped by $LAPPS_SIMD. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/cpu.h"

static unsigned features;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static unsigned
tier_mask(const char *cap)
{
    unsigned all = ~0u;
    if (!cap || !*cap)
        return all;
    if (!strcmp(cap, "scalar"))
        return 0;
    if (!strcmp(cap, "sse2"))
        return LAPPS__CPU_SSE2;
    if (!strcmp(cap, "sse4") || !strcmp(cap, "ssse3"))
        return LAPPS__CPU_SSE2 | LAPPS__CPU_SSSE3 | LAPPS__CPU_SSE41;
    if (!strcmp(cap, "avx2"))
        return LAPPS__CPU_SSE2 | LAPPS__CPU_SSSE3 | LAPPS__CPU_SSE41 | LAPPS__CPU_AVX2;
    return all;
}

static void
detect(void)
{
    unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse2"))
        f |= LAPPS__CPU_SSE2;
    if (__builtin_cpu_supports("ssse3"))
        f |= LAPPS__CPU_SSSE3;
    if (__builtin_cpu_supports("sse4.1"))
        f |= LAPPS__CPU_SSE41;
    if (__builtin_cpu_supports("avx2"))
        f |= LAPPS__CPU_AVX2;
    if (__builtin_cpu_supports("avx512bw"))
        f |= LAPPS__CPU_AVX512BW;
#endif
    features = f & tier_mask(getenv("LAPPS_SIMD"));
}

unsigned
lapps__cpu_features(void)
{
    pthread_once(&features_once, detect);
    return features;
}
