/* mask-utf8.c — the portable fused unmasking and UTF-8 validation, and the dispatch to
 * the fastest one.
 *
 * The portable version unmasks 16 bytes at a time in words, as lapps__mask_scalar()
 * does, and skips the DFA of utf8.c when both words are ASCII and the text is on a
 * character boundary, as lapps__utf8_validate_scalar() does; otherwise it runs the DFA
 * over the 16 bytes it just stored, while they are still in the store buffer or L1.
 *
 * The SIMD implementations live in mask-utf8-x86.c; which one runs is chosen on the
 * first call (util/cpu.c, capped by $LAPPS_SIMD). */
#include <stdatomic.h>
#include <string.h>

#include <lapps/error.h>

#include "util/cpu.h"
#include "util/mask-utf8.h"

#define HIGH_BITS 0x8080808080808080ull

static inline uint64_t
load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline void
store64(uint8_t *p, uint64_t w)
{
    memcpy(p, &w, 8);
}

int
lapps__mask_utf8_scalar(uint8_t *p, size_t n, uint32_t *key, uint32_t *state)
{
    uint32_t k = *key;
    /* The key repeats every 4 bytes, so every 16-byte block starts with k. */
    uint64_t k8 = ((uint64_t)k << 32) | k;
    /* Only the low 6 bits are the state; the rest is left over from the DFA's row. */
    uint64_t s = *state;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint64_t a = load64(p + i) ^ k8, b = load64(p + i + 8) ^ k8;
        store64(p + i, a);
        store64(p + i + 8, b);
        if ((((a | b) & HIGH_BITS) | (s & 63)) == 0)
            continue;
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++)
            s = lapps__utf8_dfa[p[i + j]] >> (s & 63);
        /* REJECT is absorbing: one check per block finds every error. */
        if ((s & 63) == LAPPS__UTF8_REJECT)
            return LAPPS_ERR_UTF8;
    }
    /* Fewer than 16 bytes left: unmasked first, and run through the DFA unless they
     * are ASCII on a boundary. */
    size_t tail = i;
    uint64_t acc = 0;
    if (n - i >= 8) {
        uint64_t w = load64(p + i) ^ k8;
        store64(p + i, w);
        acc = w;
        i += 8;
    }
    uint8_t kb[4];
    memcpy(kb, &k, 4);
    for (size_t j = 0; i < n; i++, j++) {
        p[i] ^= kb[j & 3];
        acc |= p[i];
    }
    if ((acc & HIGH_BITS) || (s & 63) != LAPPS__UTF8_ACCEPT)
        for (; tail < n; tail++)
            s = lapps__utf8_dfa[p[tail]] >> (s & 63);
    if ((s & 63) == LAPPS__UTF8_REJECT)
        return LAPPS_ERR_UTF8;
    *key = lapps__mask_rotate(k, n);
    *state = (uint32_t)(s & 63);
    return 0;
}

const struct lapps__mask_utf8_impl lapps__mask_utf8_impls[] = {
    {"scalar", lapps__mask_utf8_scalar, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"ssse3", lapps__mask_utf8_ssse3, LAPPS__CPU_SSE2 | LAPPS__CPU_SSSE3},
    {"avx2", lapps__mask_utf8_avx2, LAPPS__CPU_SSE2 | LAPPS__CPU_SSSE3 | LAPPS__CPU_AVX2},
#endif
    {NULL, NULL, 0},
};

static int resolve(uint8_t *p, size_t n, uint32_t *key, uint32_t *state);

/* The implementation in use. It starts as resolve(), which replaces itself on the first
 * call; threads racing there all store the same pointer. A relaxed atomic load is a
 * plain load on every target we build for, so the hot path pays one indirect call. */
static int (*_Atomic best)(uint8_t *, size_t, uint32_t *, uint32_t *) = resolve;

static int
resolve(uint8_t *p, size_t n, uint32_t *key, uint32_t *state)
{
    int (*f)(uint8_t *, size_t, uint32_t *, uint32_t *) =
        LAPPS__CPU_BEST(lapps__mask_utf8_impls)->mask_utf8;
    atomic_store_explicit(&best, f, memory_order_relaxed);
    return f(p, n, key, state);
}

int
lapps__mask_utf8_dispatch(uint8_t *p, size_t n, uint32_t *key, uint32_t *state)
{
    return atomic_load_explicit(&best, memory_order_relaxed)(p, n, key, state);
}
