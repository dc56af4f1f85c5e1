/* mask-utf8-x86.c — unmasking and UTF-8 validation in one pass, with SSSE3 and AVX2
 * (see mask-utf8.h).
 *
 * ASCII text, the common case, takes one pass: blocks are loaded, unmasked in
 * registers, stored, and ORed together, and the OR is tested for a high bit every 512
 * bytes. The first 128 bytes are tested before they are stored, so that text that is
 * not ASCII leaves at once, with nothing stored. Text found not to be ASCII is
 * validated from the last point up to which it was (a character boundary): the rest
 * is unmasked with lapps__mask_avx2() and validated with lapps__utf8_validate_avx2()
 * (SSSE3: _sse2 and _ssse3), in pieces of 4 KiB so that the validator reads what the
 * masking just wrote from L1.
 *
 * The Keiser-Lemire check of utf8-x86.c was also fused into the loop, and measured
 * about a quarter slower than these two passes on multi-byte text in L1: each block
 * then needs the 3 bytes before it either from the previous block's register (four
 * more shuffles, on the ports the check's own table lookups use) or reloaded from the
 * masked input and unmasked with three rotated keys (three more XORs, and more live
 * vectors than AVX2 has registers), while a separate masking pass costs one load, XOR
 * and store per 32 bytes.
 *
 * The last bytes that do not fill a block are covered by a window that ends at
 * p[n - 1], loaded and unmasked before the loop stores over any of it; where it
 * overlaps the loop's blocks it stores the same values. No load or store reaches
 * outside p[0..n). A character left open by the previous call is finished byte by byte
 * with the DFA first, and everything that is not ASCII is judged by the validators of
 * utf8-x86.c, so *state is exactly the scalar validator's.
 *
 * The paths that call out (text that is not ASCII) are separate functions, entered by
 * tail calls, so that the ASCII path makes no calls. Functions carry target
 * attributes, so this file builds with the project's flags; the dispatcher
 * (mask-utf8.c) calls them only when util/cpu.c reports the features. Empty on other
 * architectures. */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include <lapps/error.h>

#include "util/mask-utf8.h"

#define SSSE3 __attribute__((target("ssse3")))
#define AVX2  __attribute__((target("avx2")))

/* Text that is not ASCII is unmasked, then validated, this many bytes at a time. */
#define PIECE 4096

/* From this length on, the AVX2 loop's stores are aligned, as in mask-x86.c. Below it
 * (in L1) aligning them measured slower than the work it takes. */
#define ALIGN_FROM 4096

#define HIGH_BITS 0x8080808080808080ull

typedef uint32_t mask_fn(uint8_t *, size_t, uint32_t);
typedef int validate_fn(uint32_t *, const uint8_t *, size_t);

/* Unmasks and steps the DFA over the bytes that finish a character the previous call
 * left open (at most 3). Returns how many it took: then *s is LAPPS__UTF8_ACCEPT, or
 * LAPPS__UTF8_REJECT, or all n bytes were taken. *k becomes the key for what follows.
 * x86 is little-endian, so the key's first byte is its low byte. */
static inline size_t
finish_open(uint8_t *p, size_t n, uint32_t *k, uint32_t *s)
{
    size_t i = 0;
    while (*s != LAPPS__UTF8_ACCEPT && *s != LAPPS__UTF8_REJECT && i < n) {
        p[i] ^= (uint8_t)*k;
        *k = lapps__mask_rotate(*k, 1);
        *s = lapps__utf8_step(*s, p[i]);
        i++;
    }
    return i;
}

/* XORs p[0..n), n < 16, in words; key applies to p[0]. Returns the OR of the unmasked
 * words, whose HIGH_BITS say whether they were all ASCII. */
static inline uint64_t
mask_short(uint8_t *p, size_t n, uint32_t key)
{
    uint64_t acc = 0;
    if (n & 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= (uint64_t)key << 32 | key;
        memcpy(p, &w, 8);
        acc |= w;
        p += 8;
    }
    if (n & 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        w ^= key;
        memcpy(p, &w, 4);
        acc |= w;
        p += 4;
    }
    if (n & 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        w ^= (uint16_t)key;
        memcpy(p, &w, 2);
        acc |= w;
        p += 2;
        key >>= 16;
    }
    if (n & 1) {
        *p ^= (uint8_t)key;
        acc |= *p;
    }
    return acc;
}

/* p[from..i) is unmasked and p[i..n) still masked, key being the key for p[0]:
 * unmasks the rest and validates p[from..n) as text that starts on a character
 * boundary. The validator starts only once the next piece is unmasked, not right after
 * the caller's last stores: a load that straddles stores still in the store buffer
 * cannot take its bytes from there and waits for them to reach the cache. */
