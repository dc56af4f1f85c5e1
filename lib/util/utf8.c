/* utf8.c — the portable UTF-8 validator and the dispatch to the fastest one.
 *
 * The scalar validator is a DFA whose states say what the next byte must be; it rejects
 * the first byte that cannot continue valid UTF-8 (overlongs, surrogates and code points
 * above U+10FFFF are caught on their second byte, as RFC 3629's grammar allows).
 *
 * The DFA is "shift-based": each state is a bit offset, and the row of a byte packs the
 * next state for every current state into one 64-bit word. A step is then one table
 * load (independent of the state) and one shift, so a run of multi-byte text costs
 * about a cycle per byte instead of a dependent chain of loads or branches. The loop
 * keeps the whole shifted row and masks the state to 6 bits only in the shift count,
 * which x86 and AArch64 shifts do for free.
 *
 * The SIMD implementations live in utf8-x86.c; which one runs is chosen on the first
 * call (util/cpu.c, capped by $LAPPS_SIMD). */
#include <stdatomic.h>
#include <string.h>

#include <lapps/error.h>

#include "util/cpu.h"
#include "util/utf8.h"

/* States, as bit offsets into a row. */
enum {
    ACCEPT = LAPPS__UTF8_ACCEPT,
    NEED1 = 6,     /* one continuation byte 80..BF */
    NEED2 = 12,    /* two continuation bytes */
    NEED3 = 18,    /* three continuation bytes */
    AFTER_E0 = 24, /* A0..BF, then one more (no overlong 3-byte forms) */
    AFTER_ED = 30, /* 80..9F, then one more (no surrogates) */
    AFTER_F0 = 36, /* 90..BF, then two more (no overlong 4-byte forms) */
    AFTER_F4 = 42, /* 80..8F, then two more (nothing above U+10FFFF) */
    REJECT = LAPPS__UTF8_REJECT,
};

_Static_assert(REJECT + 6 <= 64, "every state's 6-bit slot fits in a row");

/* A byte's row: the state it leads to from each state; REJECT stays REJECT. */
#define ROW(acc, n1, n2, n3, e0, ed, f0, f4)                                                       \
    ((uint64_t)(acc) << ACCEPT | (uint64_t)(n1) << NEED1 | (uint64_t)(n2) << NEED2 |               \
     (uint64_t)(n3) << NEED3 | (uint64_t)(e0) << AFTER_E0 | (uint64_t)(ed) << AFTER_ED |           \
     (uint64_t)(f0) << AFTER_F0 | (uint64_t)(f4) << AFTER_F4 | (uint64_t)REJECT << REJECT)

#define R           REJECT
#define ROW_ASCII   ROW(ACCEPT, R, R, R, R, R, R, R)
#define ROW_CONT_8  ROW(R, ACCEPT, NEED1, NEED2, R, NEED1, R, NEED2)
#define ROW_CONT_9  ROW(R, ACCEPT, NEED1, NEED2, R, NEED1, NEED2, R)
#define ROW_CONT_AB ROW(R, ACCEPT, NEED1, NEED2, NEED1, R, NEED2, R)
#define ROW_LEAD(s) ROW(s, R, R, R, R, R, R, R)

/* clang-format off */
const uint64_t lapps__utf8_dfa[256] = {
    [0x00 ... 0x7F] = ROW_ASCII,
    [0x80 ... 0x8F] = ROW_CONT_8,
    [0x90 ... 0x9F] = ROW_CONT_9,
    [0xA0 ... 0xBF] = ROW_CONT_AB,
    [0xC0 ... 0xC1] = ROW_LEAD(R), /* overlong 2-byte forms */
    [0xC2 ... 0xDF] = ROW_LEAD(NEED1),
    [0xE0] = ROW_LEAD(AFTER_E0),
    [0xE1 ... 0xEC] = ROW_LEAD(NEED2),
    [0xED] = ROW_LEAD(AFTER_ED),
    [0xEE ... 0xEF] = ROW_LEAD(NEED2),
    [0xF0] = ROW_LEAD(AFTER_F0),
    [0xF1 ... 0xF3] = ROW_LEAD(NEED3),
    [0xF4] = ROW_LEAD(AFTER_F4),
    [0xF5 ... 0xFF] = ROW_LEAD(R), /* above U+10FFFF, or never valid */
};
/* clang-format on */

#undef R

#define HIGH_BITS 0x8080808080808080ull

static inline uint64_t
load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

int
lapps__utf8_validate_scalar(uint32_t *state, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    /* Only the low 6 bits are the state; the rest is left over from the row. */
    uint64_t s = *state;
    while (end - p >= 16) {
        /* ASCII runs are the common case: skip them two words at a time. One branch
         * tests both "next word is ASCII" and "on a boundary" (ACCEPT is 0): in
         * multi-byte text it is almost never taken, so it stays well predicted. */
        if (((load64(p) & HIGH_BITS) | (s & 63)) == 0) {
            p += 8;
            while (end - p >= 16 && !((load64(p) | load64(p + 8)) & HIGH_BITS))
                p += 16;
            continue;
        }
        /* A fixed count of steps: no data-dependent branch until the block ends.
         * REJECT is absorbing, so one check per block finds every error. */
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            s = lapps__utf8_dfa[p[i]] >> (s & 63);
        p += 16;
        if ((s & 63) == REJECT)
            return LAPPS_ERR_UTF8;
    }
    /* Fewer than 16 bytes left. */
    if ((s & 63) == ACCEPT && end - p >= 8 && !((load64(p) | load64(end - 8)) & HIGH_BITS))
        p = end;
    for (; p != end; p++)
        s = lapps__utf8_dfa[*p] >> (s & 63);
    if ((s & 63) == REJECT)
        return LAPPS_ERR_UTF8;
    *state = (uint32_t)(s & 63);
    return 0;
}

const struct lapps__utf8_impl lapps__utf8_impls[] = {
    {"scalar", lapps__utf8_validate_scalar, 0},
#if defined(__x86_64__) || defined(__i386__)
    {"ssse3", lapps__utf8_validate_ssse3, LAPPS__CPU_SSE2 | LAPPS__CPU_SSSE3},
    {"avx2", lapps__utf8_validate_avx2, LAPPS__CPU_SSE2 | LAPPS__CPU_SSSE3 | LAPPS__CPU_AVX2},
#endif
    {NULL, NULL, 0},
};

static int resolve(uint32_t *state, const uint8_t *p, size_t n);

/* The implementation in use. It starts as resolve(), which replaces itself on the first
 * call; threads racing there all store the same pointer. A relaxed atomic load is a
 * plain load on every target we build for, so the hot path pays one indirect call. */
static int (*_Atomic best)(uint32_t *, const uint8_t *, size_t) = resolve;

static int
resolve(uint32_t *state, const uint8_t *p, size_t n)
{
    int (*f)(uint32_t *, const uint8_t *, size_t) = LAPPS__CPU_BEST(lapps__utf8_impls)->validate;
    atomic_store_explicit(&best, f, memory_order_relaxed);
    return f(state, p, n);
}

int
lapps__utf8_validate_dispatch(uint32_t *state, const uint8_t *p, size_t n)
{
    return atomic_load_explicit(&best, memory_order_relaxed)(state, p, n);
}
