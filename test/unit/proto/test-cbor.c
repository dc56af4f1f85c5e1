/* Tests for lib/proto/cbor.c: decoding with the protocol's limits and encoding in the
 * shortest form. Byte sequences come from RFC 8949 Appendix A where it has them. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lapps/error.h>

#include "proto/cbor.h"

static struct lapps__arena arena;

static void
setup(void)
{
    lapps__arena_init(&arena, 1024);
}

static void
teardown(void)
{
    lapps__arena_free(&arena);
}

TestSuite(cbor, .init = setup, .fini = teardown);

/* Decodes hex; returns the status, and the value in *out. */
static int
decode_hex(const char *hex, struct lapps_value **out)
{
    static uint8_t buf[128 << 10];
    size_t n = strlen(hex) / 2;
    cr_assert_leq(n, sizeof buf);
    for (size_t i = 0; i < n; i++) {
        unsigned x;
        sscanf(hex + 2 * i, "%2x", &x);
        buf[i] = (uint8_t)x;
    }
    lapps__arena_reset(&arena);
    struct lapps_value *v = NULL;
    int rv = lapps__cbor_decode(&arena, buf, n, &v);
    if (out)
        *out = v;
    return rv;
}

static void
encode_is(const struct lapps_value *v, const char *hex)
{
    struct lapps__wbuf b = {0};
    cr_assert_eq(lapps__cbor_encode(&b, v), 0);
    char got[512] = "";
    for (size_t i = 0; i < b.len && 2 * i + 2 < sizeof got; i++)
        snprintf(got + 2 * i, 3, "%02x", b.p[i]);
    cr_assert_str_eq(got, hex);
    lapps__wbuf_free(&b);
}