static inline __attribute__((always_inline)) int
rest(uint8_t *p, size_t n, size_t from, size_t i, uint32_t key, uint32_t *state, mask_fn *mask,
     validate_fn *validate)
{
    *state = LAPPS__UTF8_ACCEPT;
    while (from < n) {
        size_t end = n - i < PIECE ? n : i + PIECE;
        if (i < end)
            mask(p + i, end - i, lapps__mask_rotate(key, i));
        if (validate(state, p + from, end - from) != 0)
            return LAPPS_ERR_UTF8;
        from = i = end;
    }
    return 0;
}

typedef int rest_fn(uint8_t *, size_t, size_t, size_t, uint32_t, uint32_t *);

static __attribute__((noinline)) int
rest_ssse3(uint8_t *p, size_t n, size_t from, size_t i, uint32_t key, uint32_t *state)
{
    return rest(p, n, from, i, key, state, lapps__mask_sse2, lapps__utf8_validate_ssse3);
}

static __attribute__((noinline)) int
rest_avx2(uint8_t *p, size_t n, size_t from, size_t i, uint32_t key, uint32_t *state)
{
    /* One piece (every frame under 4 KiB): the validator is a tail call. */
    if (n - i <= PIECE) {
        if (i < n)
            lapps__mask_avx2(p + i, n - i, lapps__mask_rotate(key, i));
        *state = LAPPS__UTF8_ACCEPT;
        return lapps__utf8_validate_avx2(state, p + from, n - from);
    }
    return rest(p, n, from, i, key, state, lapps__mask_avx2, lapps__utf8_validate_avx2);
}

/* Text of under 16 bytes that starts on a character boundary. */
static inline int
short_text(uint8_t *p, size_t n, uint32_t key, uint32_t *state, rest_fn *slow)
{
    if (mask_short(p, n, key) & HIGH_BITS)
        return slow(p, n, 0, n, key, state);
    *state = LAPPS__UTF8_ACCEPT;
    return 0;
}

/* ---- 16 bytes (SSSE3; also used, VEX-encoded, by the AVX2 code) ---- */

SSSE3 static inline __m128i
load16(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

SSSE3 static inline void
store16(uint8_t *p, __m128i v)
{
    _mm_storeu_si128((__m128i *)(void *)p, v);
}

SSSE3 static inline bool
ascii16(__m128i v)
{
    return _mm_movemask_epi8(v) == 0;
}

/* Text of n >= 16 bytes that starts on a character boundary, key being the key for
 * p[0], in 16-byte vectors: blocks of 64 bytes, each tested before it is stored, then
 * of 16 (fewer than 4), then the window of the last 16 bytes. */
SSSE3 static inline __attribute__((always_inline)) int
text16(uint8_t *p, size_t n, uint32_t key, uint32_t *state, rest_fn *slow)
{
    __m128i tail =
        _mm_xor_si128(load16(p + n - 16), _mm_set1_epi32((int)lapps__mask_rotate(key, n - 16)));
    const __m128i k = _mm_set1_epi32((int)key);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m128i a = _mm_xor_si128(load16(p + i), k), b = _mm_xor_si128(load16(p + i + 16), k);
        __m128i c = _mm_xor_si128(load16(p + i + 32), k);
        __m128i d = _mm_xor_si128(load16(p + i + 48), k);
        if (!ascii16(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))))
            return slow(p, n, i, i, key, state);
        store16(p + i, a);
        store16(p + i + 16, b);
        store16(p + i + 32, c);
        store16(p + i + 48, d);
    }
    /* The rest is stored, then tested: the text is ASCII up to `checked`. */
    size_t checked = i;
    __m128i acc = tail;
    for (; i + 16 < n; i += 16) {
        __m128i a = _mm_xor_si128(load16(p + i), k);
        store16(p + i, a);
        acc = _mm_or_si128(acc, a);
    }
    /* The tail window ends the text; where it overlaps stored blocks it stores the same. */
    store16(p + n - 16, tail);
    if (!ascii16(acc))
        return slow(p, n, checked, n, key, state);
    *state = LAPPS__UTF8_ACCEPT;
    return 0;
}

SSSE3 __attribute__((aligned(64))) int
lapps__mask_utf8_ssse3(uint8_t *p, size_t n, uint32_t *key, uint32_t *state)
{
    uint32_t k = *key, s = *state;
    *key = lapps__mask_rotate(k, n);
    if (s != LAPPS__UTF8_ACCEPT) {
        size_t open = finish_open(p, n, &k, &s);
        if (s != LAPPS__UTF8_ACCEPT) {
            *state = s;
            return s == LAPPS__UTF8_REJECT ? LAPPS_ERR_UTF8 : 0;
        }
        p += open;
        n -= open;
    }
    if (n < 16)
        return short_text(p, n, k, state, rest_ssse3);
    return text16(p, n, k, state, rest_ssse3);
}

/* ---- 32 bytes (AVX2) ---- */

AVX2 static inline __m256i
load32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

AVX2 static inline void
store32(uint8_t *p, __m256i v)
{
    _mm256_storeu_si256((__m256i *)(void *)p, v);
}

