/* Tests for lib/util/base64.c: RFC 4648 vectors both ways, the strictness of the
 * decoder (alphabet, padding, canonical bits, lengths), bounded output, and SHA-1. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "guard.h"
#include "util/base64.h"

/* RFC 4648 §10. */
static const struct {
    const char *raw;
    const char *enc;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

/* Decodes text placed flush against a guard page into an output buffer of exactly cap
 * bytes, also flush against one, so neither side can be overrun unnoticed. */
static lapps_ssize
decode(const char *text, size_t n, uint8_t *res, size_t cap)
{
    static const uint8_t zeros[512];
    cr_assert_leq(cap, sizeof zeros);
    uint8_t *in = guard_copy(text, n);
    uint8_t *out = guard_copy(zeros, cap);
    lapps_ssize rv = lapps__base64_decode((const char *)in, n, out, cap);
    if (rv > 0)
        memcpy(res, out, (size_t)rv);
    guard_free(out);
    guard_free(in);
    return rv;
}

static lapps_ssize
decode_str(const char *text, uint8_t *res, size_t cap)
{
    return decode(text, strlen(text), res, cap);
}

Test(base64, rfc4648_vectors_encode)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char out[16];
        memset(out, 'x', sizeof out);
        size_t n =
            lapps__base64_encode((const uint8_t *)vectors[i].raw, strlen(vectors[i].raw), out);
        cr_assert_eq(n, strlen(vectors[i].enc), "vector %zu", i);
        cr_assert_str_eq(out, vectors[i].enc, "vector %zu", i);
    }
}

Test(base64, rfc4648_vectors_decode)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t out[16];
        size_t want = strlen(vectors[i].raw);
        lapps_ssize n = decode_str(vectors[i].enc, out, want);
        cr_assert_eq(n, (lapps_ssize)want, "vector %zu: %td", i, n);
        cr_assert(memcmp(out, vectors[i].raw, want) == 0, "vector %zu", i);
    }
}

Test(base64, every_byte_value_and_length_round_trips)
{
    uint8_t raw[300], back[300];
    char enc[410];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof raw; n++) {
        size_t m = lapps__base64_encode(raw, n, enc);
        cr_assert_eq(m, 4 * ((n + 2) / 3));
        cr_assert_eq(enc[m], '\0');
        cr_assert_eq(decode(enc, m, back, n), (lapps_ssize)n, "length %zu", n);
        cr_assert(memcmp(raw, back, n) == 0, "length %zu", n);
    }
}

Test(base64, high_and_low_bits_decode_exactly)
{
    uint8_t out[3];
    cr_assert_eq(decode_str("////", out, 3), 3);
    cr_assert(out[0] == 0xFF && out[1] == 0xFF && out[2] == 0xFF);
    cr_assert_eq(decode_str("AAAA", out, 3), 3);
    cr_assert(out[0] == 0 && out[1] == 0 && out[2] == 0);
    cr_assert_eq(decode_str("+/8=", out, 3), 2);
    cr_assert(out[0] == 0xFB && out[1] == 0xFF);
}

Test(base64, rejects_characters_outside_the_alphabet)
{
    static const char *bad[] = {
        "Zm9v!mFy", "Zm9v YmFy", "Zm9vYmF\n",   "Zm9v\tmFy",   "Zm9vYmF-",
        "Zm9vYmF_", "Zm9vYmF.",  "Zm9vYmF\x80", "Zm9vYmF\xff", "Zm9v,mFy",
    };
    uint8_t out[16];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(decode_str(bad[i], out, sizeof out), LAPPS_ERR_INVAL, "%s", bad[i]);
    /* A NUL inside the text is a character like any other, and not in the alphabet. */
    cr_assert_eq(decode("Zm9v\0mFy", 8, out, sizeof out), LAPPS_ERR_INVAL);
}

