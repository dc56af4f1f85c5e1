/* Tests for lib/util/utf8.c and utf8-x86.c: incremental UTF-8 validation.
 *
 * Every implementation this CPU can run is held to an independent reference written
 * from RFC 3629's table of well-formed sequences, which also names the first byte that
 * cannot belong to valid UTF-8. Each input is fed whole, split into two calls at every
 * byte offset, and byte by byte, each piece flush against a PROT_NONE page; a piece
 * must be rejected exactly when it holds that first bad byte. On acceptance the SIMD
 * implementations must leave the same state as the scalar DFA.
 *
 * The vector code only runs on inputs of 19 bytes or more, so the short cases of
 * Markus Kuhn's decoder stress test are also embedded in longer text, at offsets on
 * either side of the 16- and 32-byte block boundaries. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "guard.h"
#include "simd-inputs.h"
#include "util/cpu.h"
#include "util/utf8.h"

#define NO_ERROR SIZE_MAX

/* ---- the reference ---- */

/* The index of the first byte of p[0..n) that cannot belong to valid UTF-8, or NO_ERROR;
 * *complete says whether the text ends on a character boundary. */
static size_t
ref_first_bad(const uint8_t *p, size_t n, bool *complete)
{
    size_t i = 0;
    *complete = true;
    while (i < n) {
        uint8_t b = p[i];
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b == 0xE0) {
            len = 3;
            lo = 0xA0;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
            len = 3;
        } else if (b == 0xED) {
            len = 3;
            hi = 0x9F;
        } else if (b == 0xF0) {
            len = 4;
            lo = 0x90;
        } else if (b >= 0xF1 && b <= 0xF3) {
            len = 4;
        } else if (b == 0xF4) {
            len = 4;
            hi = 0x8F;
        } else {
            return i; /* 80..C1, F5..FF */
        }
        for (size_t k = 1; k < len; k++) {
            if (i + k == n) {
                *complete = false;
                return NO_ERROR;
            }
            uint8_t c = p[i + k];
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF))
                return i + k;
        }
        i += len;
    }
    return NO_ERROR;
}

/* ---- placing input against the guard page ---- */

/* One guarded buffer per test process; test_place() copies data so that its last byte is the
 * last one before the PROT_NONE page. */
/* ---- running every implementation ---- */

static int
validate_placed(const struct lapps__utf8_impl *im, uint32_t *st, const uint8_t *p, size_t n)
{
    return im->validate(st, test_place(p, n), n);
}

/* Feeds p[0..n) to every implementation whole, in two calls split at every offset, and
 * byte by byte; checks the answer against the reference and the final state against
 * the scalar one. Returns the number of implementations run. */
static int
check_bytes(const uint8_t *p, size_t n, const char *what)
{
    bool complete;
    size_t bad = ref_first_bad(p, n, &complete);
    uint32_t want_state = 0;
    int ran = 0;
    for (const struct lapps__utf8_impl *im = lapps__utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        uint32_t st = LAPPS__UTF8_ACCEPT;
        int rv = validate_placed(im, &st, p, n);
        cr_assert_eq(rv, bad == NO_ERROR ? 0 : LAPPS_ERR_UTF8, "%s: %s whole: rv %d, bad at %zu",
                     what, im->name, rv, bad);
        if (bad == NO_ERROR) {
            cr_assert_eq(lapps__utf8_complete(st), complete, "%s: %s: state %u", what, im->name,
                         st);
            if (im == lapps__utf8_impls)
                want_state = st;
            cr_assert_eq(st, want_state, "%s: %s state %u, scalar %u", what, im->name, st,
                         want_state);
        }
        for (size_t k = 0; k <= n; k++) {
            st = LAPPS__UTF8_ACCEPT;
            rv = validate_placed(im, &st, p, k);
            if (bad != NO_ERROR && bad < k) {
                cr_assert_eq(rv, LAPPS_ERR_UTF8, "%s: %s split %zu: first piece passed", what,
                             im->name, k);
                continue;
            }
            cr_assert_eq(rv, 0, "%s: %s split %zu: first piece failed", what, im->name, k);
            rv = validate_placed(im, &st, p + k, n - k);
            cr_assert_eq(rv, bad == NO_ERROR ? 0 : LAPPS_ERR_UTF8, "%s: %s split %zu: rv %d", what,
                         im->name, k, rv);
            if (bad == NO_ERROR)
                cr_assert_eq(st, want_state, "%s: %s split %zu: state %u, want %u", what, im->name,
                             k, st, want_state);
        }
        st = LAPPS__UTF8_ACCEPT;
        for (size_t i = 0; i < n; i++) {
            rv = validate_placed(im, &st, p + i, 1);
            cr_assert_eq(rv, i == bad ? LAPPS_ERR_UTF8 : 0, "%s: %s byte %zu: rv %d", what,
                         im->name, i, rv);
            if (rv)
                break;
        }
        if (bad == NO_ERROR)
            cr_assert_eq(st, want_state, "%s: %s bytewise state", what, im->name);
    }
    cr_assert_geq(ran, test_expected_impls(), "only %d implementations ran", ran);
    return ran;
}

