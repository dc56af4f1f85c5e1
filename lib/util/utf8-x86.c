/* utf8-x86.c — UTF-8 validation with SSSE3 and AVX2: the "lookup" algorithm of Keiser and
 * Lemire ("Validating UTF-8 In Less Than One Instruction Per Byte", 2021).
 *
 * Every byte is judged with the up to three bytes before it. Three 16-entry tables,
 * indexed by the high and low nibble of the previous byte and the high nibble of this
 * one (pshufb), each give a set of error kinds; a kind present in all three is an error
 * of this byte pair (a lead byte without a continuation, a stray continuation, an
 * overlong form, a surrogate, a code point above U+10FFFF). Two continuations in a row
 * are legal only as the 3rd or 4th byte of a sequence, which two saturating
 * subtractions on the bytes two and three back decide.
 *
 * The vector code checks a buffer as text that starts on a character boundary and may
 * end inside a character; the scalar DFA of utf8.c finishes a character left open by
 * the previous call, and reruns the last (at most 4) bytes to learn the state to
 * carry. The result and the state are therefore exactly those of the scalar validator.
 *
 * No load reaches outside p[0..n): the last block is loaded so that it ends at p[n - 1]
 * and overlaps the one before, and the bytes a block needs before it are loaded from
 * p with unaligned loads rather than carried in registers.
 *
 * Functions carry target attributes, so this file builds with the project's flags; the
 * dispatcher (utf8.c) calls them only when util/cpu.c reports the features. Empty on
 * other architectures. */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include <lapps/error.h>

#include "util/utf8.h"

/* Kinds of error in a byte pair (previous byte, this byte). */
enum {
    TOO_SHORT = 1 << 0,  /* a lead byte, then no continuation */
    TOO_LONG = 1 << 1,   /* an ASCII byte, then a continuation */
    OVERLONG_3 = 1 << 2, /* E0 80..9F */
    TOO_LARGE = 1 << 3,  /* F4 90..BF, F5..FF 90..BF */
    SURROGATE = 1 << 4,  /* ED A0..BF */
    OVERLONG_2 = 1 << 5, /* C0..C1, then a continuation */
    /* F0 80..8F and F5..FF 80..8F share a bit: the low-nibble table keeps them apart. */
    OVERLONG_4 = 1 << 6,
    TOO_LARGE_1000 = 1 << 6,
    TWO_CONTS = 1 << 7, /* two continuations: legal only inside a 3- or 4-byte sequence */
    CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS, /* kinds the low nibble does not affect */
};

/* clang-format off */
/* Indexed by the previous byte's high nibble. */
static const uint8_t prev_high[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
    TOO_SHORT | OVERLONG_2,                                 /* C_ */
    TOO_SHORT,                                              /* D_ */
    TOO_SHORT | OVERLONG_3 | SURROGATE,                     /* E_ */
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,    /* F_ */
};

/* Indexed by the previous byte's low nibble. */
static const uint8_t prev_low[16] = {
    CARRY | OVERLONG_2 | OVERLONG_3 | OVERLONG_4, /* C0 E0 F0 */
    CARRY | OVERLONG_2,                           /* C1 */
    CARRY,
    CARRY,
    CARRY | TOO_LARGE, /* F4 */
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, /* ED */
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
};

/* Indexed by this byte's high nibble. */
static const uint8_t this_high[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4, /* 8_ */
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,                   /* 9_ */
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,                    /* A_ */
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,                    /* B_ */
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
};
/* clang-format on */

/* ---- 16-byte vectors (SSSE3; also used, VEX-encoded, by the AVX2 path) ---- */

#define SSSE3 __attribute__((target("ssse3")))

