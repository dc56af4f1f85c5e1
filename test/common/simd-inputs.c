/* simd-inputs.c — see simd-inputs.h. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "simd-inputs.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

uint32_t
test_rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

void
test_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)test_rnd();
}

size_t
test_utf8_encode(uint8_t *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xC0 | c >> 6);
        o[1] = (uint8_t)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | c >> 12);
        o[1] = (uint8_t)(0x80 | (c >> 6 & 63));
        o[2] = (uint8_t)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | c >> 18);
    o[1] = (uint8_t)(0x80 | (c >> 12 & 63));
    o[2] = (uint8_t)(0x80 | (c >> 6 & 63));
    o[3] = (uint8_t)(0x80 | (c & 63));
    return 4;
}

uint32_t
test_random_code_point(unsigned ascii_percent)
{
    static const uint32_t edges[] = {0x0,     0x7F,    0x80,    0x7FF,    0x800,   0xFFF,
                                     0x1000,  0xD7FF,  0xE000,  0xFFFD,   0xFFFF,  0x10000,
                                     0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF};
    if (test_rnd() % 100 < ascii_percent)
        return test_rnd() % 0x80;
    switch (test_rnd() % 4) {
    case 0:
        return 0x80 + test_rnd() % (0x800 - 0x80);
    case 1: {
        uint32_t c = 0x800 + test_rnd() % (0x10000 - 0x800);
        return c >= 0xD800 && c <= 0xDFFF ? c - 0x800 : c;
    }
    case 2:
        return 0x10000 + test_rnd() % (0x110000 - 0x10000);
    default:
        return edges[test_rnd() % (sizeof edges / sizeof *edges)];
    }
}

void
test_random_text(uint8_t *p, size_t n, unsigned ascii_percent)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c[4];
        size_t k = test_utf8_encode(c, test_random_code_point(ascii_percent));
        for (size_t j = 0; j < k && i < n; j++)
            p[i++] = c[j];
    }
}

void
test_ref_mask(uint8_t *p, size_t n, uint32_t key)
{
    uint8_t k[4];
    memcpy(k, &key, 4);
    for (size_t i = 0; i < n; i++)
        p[i] ^= k[i & 3];
}

int
test_expected_impls(void)
{
    const char *cap = getenv("LAPPS_SIMD");
#if defined(__x86_64__) || defined(__i386__)
    if ((!cap || !*cap) && __builtin_cpu_supports("avx2"))
        return 3;
#endif
    (void)cap;
    return 1;
}

bool
test_untouched(const uint8_t *from, const uint8_t *to)
{
    for (; from < to; from++)
        if (*from != 0xA5)
            return false;
    return true;
}

static uint8_t *arena;

void
test_arena_init(void)
{
    static uint8_t zeros[TEST_ARENA];
    arena = guard_copy(zeros, TEST_ARENA);
}

void
test_arena_fini(void)
{
    guard_free(arena);
    arena = NULL;
}

uint8_t *
test_place(const void *data, size_t n)
{
    cr_assert(arena, "the test needs .init = test_arena_init");
    cr_assert_leq(n, TEST_ARENA);
    uint8_t *p = arena + TEST_ARENA - n;
    if (n)
        memmove(p, data, n);
    return p;
}