AVX2 static inline bool
ascii32(__m256i v)
{
    return _mm256_testz_si256(v, _mm256_set1_epi8((char)0x80));
}

/* Unmasks p[0..h), h < 32, in place; returns whether those bytes are ASCII. */
AVX2 static inline bool
mask_head(uint8_t *p, size_t h, uint32_t key)
{
    bool ascii = true;
    if (h >= 16) {
        __m128i v = _mm_xor_si128(load16(p), _mm_set1_epi32((int)key));
        store16(p, v);
        ascii = ascii16(v);
        p += 16; /* a multiple of 4: the key still applies */
        h -= 16;
    }
    return !(mask_short(p, h, key) & HIGH_BITS) && ascii;
}

/* The last 32 bytes of p[0..n), unmasked, for the key that applies to p[0]. */
AVX2 static inline __m256i
tail_window(const uint8_t *p, size_t n, uint32_t key)
{
    return _mm256_xor_si256(load32(p + n - 32),
                            _mm256_set1_epi32((int)lapps__mask_rotate(key, n - 32)));
}

/* As text16(), for n >= 32, in 32-byte vectors, 128 bytes at a time. The tail window
 * is loaded once the first test has passed, before anything is stored. */
AVX2 static inline int
text32(uint8_t *p, size_t n, uint32_t key, uint32_t *state)
{
    __m256i tail;
    size_t i = 0;
    if (n >= ALIGN_FROM) {
        i = (size_t)(-(uintptr_t)p & 31);
        if (!mask_head(p, i, key))
            return rest_avx2(p, n, 0, i, key, state);
    }
    const __m256i k = _mm256_set1_epi32((int)lapps__mask_rotate(key, i));
    if (i + 128 <= n) {
        __m256i a = _mm256_xor_si256(load32(p + i), k);
        __m256i b = _mm256_xor_si256(load32(p + i + 32), k);
        __m256i c = _mm256_xor_si256(load32(p + i + 64), k);
        __m256i d = _mm256_xor_si256(load32(p + i + 96), k);
        if (!ascii32(_mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d))))
            return rest_avx2(p, n, i, i, key, state);
        tail = tail_window(p, n, key);
        store32(p + i, a);
        store32(p + i + 32, b);
        store32(p + i + 64, c);
        store32(p + i + 96, d);
        i += 128;
    } else {
        if (!ascii32(_mm256_xor_si256(load32(p + i), k)))
            return rest_avx2(p, n, i, i, key, state);
        tail = tail_window(p, n, key);
    }
    /* From here on blocks are stored before they are tested, 512 bytes at a time: a
     * test per block cost a tenth of the speed. Text that turns out not to be ASCII is
     * validated from `checked`, a character boundary. */
    size_t checked = i;
    __m256i acc = _mm256_setzero_si256();
    for (; i + 128 <= n; i += 128) {
        /* Each block is stored right after its load, as in mask-x86.c: loading all
         * four first measured a tenth slower. */
        __m256i a = _mm256_xor_si256(load32(p + i), k);
        store32(p + i, a);
        __m256i b = _mm256_xor_si256(load32(p + i + 32), k);
        store32(p + i + 32, b);
        __m256i c = _mm256_xor_si256(load32(p + i + 64), k);
        store32(p + i + 64, c);
        __m256i d = _mm256_xor_si256(load32(p + i + 96), k);
        store32(p + i + 96, d);
        acc = _mm256_or_si256(acc, _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d)));
        if (i + 128 - checked == 512) {
            if (!ascii32(acc))
                return rest_avx2(p, n, checked, i + 128, key, state);
            checked = i + 128;
        }
    }
    for (; i + 32 < n; i += 32) {
        __m256i a = _mm256_xor_si256(load32(p + i), k);
        store32(p + i, a);
        acc = _mm256_or_si256(acc, a);
    }
    /* The tail window ends the text; where it overlaps stored blocks it stores the same. */
    store32(p + n - 32, tail);
    if (!ascii32(_mm256_or_si256(acc, tail)))
        return rest_avx2(p, n, checked, n, key, state);
    *state = LAPPS__UTF8_ACCEPT;
    return 0;
}

AVX2 __attribute__((aligned(64))) int
lapps__mask_utf8_avx2(uint8_t *p, size_t n, uint32_t *key, uint32_t *state)
{
    uint32_t k = *key, s = *state;
    *key = lapps__mask_rotate(k, n);
    if (s != LAPPS__UTF8_ACCEPT) {
        size_t open = finish_open(p, n, &k, &s);
        if (s != LAPPS__UTF8_ACCEPT) {
            *state = s;
            return s == LAPPS__UTF8_REJECT ? LAPPS_ERR_UTF8 : 0;
        }
        p += open;
        n -= open;
    }
    if (n >= 32)
        return text32(p, n, k, state);
    if (n >= 16)
        return text16(p, n, k, state, rest_avx2);
    return short_text(p, n, k, state, rest_avx2);
}

#endif /* x86 */
