/* Tests for lib/util/mask-utf8.c and mask-utf8-x86.c: unmasking and UTF-8 validation in
 * one pass.
 *
 * The contract is "the same as unmasking, then validating": for every input, every
 * implementation this CPU can run must give the result of lapps__mask_scalar() followed
 * by lapps__utf8_validate_scalar() (each held to an independent reference in
 * test-mask.c and test-utf8.c): the same return code, and on success the same bytes,
 * key and state. On failure the bytes, key and state are unspecified.
 *
 * Inputs are plaintexts (ASCII, valid multi-byte text, text with a corrupted byte,
 * random bytes, known bad sequences) masked with a key, so what the function unmasks is
 * the plaintext. They are fed whole at every length up to 300, every alignment in a
 * 64-byte line and every rotation of the key, with canaries on both sides; in two calls
 * split at every offset, chaining the key and the state; flush against a PROT_NONE page
 * after them and right after one before them; and as 64 KiB texts with errors around
 * the vector code's block boundaries and near the end. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lapps/error.h>

#include "guard.h"
#include "simd-inputs.h"
#include "util/cpu.h"
#include "util/mask-utf8.h"

/* ---- inputs ---- */

enum { KIND_ASCII, KIND_MIXED, KIND_MOSTLY_ASCII, KIND_CORRUPTED, KIND_RANDOM, KINDS };

/* A plaintext of n bytes of the given kind. */
static void
plaintext(uint8_t *p, size_t n, unsigned kind)
{
    switch (kind) {
    case KIND_ASCII:
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)(test_rnd() % 0x80);
        break;
    case KIND_MIXED:
        test_random_text(p, n, 20);
        break;
    case KIND_MOSTLY_ASCII:
        test_random_text(p, n, 97);
        break;
    case KIND_CORRUPTED:
        test_random_text(p, n, test_rnd() % 100);
        if (n)
            p[test_rnd() % n] = (uint8_t)(0x80 + test_rnd() % 0x80);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)test_rnd();
        break;
    }
}

/* ---- the reference: unmask, then validate ---- */

struct outcome {
    int rv;
    uint32_t key, state;
};

/* What lapps__mask_scalar() then lapps__utf8_validate_scalar() make of the masked
 * in[0..n); the unmasked bytes go to out. */
static struct outcome
reference(const uint8_t *in, size_t n, uint32_t key, uint32_t state, uint8_t *out)
{
    struct outcome o = {0, 0, state};
    if (n)
        memcpy(out, in, n);
    o.key = lapps__mask_scalar(out, n, key);
    o.rv = lapps__utf8_validate_scalar(&o.state, out, n);
    return o;
}

/* ---- running every implementation ---- */

/* Calls im on p[0..n) (already in place) and checks it against the reference for the
 * masked input `in`. */
static void
check_call(const struct lapps__mask_utf8_impl *im, uint8_t *p, const uint8_t *in, size_t n,
           uint32_t key, uint32_t state, const char *what)
{
    static uint8_t want[1 << 17];
    cr_assert_leq(n, sizeof want);
    struct outcome o = reference(in, n, key, state, want);
    uint32_t k = key, s = state;
    int rv = im->mask_utf8(p, n, &k, &s);
    cr_assert_eq(rv, o.rv, "%s: %s n=%zu: rv %d, want %d", what, im->name, n, rv, o.rv);
    if (rv != 0)
        return;
    cr_assert_eq(memcmp(p, want, n), 0, "%s: %s n=%zu: bytes", what, im->name, n);
    cr_assert_eq(k, o.key, "%s: %s n=%zu: key %08x, want %08x", what, im->name, n, k, o.key);
    cr_assert_eq(s, o.state, "%s: %s n=%zu: state %u, want %u", what, im->name, n, s, o.state);
}

/* One guarded arena per test process: test_place() copies data so that its last byte is the
 * last one before a PROT_NONE page. */
