/* mask-x86.c — payload (un)masking with SSE2 and AVX2 (see mask.h).
 *
 * The key repeats every 4 bytes, so a vector of the key broadcast to 32-bit lanes lines
 * up with any block whose length is a multiple of 4; only the last < 16 bytes (and, for
 * long buffers, a head that aligns the AVX2 loop) are done in words. Vector loads and
 * stores never leave p[0..n): the XOR is in place, so an overlapping store would mask
 * bytes twice.
 *
 * Functions carry target attributes, so this file builds with the project's flags; the
 * dispatcher (mask.c) calls them only when util/cpu.c reports the features. Empty on
 * other architectures. */
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <string.h>

#include "util/mask.h"

/* XORs p[0..n), n < 16, in words; key applies to p[0]. x86 is little-endian, so the
 * key's first byte is its low byte. */
static inline void
mask_short(uint8_t *p, size_t n, uint32_t key)
{
    if (n & 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= (uint64_t)key << 32 | key;
        memcpy(p, &w, 8);
        p += 8;
    }
    if (n & 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        w ^= key;
        memcpy(p, &w, 4);
        p += 4;
    }
    if (n & 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        w ^= (uint16_t)key;
        memcpy(p, &w, 2);
        p += 2;
        key >>= 16;
    }
    if (n & 1)
        *p ^= (uint8_t)key;
}

__attribute__((target("sse2"))) static inline void
xor16(uint8_t *p, __m128i k)
{
    __m128i *v = (__m128i *)(void *)p;
    _mm_storeu_si128(v, _mm_xor_si128(_mm_loadu_si128(v), k));
}

/* Functions with a hot loop start on a cache line: the loop's speed varied by a third
 * with where the linker happened to put it. */
__attribute__((target("sse2"), aligned(64))) uint32_t
lapps__mask_sse2(uint8_t *p, size_t n, uint32_t key)
{
    const __m128i k = _mm_set1_epi32((int)key);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        xor16(p + i, k);
        xor16(p + i + 16, k);
        xor16(p + i + 32, k);
        xor16(p + i + 48, k);
    }
    for (; i + 16 <= n; i += 16)
        xor16(p + i, k);
    mask_short(p + i, n - i, key);
    return lapps__mask_rotate(key, n);
}

__attribute__((target("avx2"))) static inline void
xor32(uint8_t *p, __m256i k)
{
    __m256i *v = (__m256i *)(void *)p;
    _mm256_storeu_si256(v, _mm256_xor_si256(_mm256_loadu_si256(v), k));
}

__attribute__((target("avx2"), aligned(64))) uint32_t
lapps__mask_avx2(uint8_t *p, size_t n, uint32_t key)
{
    uint8_t *end = p + n;
    uint32_t next = lapps__mask_rotate(key, n);
    if (n >= 512) {
        /* Stores that straddle cache lines cost about a third of the speed, so mask up
         * to 31 bytes first to align the loop; the key then starts at another byte. */
        size_t head = (32 - ((uintptr_t)p & 31)) & 31;
        if (head >= 16) {
            xor16(p, _mm_set1_epi32((int)key));
            mask_short(p + 16, head - 16, key);
        } else {
            mask_short(p, head, key);
        }
        p += head;
        key = lapps__mask_rotate(key, head);
    }
    const __m256i k = _mm256_set1_epi32((int)key);
    for (; end - p >= 128; p += 128) {
        xor32(p, k);
        xor32(p + 32, k);
        xor32(p + 64, k);
        xor32(p + 96, k);
    }
    for (; end - p >= 32; p += 32)
        xor32(p, k);
    if (end - p >= 16) {
        xor16(p, _mm256_castsi256_si128(k));
        p += 16;
    }
    mask_short(p, (size_t)(end - p), key);
    return next;
}

#endif /* x86 */