/* Paddings that put a case on either side of the 16-, 32- and 64-byte boundaries. */
static const size_t pads[] = {0,  1,  2,  3,  13, 14, 15, 16, 17, 29, 30, 31,
                              32, 33, 35, 61, 62, 63, 64, 65, 95, 96, 97};

/* check_bytes() on the case alone and embedded in ASCII and in multi-byte text. */
static void
check_case(const void *data, size_t n, const char *what)
{
    check_bytes(data, n, what);
    static const char *fill[] = {
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
        "abcdefghijklmnopqrstuvwxyz",
        "жжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжж",
        "語語語語語語語語語語語語語語語語語語語語語語語語語語語語語語語語語語語語",
        "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀",
    };
    uint8_t buf[400];
    for (size_t f = 0; f < sizeof fill / sizeof *fill; f++) {
        size_t flen = strlen(fill[f]);
        for (size_t i = 0; i < sizeof pads / sizeof *pads; i++) {
            /* The filler is cut at `pad` bytes; a cut inside a character is a case too,
             * and the reference judges it like any other. */
            size_t pad = pads[i] < flen ? pads[i] : flen;
            size_t tail = (i * 7) % 41;
            memcpy(buf, fill[f], pad);
            memcpy(buf + pad, data, n);
            memset(buf + pad + n, 'x', tail);
            check_bytes(buf, pad + n + tail, what);
        }
    }
}

#define CASE(s) check_case(s, sizeof s - 1, #s)

/* ---- Markus Kuhn's categories ---- */

Test(utf8, correct_text_in_many_scripts, .init = test_arena_init, .fini = test_arena_fini)
{
    CASE("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"); /* κόσμε */
    CASE("Γαζέες καὶ μυρτιὲς δὲν θὰ βρῶ πιὰ στὸ χρυσαφὶ ξέφωτο");
    CASE("Съешь же ещё этих мягких французских булок, да выпей чаю");
    CASE("我能吞下玻璃而不伤身体。私はガラスを食べられます。それは私を傷つけません。");
    CASE("나는 유리를 먹을 수 있어요. 그래도 아프지 않아요");
    CASE("أنا قادر على أكل الزجاج و هذا لا يؤلمني. אני יכול לאכול זכוכית וזה לא מזיק לי.");
    CASE("मैं काँच खा सकता हूँ और मुझे उससे कोई चोट नहीं पहुंचती. ฉันกินกระจกได้ แต่มันไม่ทำให้ฉันเจ็บ");
    CASE("∮ E⋅da = Q,  n → ∞, ∑ f(i) = ∏ g(i), ∀x∈ℝ: ⌈x⌉ = −⌊−x⌋, α ∧ ¬β = ¬(¬α ∨ β)");
    /* Gothic and other 4-byte forms; emoji with ZWJ sequences and flags */
    CASE("𐌰𐌽𐌰 𐍃𐌰 𐌼𐌹𐌽𐍃 𝄞 𝕏 🀄");
    CASE("🎉🚀👩‍👩‍👧‍👦 🇪🇺 😀😃😄");
    CASE("Falsches Üben von Xylophonmusik quält jeden größeren Zwerg; Ça fait peur à l'œil");
}