Test(mask_utf8, every_length_alignment_and_key_rotation)
{
    enum { CANARY = 64, MAX = 300, SIZE = (CANARY + 64 + MAX + CANARY + 63) / 64 * 64 };
    uint8_t *buf = aligned_alloc(64, SIZE);
    uint8_t in[MAX];
    int ran = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (unsigned kind = 0; kind < KINDS; kind++) {
            for (size_t n = 0; n <= MAX; n++) {
                for (size_t align = 0; align < 64; align++) {
                    /* Every rotation of the key over the alignments; keys with and
                     * without high bits, so that masked ASCII is rarely ASCII. */
                    uint32_t key = lapps__mask_rotate(align & 4 ? 0x80808080u : test_rnd(), align);
                    plaintext(in, n, kind);
                    test_ref_mask(in, n, key);
                    memset(buf, 0xA5, SIZE);
                    uint8_t *p = buf + CANARY + align;
                    if (n)
                        memcpy(p, in, n);
                    check_call(im, p, in, n, key, LAPPS__UTF8_ACCEPT, "aligned");
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

/* Feeds the masked in[0..n) to im in two calls split at k, each piece flush against
 * the guard page, chaining the key and the state; the pieces must together do what the
 * reference does to the whole, and the first alone what it does to the first piece. */
static void
check_split(const struct lapps__mask_utf8_impl *im, const uint8_t *in, size_t n, size_t k,
            uint32_t key, const char *what)
{
    static uint8_t want[TEST_ARENA], want1[TEST_ARENA], got[TEST_ARENA];
    struct outcome whole = reference(in, n, key, LAPPS__UTF8_ACCEPT, want);
    struct outcome first = reference(in, k, key, LAPPS__UTF8_ACCEPT, want1);
    uint32_t kk = key, s = LAPPS__UTF8_ACCEPT;
    uint8_t *p = test_place(in, k);
    int rv = im->mask_utf8(p, k, &kk, &s);
    cr_assert_eq(rv, first.rv, "%s: %s n=%zu split %zu: first piece rv %d", what, im->name, n, k,
                 rv);
    if (rv != 0)
        return;
    cr_assert_eq(kk, first.key, "%s: %s n=%zu split %zu: first key", what, im->name, n, k);
    cr_assert_eq(s, first.state, "%s: %s n=%zu split %zu: first state", what, im->name, n, k);
    if (k)
        memcpy(got, p, k);
    p = test_place(in + k, n - k);
    rv = im->mask_utf8(p, n - k, &kk, &s);
    cr_assert_eq(rv, whole.rv, "%s: %s n=%zu split %zu: rv %d, want %d", what, im->name, n, k, rv,
                 whole.rv);
    if (rv != 0)
        return;
    if (n - k)
        memcpy(got + k, p, n - k);
    cr_assert_eq(memcmp(got, want, n), 0, "%s: %s n=%zu split %zu: bytes", what, im->name, n, k);
    cr_assert_eq(kk, whole.key, "%s: %s n=%zu split %zu: key", what, im->name, n, k);
    cr_assert_eq(s, whole.state, "%s: %s n=%zu split %zu: state %u, want %u", what, im->name, n, k,
                 s, whole.state);
}

Test(mask_utf8, two_calls_split_at_every_offset_against_a_guard_page, .init = test_arena_init,
     .fini = test_arena_fini)
{
    uint8_t in[300];
    int ran = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (unsigned kind = 0; kind < KINDS; kind++) {
            for (size_t n = 0; n <= sizeof in; n += n < 100 ? 1 : 7) {
                uint32_t key = test_rnd();
                plaintext(in, n, kind);
                test_ref_mask(in, n, key);
                for (size_t k = 0; k <= n; k++)
                    check_split(im, in, n, k, key, "split");
            }
        }
    }
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
}

/* A page with a PROT_NONE page before it: data placed at its start has nothing readable
 * before p[0]. */
static uint8_t *
front_guarded(size_t *cap)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *base =
        mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(base, MAP_FAILED, "mmap");
    cr_assert_eq(mprotect(base, page, PROT_NONE), 0, "mprotect");
    *cap = page;
    return base + page;
}

Test(mask_utf8, guard_pages_on_either_side, .init = test_arena_init, .fini = test_arena_fini)
{
    /* Lengths past the point (4 KiB) where the AVX2 code unmasks a head to align its
     * loop, too; the front-guarded page holds up to a page, starting aligned. */
    static uint8_t in[4400];
    size_t cap;
    uint8_t *front = front_guarded(&cap);
    int ran = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (unsigned kind = 0; kind < KINDS; kind++) {
            for (size_t n = 0; n <= sizeof in; n += n < 300 ? 1 : n < 4000 ? 61 : 7) {
                uint32_t key = test_rnd();
                plaintext(in, n, kind);
                test_ref_mask(in, n, key);
                uint8_t *g = guard_copy(in, n);
                check_call(im, g, in, n, key, LAPPS__UTF8_ACCEPT, "end guard");
                guard_free(g);
                if (n <= cap) {
                    memcpy(front, in, n);
                    check_call(im, front, in, n, key, LAPPS__UTF8_ACCEPT, "front guard");
                }
            }
        }
    }
    munmap(front - cap, 2 * cap);
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
}

Test(mask_utf8, known_bad_sequences_at_every_offset, .init = test_arena_init,
     .fini = test_arena_fini)
{
    /* Each error kind of the vector code's tables, a truncated character before ASCII,
     * and valid edge cases, at every offset of ASCII and multi-byte text long enough to
     * cross the 16-, 32- and 64-byte blocks, the head window and the tail window. */
    static const char *cases[] = {
        "\xc0\xaf",
        "\xc1\xbf",
        "\xe0\x80\xaf",
        "\xe0\x9f\xbf",
        "\xf0\x80\x80\xaf",
        "\xf0\x8f\xbf\xbf",
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xff",
        "\x80",
        "\xbf\x80",
        "\xc3\xa9\x80",
        "\xc3",
        "\xe2\x82",
        "\xf0\x9f\x98",
        "\xe2\x82\xac\xac",
        "\xf0\x9f\x98\x80\x80",
        /* valid */
        "\xc2\x80",
        "\xdf\xbf",
        "\xe0\xa0\x80",
        "\xed\x9f\xbf",
        "\xef\xbf\xbf",
        "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf",
    };
    static const char *fill[] = {
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
        "жжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжж",
        "語語語語語語語語語語語語語語語語語語語語語",
        "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
    };
    uint8_t buf[400];
    int ran = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            size_t cn = strlen(cases[c]);
            for (size_t f = 0; f < sizeof fill / sizeof *fill; f++) {
                size_t fn = strlen(fill[f]);
                for (size_t at = 0; at <= 100; at++) {
                    /* Filler before (cut anywhere, even inside a character), the case,
                     * then ASCII of a length that varies with the offset. */
                    size_t n = 0;
                    while (n < at) {
                        size_t take = at - n < fn ? at - n : fn;
                        memcpy(buf + n, fill[f], take);
                        n += take;
                    }
                    memcpy(buf + n, cases[c], cn);
                    n += cn;
                    size_t tail = (at * 7) % 71;
                    memset(buf + n, 'x', tail);
                    n += tail;
                    uint32_t key = test_rnd();
                    test_ref_mask(buf, n, key);
                    char what[64];
                    snprintf(what, sizeof what, "case %zu after %zu bytes of filler %zu", c, at, f);
                    check_call(im, test_place(buf, n), buf, n, key, LAPPS__UTF8_ACCEPT, what);
                    check_split(im, buf, n, at, key, what);
                    check_split(im, buf, n, at + 1, key, what);
                }
            }
        }
    }
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
}

