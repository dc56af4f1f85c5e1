/* Tests for lib/util/mask.c and mask-x86.c: payload (un)masking.
 *
 * Every implementation this CPU can run must equal a byte-by-byte XOR with the key
 * bytes in memory order, for every length up to 300, every alignment within a 64-byte
 * line and every starting rotation of the key; must not touch a byte outside its
 * buffer (canaries on both sides, and buffers flush against a PROT_NONE page); and must
 * return the key for the next byte, so that masking in pieces equals one call. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "simd-inputs.h"
#include "util/cpu.h"
#include "util/mask.h"

/* The key whose first byte is byte `r` (mod 4) of `key`, built bytewise. */
static uint32_t
ref_rotate(uint32_t key, size_t r)
{
    uint8_t k[4], o[4];
    memcpy(k, &key, 4);
    for (size_t j = 0; j < 4; j++)
        o[j] = k[(j + r) & 3];
    uint32_t out;
    memcpy(&out, o, 4);
    return out;
}

Test(mask, rotate_moves_the_key_bytewise)
{
    static const uint8_t bytes[4] = {0x11, 0x22, 0x33, 0x44};
    uint32_t key;
    memcpy(&key, bytes, 4);
    static const size_t ns[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 1001, 4096, SIZE_MAX, SIZE_MAX - 1};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        uint32_t r = lapps__mask_rotate(key, ns[i]);
        uint8_t got[4];
        memcpy(got, &r, 4);
        for (size_t j = 0; j < 4; j++)
            cr_assert_eq(got[j], bytes[(j + ns[i]) & 3], "n=%zu byte %zu", ns[i], j);
    }
    for (int i = 0; i < 1000; i++) {
        uint32_t k = test_rnd();
        size_t a = test_rnd(), b = test_rnd();
        cr_assert_eq(lapps__mask_rotate(lapps__mask_rotate(k, a), b), lapps__mask_rotate(k, a + b));
    }
}

Test(mask, every_length_alignment_and_rotation)
{
    /* aligned_alloc() wants a multiple of the alignment. */
    enum { CANARY = 64, MAX = 1100, SIZE = (CANARY + 64 + MAX + CANARY + 63) / 64 * 64 };
    /* Every length up to 300, then lengths past the point (512) where the AVX2 code
     * masks a head to align its loop. */
    static const size_t longer[] = {511, 512, 513, 515, 543, 544, 600, 1023, 1024, 1029, MAX};
    uint8_t *buf = aligned_alloc(64, SIZE);
    uint8_t in[MAX], want[MAX];
    int ran = 0;
    for (const struct lapps__mask_impl *im = lapps__mask_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (size_t i = 0; i <= 300 + sizeof longer / sizeof *longer; i++) {
            size_t n = i <= 300 ? i : longer[i - 301];
            for (size_t align = 0; align < 64; align++) {
                for (size_t rot = 0; rot < 4; rot++) {
                    uint32_t key = lapps__mask_rotate(test_rnd(), rot);
                    test_fill(in, n);
                    memcpy(want, in, n);
                    test_ref_mask(want, n, key);
                    memset(buf, 0xA5, SIZE);
                    uint8_t *p = buf + CANARY + align;
                    memcpy(p, in, n);
                    uint32_t next = im->mask(p, n, key);
                    cr_assert_eq(memcmp(p, want, n), 0, "%s n=%zu align=%zu rot=%zu", im->name, n,
                                 align, rot);
                    cr_assert_eq(next, ref_rotate(key, n), "%s n=%zu: next key", im->name, n);
                    cr_assert(test_untouched(buf, p), "%s n=%zu: byte before the buffer", im->name,
                              n);
                    cr_assert(test_untouched(p + n, buf + SIZE), "%s n=%zu: byte after the buffer",
                              im->name, n);
                }
            }
        }
    }
    free(buf);
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
}