Test(utf8, boundary_code_points, .init = test_arena_init, .fini = test_arena_fini)
{
    CASE("\x00");             /* U+0000 */
    CASE("\x7f");             /* U+007F */
    CASE("\xc2\x80");         /* U+0080 */
    CASE("\xdf\xbf");         /* U+07FF */
    CASE("\xe0\xa0\x80");     /* U+0800 */
    CASE("\xef\xbf\xbf");     /* U+FFFF */
    CASE("\xf0\x90\x80\x80"); /* U+10000 */
    CASE("\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    CASE("\xed\x9f\xbf");     /* U+D7FF */
    CASE("\xee\x80\x80");     /* U+E000 */
    CASE("\xef\xbf\xbd");     /* U+FFFD */
    CASE("\xef\xbf\xbe");     /* U+FFFE: a noncharacter, but well-formed UTF-8 */
    /* A NUL inside text is valid UTF-8 too. */
    check_case("a\0b\0\0c", 6, "embedded NULs");
}

Test(utf8, beyond_u10ffff_and_impossible_bytes, .init = test_arena_init, .fini = test_arena_fini)
{
    CASE("\xf4\x90\x80\x80");         /* U+110000 */
    CASE("\xf4\xbf\xbf\xbf");         /* U+13FFFF */
    CASE("\xf5\x80\x80\x80");         /* F5 lead */
    CASE("\xf7\xbf\xbf\xbf");         /* U+1FFFFF in the old 4-byte form */
    CASE("\xf8\x88\x80\x80\x80");     /* 5-byte form */
    CASE("\xfb\xbf\xbf\xbf\xbf");     /* U+3FFFFFF */
    CASE("\xfc\x84\x80\x80\x80\x80"); /* 6-byte form */
    CASE("\xfd\xbf\xbf\xbf\xbf\xbf"); /* U+7FFFFFFF */
    CASE("\xfe");
    CASE("\xff");
    CASE("\xfe\xfe\xff\xff");
    for (unsigned b = 0xF5; b <= 0xFF; b++) {
        uint8_t s[4] = {(uint8_t)b, 0x80, 0x80, 0x80};
        check_case(s, 1, "F5..FF alone");
        check_case(s, 4, "F5..FF + continuations");
    }
}

Test(utf8, lone_continuation_bytes, .init = test_arena_init, .fini = test_arena_fini)
{
    CASE("\x80");
    CASE("\xbf");
    CASE("\x80\xbf");
    CASE("\x80\xbf\x80");
    CASE("\x80\xbf\x80\xbf");
    CASE("\x80\xbf\x80\xbf\x80\xbf\x80");
    CASE("a\x80");
    CASE("\xc3\xa9\x80");         /* one continuation too many */
    CASE("\xe2\x82\xac\xac");     /* after a complete 3-byte character */
    CASE("\xf0\x9f\x98\x80\x80"); /* after a complete 4-byte character */
    uint8_t all[64];
    for (int i = 0; i < 64; i++)
        all[i] = (uint8_t)(0x80 + i);
    check_case(all, sizeof all, "all 64 continuation bytes");
}

Test(utf8, lonely_start_bytes, .init = test_arena_init, .fini = test_arena_fini)
{
    /* Every start byte followed by a space, as in Kuhn's 3.2, and twice in a row. */
    for (unsigned b = 0xC0; b <= 0xFF; b++) {
        uint8_t s[4] = {(uint8_t)b, ' ', (uint8_t)b, ' '};
        check_case(s, 2, "start byte + space");
        check_case(s, 1, "start byte at the end");
    }
    uint8_t run[64];
    for (int i = 0; i < 32; i++) {
        run[2 * i] = (uint8_t)(0xC0 + i);
        run[2 * i + 1] = ' ';
    }
    check_case(run, sizeof run, "all 2-byte starts with spaces");
}

Test(utf8, sequences_missing_their_last_byte, .init = test_arena_init, .fini = test_arena_fini)
{
    /* Kuhn's 3.3, at the end of the text (incomplete: accepted, state not at a boundary)
     * and followed by more text (rejected at the byte after the cut). */
    static const char *cut[] = {
        "\xc2",         "\xdf",     "\xe0\xa0",     "\xe1\x80",     "\xed\x9f",
        "\xef\xbf",     "\xf0\x90", "\xf0\x90\x80", "\xf1\x80\x80", "\xf3\xbf\xbf",
        "\xf4\x8f\xbf", "\xe0",     "\xf4",         "\xc3",
    };
    uint8_t buf[16];
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        size_t n = strlen(cut[i]);
        check_case(cut[i], n, "truncated at the end");
        uint32_t st = LAPPS__UTF8_ACCEPT;
        cr_assert_eq(lapps__utf8_validate(&st, (const uint8_t *)cut[i], n), 0);
        cr_assert_not(lapps__utf8_complete(st), "case %zu", i);
        memcpy(buf, cut[i], n);
        buf[n] = 'A';
        check_case(buf, n + 1, "truncated, then ASCII");
        memcpy(buf + n, "\xc3\xa9", 2);
        check_case(buf, n + 2, "truncated, then a new character");
    }
    /* Kuhn's 3.4: all of them concatenated. */
    CASE("\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf");
    CASE("\xc2\xe1\x80\xf1\x80\x80");
}