Test(mask_utf8, every_open_state_on_entry, .init = test_arena_init, .fini = test_arena_fini)
{
    /* A character left open by the previous call, then a piece of every length that
     * finishes it or not, rightly or wrongly. */
    static const char *open[] = {"\xc3", "\xe2",     "\xe2\x82",     "\xe0", "\xed",
                                 "\xf0", "\xf0\x9f", "\xf0\x9f\x98", "\xf4", "\xf4\x8f"};
    static const char *next[] = {"\x80", "\x9f", "\xa0", "\xbf", "a", "\xc3\xa9", ""};
    uint8_t buf[200];
    int ran = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (size_t o = 0; o < sizeof open / sizeof *open; o++) {
            uint32_t st = LAPPS__UTF8_ACCEPT;
            cr_assert_eq(
                lapps__utf8_validate_scalar(&st, (const uint8_t *)open[o], strlen(open[o])), 0);
            for (size_t x = 0; x < sizeof next / sizeof *next; x++) {
                for (size_t n = 0; n <= 150; n++) {
                    size_t xn = strlen(next[x]);
                    test_random_text(buf, n, n % 2 ? 100 : 60);
                    memcpy(buf, next[x], xn < n ? xn : n);
                    uint32_t key = test_rnd();
                    test_ref_mask(buf, n, key);
                    check_call(im, test_place(buf, n), buf, n, key, st, "open state");
                }
            }
        }
    }
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
}