Test(cbor, integers_the_whole_range)
{
    static const struct {
        const char *hex;
        int neg;
        uint64_t u;
    } cases[] = {
        {"00", 0, 0},
        {"17", 0, 23},
        {"1818", 0, 24},
        {"18ff", 0, 255},
        {"190100", 0, 256},
        {"1a000f4240", 0, 1000000},
        {"1b000000e8d4a51000", 0, 1000000000000ull},
        {"1bffffffffffffffff", 0, UINT64_MAX},
        {"20", 1, 0},
        {"3863", 1, 99},
        {"3bffffffffffffffff", 1, UINT64_MAX}, /* -2^64 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lapps_value *v;
        cr_assert_eq(decode_hex(cases[i].hex, &v), 0, "%s", cases[i].hex);
        cr_assert_eq(v->type, LAPPS_VALUE_INT);
        cr_assert_eq(v->neg, cases[i].neg, "%s", cases[i].hex);
        cr_assert_eq(v->u, cases[i].u, "%s", cases[i].hex);
        encode_is(v, cases[i].hex);
    }
    /* A non-shortest form decodes; it is re-encoded in the shortest. */
    struct lapps_value *v;
    cr_assert_eq(decode_hex("1b0000000000000001", &v), 0);
    encode_is(v, "01");
}

Test(cbor, floats_keep_their_value)
{
    struct lapps_value *v;
    cr_assert_eq(decode_hex("f93c00", &v), 0); /* half 1.0 */
    cr_assert_eq(v->type, LAPPS_VALUE_FLOAT);
    cr_assert_eq(v->d, 1.0);
    encode_is(v, "fa3f800000");
    cr_assert_eq(decode_hex("fb3ff199999999999a", &v), 0); /* 1.1 */
    cr_assert_eq(v->d, 1.1);
    encode_is(v, "fb3ff199999999999a");
    cr_assert_eq(decode_hex("fa7f800000", &v), 0);
    cr_assert(isinf(v->d));
    cr_assert_eq(decode_hex("f97e00", &v), 0);
    cr_assert(isnan(v->d));
    encode_is(v, "f97e00");
}

Test(cbor, strings_arrays_maps_and_simple_values)
{
    struct lapps_value *v;
    cr_assert_eq(decode_hex("6449455446", &v), 0);
    cr_assert_eq(v->type, LAPPS_VALUE_TEXT);
    cr_assert_eq(v->n, 4);
    cr_assert_eq(memcmp(v->s, "IETF", 4), 0);
    cr_assert_eq(decode_hex("4401020304", &v), 0);
    cr_assert_eq(v->type, LAPPS_VALUE_BYTES);
    cr_assert_eq(decode_hex("62c3bc", &v), 0); /* "ü" */
    cr_assert_eq(decode_hex("a201020304", &v), 0);
    cr_assert_eq(v->type, LAPPS_VALUE_MAP);
    cr_assert_eq(v->n, 2);
    cr_assert_eq(v->items[3].u, 4);
    encode_is(v, "a201020304");
    cr_assert_eq(decode_hex("8301820203820405", &v), 0);
    cr_assert_eq(v->n, 3);
    cr_assert_eq(v->items[2].items[1].u, 5);
    encode_is(v, "8301820203820405");
    cr_assert_eq(decode_hex("80", &v), 0);
    cr_assert_eq(v->n, 0);
    cr_assert_eq(decode_hex("a0", &v), 0);
    cr_assert_eq(decode_hex("f4", &v), 0);
    cr_assert(v->type == LAPPS_VALUE_BOOL && !v->b);
    cr_assert_eq(decode_hex("f5", &v), 0);
    cr_assert(v->b);
    cr_assert_eq(decode_hex("f6", &v), 0);
    cr_assert_eq(v->type, LAPPS_VALUE_NULL);
}

Test(cbor, indefinite_lengths_decode_like_definite_ones)
{
    struct lapps_value *v;
    cr_assert_eq(decode_hex("9f018202039f0405ffff", &v), 0);
    encode_is(v, "8301820203820405");
    cr_assert_eq(decode_hex("bf61610161629f0203ffff", &v), 0);
    encode_is(v, "a26161016162820203");
    cr_assert_eq(decode_hex("7f657374726561646d696e67ff", &v), 0);
    encode_is(v, "6973747265616d696e67");
    cr_assert_eq(decode_hex("5f42010243030405ff", &v), 0);
    encode_is(v, "450102030405");
    cr_assert_eq(decode_hex("5fff", &v), 0);
    encode_is(v, "40");
}

/* Every class of malformed input and the answer it gets. */
Test(cbor, malformed_input_is_refused)
{
    static const struct {
        const char *hex, *what;
        int rv;
    } bad[] = {
        {"", "empty", LAPPS_ERR_PROTO},
        {"18", "truncated argument", LAPPS_ERR_PROTO},
        {"1a0000", "truncated argument", LAPPS_ERR_PROTO},
        {"6449", "truncated text", LAPPS_ERR_PROTO},
        {"8301", "truncated array", LAPPS_ERR_PROTO},
        {"a201", "truncated map", LAPPS_ERR_PROTO},
        {"9f01", "indefinite array without break", LAPPS_ERR_PROTO},
        {"ff", "break outside an indefinite item", LAPPS_ERR_PROTO},
        {"8201ff", "break inside a definite array", LAPPS_ERR_PROTO},
        {"bf01ff", "indefinite map with a key and no value", LAPPS_ERR_PROTO},
        {"7f01ff", "an integer inside an indefinite text", LAPPS_ERR_PROTO},
        {"7f4101ff", "bytes inside an indefinite text", LAPPS_ERR_PROTO},
        {"7f7fffff", "an indefinite text inside one", LAPPS_ERR_PROTO},
        {"1c", "reserved additional information", LAPPS_ERR_PROTO},
        {"1f", "indefinite integer", LAPPS_ERR_PROTO},
        {"62c328", "invalid UTF-8 text", LAPPS_ERR_PROTO},
        {"a162c32801", "invalid UTF-8 key", LAPPS_ERR_PROTO},
        {"0101", "trailing bytes", LAPPS_ERR_PROTO},
        {"9a08000000"
         "01",
         "2^27 items declared in 6 bytes", LAPPS_ERR_PROTO},
        {"9bffffffffffffffff", "2^64-1 items declared", LAPPS_ERR_PROTO},
        {"ba00100000"
         "0102",
         "2^20 pairs declared", LAPPS_ERR_PROTO},
        {"5affffffff", "a 4 GiB byte string declared", LAPPS_ERR_PROTO},
        {"7b7fffffffffffffff", "a 2^63-byte text declared", LAPPS_ERR_PROTO},
        {"c11a514b67b0", "a tag", LAPPS_ERR_INVAL},
        {"82c10001", "a tag inside an array", LAPPS_ERR_INVAL},
        {"f7", "undefined", LAPPS_ERR_INVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = decode_hex(bad[i].hex, NULL);
        cr_assert_eq(rv, bad[i].rv, "%s (%s): %d", bad[i].what, bad[i].hex, rv);
    }
}

/* A lying length is refused before anything is allocated for it: the arena holds only
 * its first block (1 KiB) afterwards, where 2^27 items would have taken 4 GiB. A true
 * length of the same shape is allocated. */
Test(cbor, declared_lengths_are_checked_before_allocation)
{
    static const uint8_t lies[][9] = {
        {0x9a, 0x08, 0x00, 0x00, 0x00, 0x01},                   /* array, 2^27 */
        {0xba, 0x08, 0x00, 0x00, 0x00, 0x01, 0x01},             /* map, 2^27 pairs */
        {0x82, 0x9a, 0x00, 0x10, 0x00, 0x00, 0x01, 0x02},       /* nested array */
        {0x5b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00}, /* 64 GiB bytes */
    };
    static const size_t lens[] = {6, 7, 8, 9};
    for (size_t i = 0; i < 4; i++) {
        struct lapps__arena a;
        lapps__arena_init(&a, 1024);
        struct lapps_value *v;
        cr_assert_eq(lapps__cbor_decode(&a, lies[i], lens[i], &v), LAPPS_ERR_PROTO, "case %zu", i);
        cr_assert_leq(lapps__arena_bytes(&a), 1024, "case %zu: %zu bytes", i,
                      lapps__arena_bytes(&a));
        lapps__arena_free(&a);
    }
    /* 100 items in 101 bytes: accepted, and allocated (more than the first block). */
    uint8_t ok[102] = {0x98, 100};
    struct lapps__arena a;
    lapps__arena_init(&a, 1024);
    struct lapps_value *v;
    cr_assert_eq(lapps__cbor_decode(&a, ok, sizeof ok, &v), 0);
    cr_assert_eq(v->n, 100);
    cr_assert_gt(lapps__arena_bytes(&a), 1024);
    lapps__arena_free(&a);
}

Test(cbor, nesting_is_limited_to_64)
{
    char hex[2 * 200 + 3];
    for (int depth = 63; depth <= 66; depth++) {
        for (int i = 0; i < depth; i++)
            memcpy(hex + 2 * i, "81", 2);
        memcpy(hex + 2 * depth, "00", 3);
        int rv = decode_hex(hex, NULL);
        if (depth <= 64)
            cr_assert_eq(rv, 0, "depth %d", depth);
        else
            cr_assert_eq(rv, LAPPS_ERR_PROTO, "depth %d", depth);
    }
    /* Far deeper input costs no stack: the decoder is not recursive. */
    static char deep[2 * 100000 + 3];
    for (int i = 0; i < 100000; i++)
        memcpy(deep + 2 * i, "9f", 2);
    memcpy(deep + 2 * 100000, "00", 3);
    cr_assert_eq(decode_hex(deep, NULL), LAPPS_ERR_PROTO);
}

/* Every proper prefix of a valid message is incomplete, never a crash or a success. */
Test(cbor, every_prefix_of_a_message_is_refused)
{
    uint8_t msg[] = {0xa3, 0x65, 'l',  'a',  'p',  'p',  's',  0x01, 0x66, 'm',  'e', 't', 'h',
                     'o',  'd',  0x63, 'a',  'd',  'd',  0x66, 'p',  'a',  'r',  'a', 'm', 's',
                     0x82, 0x01, 0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct lapps_value *v;
    for (size_t n = 0; n < sizeof msg; n++) {
        lapps__arena_reset(&arena);
        cr_assert_eq(lapps__cbor_decode(&arena, msg, n, &v), LAPPS_ERR_PROTO, "prefix %zu", n);
    }
    lapps__arena_reset(&arena);
    cr_assert_eq(lapps__cbor_decode(&arena, msg, sizeof msg, &v), 0);
}