Test(base64, rejects_bad_padding)
{
    static const char *bad[] = {
        "Zg=",       /* wrong length */
        "Zg",        /* padding missing */
        "Zm8",       /* padding missing */
        "Z===",      /* too much padding */
        "====",      /* padding only */
        "Zg==Zg==",  /* padding in the middle */
        "Zm=v",      /* '=' before data */
        "Z=g=",      /* '=' before data */
        "=Zg=",      /* '=' first */
        "Zm9vYg=",   /* wrong length */
        "Zm9vYg===", /* wrong length, too much padding */
    };
    uint8_t out[16];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(decode_str(bad[i], out, sizeof out), LAPPS_ERR_INVAL, "%s", bad[i]);
}

Test(base64, rejects_non_canonical_trailing_bits)
{
    uint8_t out[16];
    /* "Zg==" is 'f'; "Zh==" .. "Zv==" carry bits under the padding. */
    cr_assert_eq(decode_str("Zg==", out, sizeof out), 1);
    cr_assert_eq(decode_str("Zh==", out, sizeof out), LAPPS_ERR_INVAL);
    cr_assert_eq(decode_str("Zv==", out, sizeof out), LAPPS_ERR_INVAL);
    cr_assert_eq(decode_str("Zm8=", out, sizeof out), 2);
    cr_assert_eq(decode_str("Zm9=", out, sizeof out), LAPPS_ERR_INVAL);
    cr_assert_eq(decode_str("Zm/=", out, sizeof out), LAPPS_ERR_INVAL);
    /* The RFC 6455 example key, then the same with one non-zero bit in the tail. */
    cr_assert_eq(decode_str("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof out), 16);
    cr_assert_eq(decode_str("dGhlIHNhbXBsZSBub25jZR==", out, sizeof out), LAPPS_ERR_INVAL);
}

Test(base64, rejects_lengths_that_are_not_multiples_of_four)
{
    uint8_t out[16];
    static const char *bad[] = {"Z", "Zm", "Zm9", "Zm9vY", "Zm9vYm", "Zm9vYmF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(decode_str(bad[i], out, sizeof out), LAPPS_ERR_INVAL, "%s", bad[i]);
}

Test(base64, nospace_at_every_capacity_below_the_need)
{
    uint8_t out[16];
    for (size_t i = 1; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t need = strlen(vectors[i].raw);
        for (size_t cap = 0; cap < need; cap++)
            cr_assert_eq(decode_str(vectors[i].enc, out, cap), LAPPS_ERR_NOSPACE,
                         "vector %zu cap %zu", i, cap);
        cr_assert_eq(decode_str(vectors[i].enc, out, need), (lapps_ssize)need);
    }
}

Test(base64, malformed_text_is_inval_whatever_the_capacity)
{
    uint8_t out[1];
    cr_assert_eq(decode_str("Zm9v!mFy", out, 0), LAPPS_ERR_INVAL);
    cr_assert_eq(decode_str("Zm9=", out, 0), LAPPS_ERR_INVAL);
    cr_assert_eq(decode_str("Zm9", out, 0), LAPPS_ERR_INVAL);
}

static void
hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

Test(sha1, fips_vectors_however_the_input_is_split)
{
    uint8_t d[20];
    char h[41];
    cr_assert_eq(lapps__sha1_2("", 0, "", 0, d), 0);
    hex(d, 20, h);
    cr_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    const char *abc = "abc";
    for (size_t k = 0; k <= 3; k++) {
        cr_assert_eq(lapps__sha1_2(abc, k, abc + k, 3 - k, d), 0);
        hex(d, 20, h);
        cr_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d", "split at %zu", k);
    }
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cr_assert_eq(lapps__sha1_2(m, 20, m + 20, strlen(m) - 20, d), 0);
    hex(d, 20, h);
    cr_assert_str_eq(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

Test(sha1, long_inputs_take_the_streaming_path)
{
    size_t n = 1000000;
    char *a = malloc(n);
    cr_assert_not_null(a);
    memset(a, 'a', n);
    uint8_t d[20];
    char h[41];
    cr_assert_eq(lapps__sha1_2(a, 300, a, n - 300, d), 0);
    hex(d, 20, h);
    cr_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    cr_assert_eq(lapps__sha1_2(a, n, a, 0, d), 0);
    hex(d, 20, h);
    cr_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(a);
}