SSSE3 static inline __m128i
load16(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* Non-zero bytes where `in` is wrong after p1, p2, p3 (the bytes 1, 2, 3 before it). */
SSSE3 static inline __m128i
check16(__m128i in, __m128i p1, __m128i p2, __m128i p3)
{
    const __m128i nib = _mm_set1_epi8(0x0F);
    __m128i t1 = _mm_shuffle_epi8(load16(prev_high), _mm_and_si128(_mm_srli_epi16(p1, 4), nib));
    __m128i t2 = _mm_shuffle_epi8(load16(prev_low), _mm_and_si128(p1, nib));
    __m128i t3 = _mm_shuffle_epi8(load16(this_high), _mm_and_si128(_mm_srli_epi16(in, 4), nib));
    __m128i pair = _mm_and_si128(_mm_and_si128(t1, t2), t3);
    /* 0x80 where p2 >= E0 or p3 >= F0: this byte must be a continuation. */
    __m128i must = _mm_or_si128(_mm_subs_epu8(p2, _mm_set1_epi8(0xE0 - 0x80)),
                                _mm_subs_epu8(p3, _mm_set1_epi8(0xF0 - 0x80)));
    must = _mm_and_si128(must, _mm_set1_epi8((char)0x80));
    return _mm_xor_si128(must, pair);
}

/* The 16 bytes at q, which has at least 3 checked bytes before it. */
SSSE3 static inline __m128i
check16_at(const uint8_t *q)
{
    return check16(load16(q), load16(q - 1), load16(q - 2), load16(q - 3));
}

SSSE3 static inline bool
ascii16(__m128i v)
{
    return _mm_movemask_epi8(v) == 0;
}

/* Whether p[0..n) (n >= 19) has a byte that cannot belong to text that starts on a
 * character boundary; the text may end inside a character. */
SSSE3 static inline __attribute__((always_inline)) bool
bad16(const uint8_t *p, size_t n)
{
    if (n <= 32 && ascii16(_mm_or_si128(load16(p), load16(p + n - 16))))
        return false;
    __m128i a = load16(p);
    /* What comes before the text acts as ASCII. */
    __m128i err = check16(a, _mm_slli_si128(a, 1), _mm_slli_si128(a, 2), _mm_slli_si128(a, 3));
    size_t k = 16;
    while (k + 64 <= n) {
        if (ascii16(_mm_or_si128(_mm_or_si128(load16(p + k), load16(p + k + 16)),
                                 _mm_or_si128(load16(p + k + 32), load16(p + k + 48))))) {
            /* In a run of ASCII only its first bytes can be wrong, if the text before
             * left a character open. */
            err = _mm_or_si128(err, check16_at(p + k));
            do
                k += 64;
            while (k + 64 <= n &&
                   ascii16(_mm_or_si128(_mm_or_si128(load16(p + k), load16(p + k + 16)),
                                        _mm_or_si128(load16(p + k + 32), load16(p + k + 48)))));
            continue;
        }
        err = _mm_or_si128(err, check16_at(p + k));
        err = _mm_or_si128(err, check16_at(p + k + 16));
        err = _mm_or_si128(err, check16_at(p + k + 32));
        err = _mm_or_si128(err, check16_at(p + k + 48));
        k += 64;
    }
    for (; k + 16 <= n; k += 16)
        err = _mm_or_si128(err, check16_at(p + k));
    /* The rest, as the last 16 bytes: rechecking some is harmless. */
    if (k < n)
        err = _mm_or_si128(err, check16_at(p + n - 16));
    return _mm_movemask_epi8(_mm_cmpeq_epi8(err, _mm_setzero_si128())) != 0xFFFF;
}

/* ---- 32-byte vectors (AVX2) ---- */

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256i
load32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

AVX2 static inline __m256i
table32(const uint8_t *t)
{
    /* pshufb looks up within each 128-bit lane, so both lanes hold the table. */
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)t));
}

AVX2 static inline __m256i
check32(__m256i in, __m256i p1, __m256i p2, __m256i p3)
{
    const __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i t1 =
        _mm256_shuffle_epi8(table32(prev_high), _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib));
    __m256i t2 = _mm256_shuffle_epi8(table32(prev_low), _mm256_and_si256(p1, nib));
    __m256i t3 =
        _mm256_shuffle_epi8(table32(this_high), _mm256_and_si256(_mm256_srli_epi16(in, 4), nib));
    __m256i pair = _mm256_and_si256(_mm256_and_si256(t1, t2), t3);
    __m256i must = _mm256_or_si256(_mm256_subs_epu8(p2, _mm256_set1_epi8(0xE0 - 0x80)),
                                   _mm256_subs_epu8(p3, _mm256_set1_epi8(0xF0 - 0x80)));
    must = _mm256_and_si256(must, _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must, pair);
}

AVX2 static inline __m256i
check32_at(const uint8_t *q)
{
    return check32(load32(q), load32(q - 1), load32(q - 2), load32(q - 3));
}

AVX2 static inline bool
ascii32(__m256i v)
{
    return _mm256_testz_si256(v, _mm256_set1_epi8((char)0x80));
}

