/* mask.h — RFC 6455 §5.3 payload masking (XOR with a 4-byte key), in place.
 *
 * The key is the frame's 4 masking bytes loaded in memory order (memcpy into a
 * uint32_t), rotated so that its first byte applies to p[0]. Every call returns the
 * key rotated for the byte after p[n-1], so a payload that arrives in pieces is
 * unmasked piece by piece with no per-call arithmetic in the caller. */
#ifndef LAPPS_UTIL_MASK_H
#define LAPPS_UTIL_MASK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The fastest implementation this CPU supports (chosen on the first call). */
uint32_t lapps__mask_dispatch(uint8_t *p, size_t n, uint32_t key);

/* One implementation of lapps__mask(); tests and benchmarks compare them. */
struct lapps__mask_impl {
    const char *name;
    uint32_t (*mask)(uint8_t *p, size_t n, uint32_t key);
    unsigned needs; /* LAPPS__CPU_* features it requires */
};

/* Every compiled-in implementation, the portable scalar one first; the list ends with
 * a NULL name. Callers must check lapps__cpu_has(impl->needs) before calling one. */
extern const struct lapps__mask_impl lapps__mask_impls[];

uint32_t lapps__mask_scalar(uint8_t *p, size_t n, uint32_t key);

#if defined(__x86_64__) || defined(__i386__)
/* mask-x86.c */
uint32_t lapps__mask_sse2(uint8_t *p, size_t n, uint32_t key);
uint32_t lapps__mask_avx2(uint8_t *p, size_t n, uint32_t key);
#endif

/* The key rotated by n bytes (for the byte n positions further on). */
static inline uint32_t
lapps__mask_rotate(uint32_t key, size_t n)
{
    unsigned s = (unsigned)(n & 3) * 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return s ? (key >> s) | (key << (32 - s)) : key;
#else
    return s ? (key << s) | (key >> (32 - s)) : key;
#endif
}

/* XORs p[0..n) with the key; returns the key for what follows. Payloads of up to 32
 * bytes (most chat and RPC messages) are done inline: the first 16 bytes as two words,
 * the rest with two overlapping stores, each computed from the original bytes, so the
 * overlap is written twice with the same value; longer ones go to the fastest
 * implementation. */
static inline uint32_t
lapps__mask(uint8_t *p, size_t n, uint32_t key)
{
    if (n > 32)
        return lapps__mask_dispatch(p, n, key);
    uint32_t next = lapps__mask_rotate(key, n);
    if (n > 16) {
        /* 16 is a multiple of 4: the key for p[16] is the key for p[0]. */
        uint64_t a, b, k8 = (uint64_t)key << 32 | key;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        a ^= k8;
        b ^= k8;
        memcpy(p, &a, 8);
        memcpy(p + 8, &b, 8);
        p += 16;
        n -= 16;
    }
    if (n >= 8) {
        uint32_t kb = lapps__mask_rotate(key, n - 8);
        uint64_t a, b, ka = (uint64_t)key << 32 | key, kb8 = (uint64_t)kb << 32 | kb;
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
        a ^= ka;
        b ^= kb8;
        memcpy(p, &a, 8);
        memcpy(p + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b, kb = lapps__mask_rotate(key, n - 4);
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        a ^= key;
        b ^= kb;
        memcpy(p, &a, 4);
        memcpy(p + n - 4, &b, 4);
    } else {
        uint8_t k[4];
        memcpy(k, &key, 4);
        for (size_t i = 0; i < n; i++)
            p[i] ^= k[i];
    }
    return next;
}

#endif /* LAPPS_UTIL_MASK_H */