/* The 64 KiB tests: whole, and in two calls split at `split`. */
static void
check_long(const struct lapps__mask_utf8_impl *im, uint8_t *buf, const uint8_t *in, size_t n,
           size_t split, uint32_t key, const char *what)
{
    static uint8_t want[1 << 17];
    memcpy(buf, in, n);
    check_call(im, buf, in, n, key, LAPPS__UTF8_ACCEPT, what);
    struct outcome whole = reference(in, n, key, LAPPS__UTF8_ACCEPT, want);
    memcpy(buf, in, n);
    uint32_t k = key, s = LAPPS__UTF8_ACCEPT;
    int rv = im->mask_utf8(buf, split, &k, &s);
    if (rv == 0)
        rv = im->mask_utf8(buf + split, n - split, &k, &s);
    cr_assert_eq(rv, whole.rv, "%s: %s split at %zu: rv %d", what, im->name, split, rv);
    if (rv == 0) {
        cr_assert_eq(memcmp(buf, want, n), 0, "%s: %s split at %zu: bytes", what, im->name, split);
        cr_assert_eq(s, whole.state, "%s: %s split at %zu: state", what, im->name, split);
        cr_assert_eq(k, whole.key, "%s: %s split at %zu: key", what, im->name, split);
    }
}

Test(mask_utf8, long_texts_with_errors_at_block_boundaries)
{
    enum { N = 65536 };
    uint8_t *text = malloc(N), *t = malloc(N), *base = aligned_alloc(64, N + 64);
    static const uint8_t bad_bytes[] = {0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0,
                                        0xF4, 0xF5, 0xFF, 0x41, 0xA0, 0x90};
    static const unsigned ascii_percent[] = {0, 20, 90, 99, 100};
    int ran = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (size_t v = 0; v < sizeof ascii_percent / sizeof *ascii_percent; v++) {
            test_random_text(text, N, ascii_percent[v]);
            /* Lengths and start alignments vary, so that the errors fall on each side of
             * the head window, every block boundary and the tail window. */
            for (size_t off = 0; off < 40; off += 3) {
                size_t n = N - off - (off * 5) % 37;
                uint32_t key = test_rnd();
                memcpy(t, text, n);
                test_ref_mask(t, n, key);
                check_long(im, base + off, t, n, test_rnd() % n, key, "valid 64 KiB");
                size_t pos[64], np = 0;
                static const size_t fixed[] = {0,  1,  2,  3,  15, 16, 17, 29, 30,  31,  32,  33,
                                               34, 35, 63, 64, 65, 95, 96, 97, 127, 128, 4096};
                for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
                    pos[np++] = fixed[i];
                for (size_t i = 1; i <= 36; i++)
                    pos[np++] = n - i;
                while (np < sizeof pos / sizeof *pos)
                    pos[np++] = test_rnd() % n;
                for (size_t i = 0; i < np; i++) {
                    uint8_t b = bad_bytes[(i + off) % sizeof bad_bytes];
                    memcpy(t, text, n);
                    t[pos[i]] = b;
                    test_ref_mask(t, n, key);
                    check_long(im, base + off, t, n, i % 2 ? pos[i] : pos[i] + 1, key, "corrupted");
                }
            }
            /* A character left open just before an ASCII run that starts on each offset
             * of a 64-byte block: the vector code skips ASCII blocks, looking back only
             * at the 3 bytes before them. */
            for (size_t at = 4096; at < 4096 + 70; at++) {
                for (size_t len = 1; len <= 3; len++) {
                    static const uint8_t open[3][3] = {{0xC3}, {0xE2, 0x82}, {0xF0, 0x9F, 0x98}};
                    uint32_t key = test_rnd();
                    memcpy(t, text, N);
                    memset(t + at, 'a', 512);
                    memcpy(t + at - len, open[len - 1], len);
                    test_ref_mask(t, N, key);
                    check_long(im, base + at % 32, t, N - 64, test_rnd() % (N - 64), key,
                               "open character before ASCII");
                }
            }
        }
    }
    free(text);
    free(t);
    free(base);
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
}