Test(mask, flush_against_a_guard_page)
{
    uint8_t in[1100], want[1100];
    int ran = 0;
    for (const struct lapps__mask_impl *im = lapps__mask_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (size_t n = 0; n <= sizeof in; n += n < 300 ? 1 : 97) {
            uint32_t key = test_rnd();
            test_fill(in, n);
            memcpy(want, in, n);
            test_ref_mask(want, n, key);
            uint8_t *g = guard_copy(in, n);
            cr_assert_eq(im->mask(g, n, key), ref_rotate(key, n));
            cr_assert_eq(memcmp(g, want, n), 0, "%s n=%zu", im->name, n);
            guard_free(g);
        }
    }
    cr_assert_geq(ran, test_expected_impls());
}

Test(mask, pieces_chained_by_the_returned_key_equal_one_call)
{
    enum { N = 5000 };
    uint8_t *in = malloc(N), *whole = malloc(N), *pieces = malloc(N);
    int ran = 0;
    for (const struct lapps__mask_impl *im = lapps__mask_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (int round = 0; round < 200; round++) {
            uint32_t key = test_rnd();
            test_fill(in, N);
            memcpy(whole, in, N);
            memcpy(pieces, in, N);
            uint32_t end_whole = im->mask(whole, N, key);
            uint32_t k = key;
            size_t max = round % 2 ? 9 : 300; /* many tiny pieces, or vector-sized ones */
            for (size_t i = 0; i < N;) {
                size_t len = test_rnd() % (max + 1);
                len = len > N - i ? N - i : len;
                k = im->mask(pieces + i, len, k);
                i += len;
            }
            cr_assert_eq(k, end_whole, "%s round %d", im->name, round);
            cr_assert_eq(memcmp(whole, pieces, N), 0, "%s round %d", im->name, round);
            test_ref_mask(in, N, key);
            cr_assert_eq(memcmp(whole, in, N), 0, "%s round %d", im->name, round);
        }
    }
    free(in);
    free(whole);
    free(pieces);
    cr_assert_geq(ran, test_expected_impls());
}

Test(mask, masking_twice_restores_and_dispatcher_agrees)
{
    uint8_t in[777], p[777];
    test_fill(in, sizeof in);
    memcpy(p, in, sizeof p);
    uint32_t key = test_rnd();
    uint32_t k = lapps__mask(p, sizeof p, key);
    cr_assert_eq(k, ref_rotate(key, sizeof p));
    uint8_t want[777];
    memcpy(want, in, sizeof want);
    test_ref_mask(want, sizeof want, key);
    cr_assert_eq(memcmp(p, want, sizeof p), 0);
    lapps__mask(p, sizeof p, key);
    cr_assert_eq(memcmp(p, in, sizeof p), 0);
    cr_assert_str_eq(lapps__mask_impls[0].name, "scalar");
    cr_assert_eq(lapps__mask_impls[0].needs, 0u);
    int usable = 0;
    for (const struct lapps__mask_impl *im = lapps__mask_impls; im->name; im++)
        usable += lapps__cpu_has(im->needs);
    cr_assert_geq(usable, test_expected_impls());
}

Test(mask, inline_entry_point_at_every_short_length_against_a_guard_page)
{
    /* lapps__mask() does payloads up to 32 bytes itself, with overlapping word stores:
     * every length, rotation and end-of-page placement must still equal the reference. */
    for (size_t n = 0; n <= 72; n++) {
        for (size_t r = 0; r < 4; r++) {
            uint8_t in[72], want[72];
            test_fill(in, n);
            uint32_t key = test_rnd();
            uint32_t rk = ref_rotate(key, r);
            memcpy(want, in, n);
            test_ref_mask(want, n, rk);
            uint8_t *g = guard_copy(in, n);
            cr_assert_eq(lapps__mask(g, n, rk), ref_rotate(key, r + n), "n %zu r %zu", n, r);
            cr_assert_eq(memcmp(g, want, n), 0, "n %zu r %zu", n, r);
            guard_free(g);
        }
    }
}
