/* mask.c — the portable payload (un)masking and the dispatch to the fastest one.
 *
 * The SIMD implementations live in mask-x86.c; which one runs is chosen on the first
 * call (util/cpu.c, capped by $LAPPS_SIMD). */
#include <stdatomic.h>
#include <string.h>

#include "util/cpu.h"
#include "util/mask.h"

uint32_t
lapps__mask_scalar(uint8_t *p, size_t n, uint32_t key)
{
    uint64_t k8 = ((uint64_t)key << 32) | key;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k8;
        memcpy(p + i, &w, 8);
    }
    uint8_t k[4];
    memcpy(k, &key, 4);
    for (size_t j = 0; i < n; i++, j++)
        p[i] ^= k[j & 3];
    return lapps__mask_rotate(key, n);
}

const struct lapps__mask_impl lapps__mask_impls[] = {
    {"scalar", lapps__mask_scalar, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"sse2", lapps__mask_sse2, LAPPS__CPU_SSE2},
    {"avx2", lapps__mask_avx2, LAPPS__CPU_SSE2 | LAPPS__CPU_AVX2},
#endif
    {NULL, NULL, 0},
};

static uint32_t resolve(uint8_t *p, size_t n, uint32_t key);

/* The implementation in use. It starts as resolve(), which replaces itself on the first
 * call; threads racing there all store the same pointer. A relaxed atomic load is a
 * plain load on every target we build for, so the hot path pays one indirect call. */
static uint32_t (*_Atomic best)(uint8_t *, size_t, uint32_t) = resolve;

static uint32_t
resolve(uint8_t *p, size_t n, uint32_t key)
{
    uint32_t (*f)(uint8_t *, size_t, uint32_t) = LAPPS__CPU_BEST(lapps__mask_impls)->mask;
    atomic_store_explicit(&best, f, memory_order_relaxed);
    return f(p, n, key);
}

uint32_t
lapps__mask_dispatch(uint8_t *p, size_t n, uint32_t key)
{
    return atomic_load_explicit(&best, memory_order_relaxed)(p, n, key);
}