Test(utf8, overlong_forms, .init = test_arena_init, .fini = test_arena_fini)
{
    /* '/' */
    CASE("\xc0\xaf");
    CASE("\xe0\x80\xaf");
    CASE("\xf0\x80\x80\xaf");
    CASE("\xf8\x80\x80\x80\xaf");
    CASE("\xfc\x80\x80\x80\x80\xaf");
    /* the largest overlong of each length */
    CASE("\xc1\xbf");
    CASE("\xe0\x9f\xbf");
    CASE("\xf0\x8f\xbf\xbf");
    CASE("\xf8\x87\xbf\xbf\xbf");
    CASE("\xfc\x83\xbf\xbf\xbf\xbf");
    /* NUL */
    CASE("\xc0\x80");
    CASE("\xe0\x80\x80");
    CASE("\xf0\x80\x80\x80");
    CASE("\xf8\x80\x80\x80\x80");
    CASE("\xfc\x80\x80\x80\x80\x80");
}

Test(utf8, surrogates, .init = test_arena_init, .fini = test_arena_fini)
{
    /* single */
    CASE("\xed\xa0\x80");
    CASE("\xed\xad\xbf");
    CASE("\xed\xae\x80");
    CASE("\xed\xaf\xbf");
    CASE("\xed\xb0\x80");
    CASE("\xed\xbe\x80");
    CASE("\xed\xbf\xbf");
    /* paired (CESU-8) */
    CASE("\xed\xa0\x80\xed\xb0\x80");
    CASE("\xed\xa0\x80\xed\xbf\xbf");
    CASE("\xed\xad\xbf\xed\xb0\x80");
    CASE("\xed\xad\xbf\xed\xbf\xbf");
    CASE("\xed\xae\x80\xed\xb0\x80");
    CASE("\xed\xae\x80\xed\xbf\xbf");
    CASE("\xed\xaf\xbf\xed\xb0\x80");
    CASE("\xed\xaf\xbf\xed\xbf\xbf");
}

Test(utf8, first_bad_byte_is_found_in_its_piece, .init = test_arena_init, .fini = test_arena_fini)
{
    /* "κόσμε" + ED A0 80 (a surrogate) + "edited": the error is the A0 after ED. */
    static const uint8_t s[] = {0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce,
                                0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64};
    int ran = 0;
    for (const struct lapps__utf8_impl *im = lapps__utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        uint32_t st = LAPPS__UTF8_ACCEPT;
        cr_assert_eq(validate_placed(im, &st, s, 12), 0, "%s: prefix through ED", im->name);
        cr_assert_not(lapps__utf8_complete(st));
        uint32_t copy = st;
        cr_assert_eq(validate_placed(im, &copy, s + 12, 1), LAPPS_ERR_UTF8, "%s: A0", im->name);
        cr_assert_eq(validate_placed(im, &st, s + 12, sizeof s - 12), LAPPS_ERR_UTF8, "%s: rest",
                     im->name);
        st = LAPPS__UTF8_ACCEPT;
        cr_assert_eq(validate_placed(im, &st, s, sizeof s), LAPPS_ERR_UTF8, "%s: whole", im->name);
    }
    cr_assert_geq(ran, test_expected_impls());
    check_case(s, sizeof s, "kosme + surrogate");
}

Test(utf8, dispatcher_uses_a_supported_implementation, .init = test_arena_init,
     .fini = test_arena_fini)
{
    uint32_t st = LAPPS__UTF8_ACCEPT;
    cr_assert_eq(lapps__utf8_validate(&st, test_place((const uint8_t *)"\xe2\x82", 2), 2), 0);
    cr_assert_eq(lapps__utf8_validate(&st, test_place((const uint8_t *)"\xac", 1), 1), 0);
    cr_assert(lapps__utf8_complete(st));
    cr_assert_eq(lapps__utf8_validate(&st, test_place((const uint8_t *)"\xc0\xaf", 2), 2),
                 LAPPS_ERR_UTF8);
    /* The list is ordered as the dispatcher expects: scalar first, and an AVX2 machine
     * (uncapped) has a vector implementation to use. */
    cr_assert_str_eq(lapps__utf8_impls[0].name, "scalar");
    cr_assert_eq(lapps__utf8_impls[0].needs, 0u);
    int usable = 0;
    for (const struct lapps__utf8_impl *im = lapps__utf8_impls; im->name; im++)
        usable += lapps__cpu_has(im->needs);
    cr_assert_geq(usable, test_expected_impls());
}