Test(mask_utf8, long_text_in_random_pieces_equals_one_call)
{
    enum { N = 1 << 17 };
    uint8_t *text = malloc(N), *in = malloc(N), *whole = malloc(N), *pieces = malloc(N);
    int ran = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        for (int round = 0; round < 8; round++) {
            test_random_text(text, N, (unsigned)round * 14);
            uint32_t key = test_rnd();
            memcpy(in, text, N);
            test_ref_mask(in, N, key);
            memcpy(whole, in, N);
            memcpy(pieces, in, N);
            uint32_t kw = key, sw = LAPPS__UTF8_ACCEPT, k = key, s = LAPPS__UTF8_ACCEPT;
            cr_assert_eq(im->mask_utf8(whole, N, &kw, &sw), 0, "%s round %d", im->name, round);
            size_t max = round % 2 ? 9 : 300; /* many tiny pieces, or vector-sized ones */
            for (size_t i = 0; i < N;) {
                size_t len = test_rnd() % (max + 1);
                len = len > N - i ? N - i : len;
                cr_assert_eq(im->mask_utf8(pieces + i, len, &k, &s), 0, "%s at %zu+%zu", im->name,
                             i, len);
                i += len;
            }
            cr_assert_eq(k, kw, "%s round %d: key", im->name, round);
            cr_assert_eq(s, sw, "%s round %d: state", im->name, round);
            cr_assert_eq(memcmp(whole, text, N), 0, "%s round %d: whole", im->name, round);
            cr_assert_eq(memcmp(pieces, text, N), 0, "%s round %d: pieces", im->name, round);
        }
    }
    free(text);
    free(in);
    free(whole);
    free(pieces);
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
}

Test(mask_utf8, inline_entry_point_and_dispatcher, .init = test_arena_init, .fini = test_arena_fini)
{
    /* lapps__mask_utf8() does up to 16 bytes itself and dispatches the rest: every short
     * length, key rotation and open state, with a high byte anywhere or nowhere. */
    static const char *before[] = {"", "\xc3", "\xe2\x82", "\xf0\x9f\x98"};
    static const uint8_t high[] = {0x80, 0xA9, 0xC3, 0xE2, 0xFF};
    uint8_t in[64];
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t at = 0; at <= n; at++) {
            for (size_t b = 0; b < 4; b++) {
                for (size_t i = 0; i < n; i++)
                    in[i] = (uint8_t)('a' + (i * 7 + n) % 26);
                if (at < n)
                    in[at] = high[(at + b) % sizeof high];
                uint32_t st = LAPPS__UTF8_ACCEPT;
                cr_assert_eq(
                    lapps__utf8_validate_scalar(&st, (const uint8_t *)before[b], strlen(before[b])),
                    0);
                uint32_t key = lapps__mask_rotate(test_rnd(), at);
                test_ref_mask(in, n, key);
                static uint8_t want[64];
                struct outcome o = reference(in, n, key, st, want);
                uint32_t k = key, s = st;
                uint8_t *p = test_place(in, n);
                int rv = lapps__mask_utf8(p, n, &k, &s);
                cr_assert_eq(rv, o.rv, "n=%zu high at %zu open %zu", n, at, b);
                if (rv == 0) {
                    cr_assert_eq(memcmp(p, want, n), 0, "n=%zu at %zu open %zu", n, at, b);
                    cr_assert_eq(k, o.key, "n=%zu at %zu open %zu: key", n, at, b);
                    cr_assert_eq(s, o.state, "n=%zu at %zu open %zu: state", n, at, b);
                }
            }
        }
    }
    /* The list is ordered as the dispatcher expects: scalar first, and an AVX2 machine
     * (uncapped) has the vector implementations to use. */
    cr_assert_str_eq(lapps__mask_utf8_impls[0].name, "scalar");
    cr_assert_eq(lapps__mask_utf8_impls[0].needs, 0u);
    int usable = 0;
    for (const struct lapps__mask_utf8_impl *im = lapps__mask_utf8_impls; im->name; im++)
        usable += lapps__cpu_has(im->needs);
    cr_assert_geq(usable, test_expected_impls());
}