AVX2 static inline bool
ascii64_at(const uint8_t *q)
{
    return ascii32(_mm256_or_si256(load32(q), load32(q + 32)));
}

/* As bad16(), for n >= 19; 32-byte blocks from n >= 35, when the last block has its 3
 * bytes of context inside p. Aligned to a cache line, as the masking loops are, so that
 * its speed does not depend on link order. */
AVX2 static __attribute__((aligned(64))) bool
bad32(const uint8_t *p, size_t n)
{
    if (n < 35)
        return bad16(p, n);
    if (n <= 64 && ascii32(_mm256_or_si256(load32(p), load32(p + n - 32))))
        return false;
    __m256i a = load32(p);
    /* The bytes before `a`, shifted in across the lane boundary: zeros, then a's low lane. */
    __m256i z = _mm256_permute2x128_si256(a, a, 0x08);
    __m256i err = check32(a, _mm256_alignr_epi8(a, z, 15), _mm256_alignr_epi8(a, z, 14),
                          _mm256_alignr_epi8(a, z, 13));
    size_t k = 32;
    while (k + 64 <= n) {
        if (ascii64_at(p + k)) {
            err = _mm256_or_si256(err, check32_at(p + k));
            do
                k += 64;
            while (k + 64 <= n && ascii64_at(p + k));
            continue;
        }
        err = _mm256_or_si256(err, check32_at(p + k));
        err = _mm256_or_si256(err, check32_at(p + k + 32));
        k += 64;
    }
    if (k + 32 <= n) {
        err = _mm256_or_si256(err, check32_at(p + k));
        k += 32;
    }
    if (k < n)
        err = _mm256_or_si256(err, check32_at(p + n - 32));
    return !_mm256_testz_si256(err, err);
}

/* ---- entry points ---- */

static inline uint64_t
load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Whether p[0..n) is ASCII, for 8 <= n <= 24, with words that may overlap. */
static inline bool
ascii_words(const uint8_t *p, size_t n)
{
    uint64_t w = load64(p) | load64(p + n - 8);
    if (n > 16)
        w |= load64(p + 8);
    return !(w & 0x8080808080808080ull);
}

/* The validator around a bulk check `bad`, which needs at least 19 bytes: its last
 * 16-byte block ends at p[n - 1] and reads the 3 bytes before it from p. Inlined into
 * each entry point, so `bad` is a direct call. */
static inline int
validate(uint32_t *state, const uint8_t *p, size_t n, bool (*bad)(const uint8_t *, size_t))
{
    uint32_t s = *state;
    /* Finish the character an earlier call left open (at most 3 bytes). */
    while (s != LAPPS__UTF8_ACCEPT) {
        if (n == 0) {
            *state = s;
            return 0;
        }
        s = lapps__utf8_step(s, *p++);
        n--;
        if (s == LAPPS__UTF8_REJECT)
            return LAPPS_ERR_UTF8;
    }
    if (n < 19) {
        /* Too short for the vector code. Small ASCII messages are frequent enough to
         * answer here, without another call. */
        *state = LAPPS__UTF8_ACCEPT;
        if (n >= 8 && ascii_words(p, n))
            return 0;
        return lapps__utf8_validate_scalar(state, p, n);
    }
    if (bad(p, n))
        return LAPPS_ERR_UTF8;
    /* p[0..n) is valid but may end inside a character: rerun the DFA from the start of
     * the last character, the last byte among the final 4 that is not a continuation. */
    size_t j = n;
    if (p[n - 1] >= 0x80) {
        j = n - 1;
        while (j > n - 4 && (p[j] & 0xC0) == 0x80)
            j--;
    }
    for (; j < n; j++)
        s = lapps__utf8_step(s, p[j]);
    if (s == LAPPS__UTF8_REJECT)
        return LAPPS_ERR_UTF8; /* cannot happen after the bulk check; cheap to keep */
    *state = s;
    return 0;
}

SSSE3 static __attribute__((aligned(64))) bool
bad_ssse3(const uint8_t *p, size_t n)
{
    return bad16(p, n);
}

int
lapps__utf8_validate_ssse3(uint32_t *state, const uint8_t *p, size_t n)
{
    return validate(state, p, n, bad_ssse3);
}

int
lapps__utf8_validate_avx2(uint32_t *state, const uint8_t *p, size_t n)
{
    return validate(state, p, n, bad32);
}

#endif /* x86 */