Test(utf8, dispatcher_shortcut_for_short_ascii, .init = test_arena_init, .fini = test_arena_fini)
{
    /* lapps__utf8_validate() answers short ASCII itself: it must agree with the scalar
     * validator for every short length, with one high byte at every position, and
     * never when a character is still open. */
    uint8_t in[40];
    static const uint8_t high[] = {0x80, 0xC3, 0xE2, 0xF0, 0xFF};
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t at = 0; at <= n; at++) {
            for (size_t h = 0; h < sizeof high; h++) {
                for (size_t i = 0; i < n; i++)
                    in[i] = (uint8_t)('a' + (i * 7 + n) % 26);
                if (at < n)
                    in[at] = high[h];
                static const char *before[] = {"", "\xc3", "\xe2\x82", "\xf0\x9f\x98"};
                for (size_t b = 0; b < 4; b++) {
                    uint32_t want = LAPPS__UTF8_ACCEPT, got = LAPPS__UTF8_ACCEPT;
                    size_t bn = strlen(before[b]);
                    cr_assert_eq(lapps__utf8_validate_scalar(&want, (const uint8_t *)before[b], bn),
                                 0);
                    cr_assert_eq(
                        lapps__utf8_validate(&got, test_place((const uint8_t *)before[b], bn), bn),
                        0);
                    int rv_want = lapps__utf8_validate_scalar(&want, in, n);
                    int rv = lapps__utf8_validate(&got, test_place(in, n), n);
                    cr_assert_eq(rv, rv_want, "n=%zu high byte at %zu, open %zu", n, at, b);
                    if (rv == 0)
                        cr_assert_eq(got, want, "n=%zu at %zu open %zu: state", n, at, b);
                }
            }
        }
    }
}

/* ---- random inputs: every implementation agrees with the scalar one ---- */

/* Fills p[0..n) with input of kind 0..4: ASCII, multi-byte text, mostly ASCII text,
 * text with one corrupted byte, random bytes. */
static void
random_input(uint8_t *p, size_t n, unsigned kind)
{
    switch (kind) {
    case 0:
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)(test_rnd() % 0x80);
        break;
    case 1:
        test_random_text(p, n, 20);
        break;
    case 2:
        test_random_text(p, n, 97);
        break;
    case 3:
        test_random_text(p, n, test_rnd() % 100);
        if (n)
            p[test_rnd() % n] = (uint8_t)test_rnd();
        break;
    default:
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)test_rnd();
        break;
    }
}

/* Validates p[0..n) in one call, and in two calls split at `split`, with every
 * implementation; all must agree with the reference, and the state with the scalar's. */
static int
compare_impls(const uint8_t *p, size_t n, size_t split, const char *what)
{
    bool complete;
    size_t bad = ref_first_bad(p, n, &complete);
    int want_rv = bad == NO_ERROR ? 0 : LAPPS_ERR_UTF8;
    uint32_t want_state = 0;
    int ran = 0;
    for (const struct lapps__utf8_impl *im = lapps__utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        ran++;
        uint32_t st = LAPPS__UTF8_ACCEPT;
        int rv = im->validate(&st, p, n);
        cr_assert_eq(rv, want_rv, "%s n=%zu: %s rv %d, first bad byte %zu", what, n, im->name, rv,
                     bad);
        if (rv == 0) {
            if (im == lapps__utf8_impls)
                want_state = st;
            cr_assert_eq(st, want_state, "%s n=%zu: %s state %u, scalar %u", what, n, im->name, st,
                         want_state);
            cr_assert_eq(lapps__utf8_complete(st), complete);
        }
        st = LAPPS__UTF8_ACCEPT;
        rv = im->validate(&st, p, split);
        cr_assert_eq(rv, bad != NO_ERROR && bad < split ? LAPPS_ERR_UTF8 : 0,
                     "%s n=%zu: %s first %zu bytes", what, n, im->name, split);
        if (rv == 0) {
            rv = im->validate(&st, p + split, n - split);
            cr_assert_eq(rv, want_rv, "%s n=%zu: %s split at %zu", what, n, im->name, split);
            if (rv == 0)
                cr_assert_eq(st, want_state, "%s n=%zu: %s split at %zu: state", what, n, im->name,
                             split);
        }
    }
    return ran;
}

Test(utf8, simd_equals_scalar_for_every_length_and_alignment, .init = test_arena_init,
     .fini = test_arena_fini)
{
    uint8_t *buf = aligned_alloc(64, 512);
    uint8_t in[320];
    int ran = 0;
    for (unsigned kind = 0; kind < 5; kind++) {
        for (size_t n = 0; n <= 300; n++) {
            for (size_t align = 0; align < 64; align++) {
                random_input(in, n, kind);
                memcpy(buf + align, in, n);
                size_t split = n ? test_rnd() % (n + 1) : 0;
                int r = compare_impls(buf + align, n, split, "aligned");
                ran = r > ran ? r : ran;
            }
            /* and flush against the guard page */
            compare_impls(test_place(in, n), n, n / 2, "guarded");
        }
    }
    free(buf);
    cr_assert_geq(ran, test_expected_impls());
}

Test(utf8, long_texts_with_errors_at_block_boundaries, .init = test_arena_init,
     .fini = test_arena_fini)
{
    enum { N = 65536 };
    uint8_t *text = malloc(N), *t = malloc(N);
    static const uint8_t bad_bytes[] = {0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0,
                                        0xF4, 0xF5, 0xFF, 0x41, 0xA0, 0x90};
    static const unsigned ascii_percent[] = {0, 20, 90, 99, 100};
    int ran = 0;
    for (size_t v = 0; v < sizeof ascii_percent / sizeof *ascii_percent; v++) {
        test_random_text(text, N, ascii_percent[v]);
        int r = compare_impls(text, N, test_rnd() % N, "valid 64 KiB");
        ran = r > ran ? r : ran;
        /* Positions around 16/32/64-byte block boundaries, near both ends, and random. */
        size_t pos[80], np = 0;
        static const size_t fixed[] = {0,  1,  2,  3,  15, 16, 17, 29,  30,  31,   32,   33,
                                       34, 35, 63, 64, 65, 95, 96, 127, 128, 4095, 4096, 4097};
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
            pos[np++] = fixed[i];
        for (size_t i = 1; i <= 35; i++)
            pos[np++] = N - i;
        while (np < sizeof pos / sizeof *pos)
            pos[np++] = test_rnd() % N;
        for (size_t i = 0; i < np; i++) {
            for (size_t b = 0; b < sizeof bad_bytes; b++) {
                memcpy(t, text, N);
                t[pos[i]] = bad_bytes[b];
                /* Split before, at and after the error, and somewhere else. */
                compare_impls(t, N, pos[i], "corrupted");
                compare_impls(t, N, pos[i] + 1, "corrupted");
                compare_impls(t, N, pos[i] > 3 ? pos[i] - 3 : 0, "corrupted");
            }
        }
        /* A character left open just before an ASCII run that starts on each offset of a
         * 64-byte chunk: the vector code skips ASCII runs, so the run's start is where it
         * must look back. */
        for (size_t at = 4096; at < 4096 + 70; at++) {
            for (size_t len = 1; len <= 3; len++) {
                memcpy(t, text, N);
                memset(t + at, 'a', 512);
                static const uint8_t open[3][3] = {{0xC3}, {0xE2, 0x82}, {0xF0, 0x9F, 0x98}};
                memcpy(t + at - len, open[len - 1], len);
                compare_impls(t, N, test_rnd() % N, "open character before ASCII");
            }
        }
    }
    free(text);
    free(t);
    cr_assert_geq(ran, test_expected_impls());
}

Test(utf8, long_text_fed_in_random_pieces)
{
    enum { N = 1 << 18 };
    uint8_t *text = malloc(N);
    test_random_text(text, N, 50);
    bool complete;
    cr_assert_eq(ref_first_bad(text, N, &complete), NO_ERROR);
    for (const struct lapps__utf8_impl *im = lapps__utf8_impls; im->name; im++) {
        if (!lapps__cpu_has(im->needs))
            continue;
        uint32_t whole = LAPPS__UTF8_ACCEPT, st = LAPPS__UTF8_ACCEPT;
        cr_assert_eq(im->validate(&whole, text, N), 0);
        for (size_t i = 0; i < N;) {
            size_t k = test_rnd() % 200;
            k = k > N - i ? N - i : k;
            cr_assert_eq(im->validate(&st, text + i, k), 0, "%s at %zu+%zu", im->name, i, k);
            i += k;
        }
        cr_assert_eq(st, whole, "%s", im->name);
        cr_assert_eq(lapps__utf8_complete(st), complete);
    }
    free(text);
}
