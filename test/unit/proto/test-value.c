/* Tests for lib/proto/value.c and build.c: the public value API — reading every type
 * with its range rules, building (and what happens to moved values on error), copies,
 * equality, and lapps_value_to_cbor/from_cbor. Leaks show under the ASan build. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <lapps/error.h>
#include <lapps/value.h>

Test(value, integers_read_within_their_ranges)
{
    int64_t i;
    uint64_t u;
    int neg;
    lapps_value *v = lapps_value_int(-5);
    cr_assert_eq(lapps_value_get_int(v, &i), 0);
    cr_assert_eq(i, -5);
    cr_assert_eq(lapps_value_get_uint(v, &u), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_value_get_cbor_int(v, &neg, &u), 0);
    cr_assert(neg && u == 4);
    lapps_value_free(v);
    v = lapps_value_int(INT64_MIN);
    cr_assert_eq(lapps_value_get_int(v, &i), 0);
    cr_assert_eq(i, INT64_MIN);
    lapps_value_free(v);
    v = lapps_value_uint(UINT64_MAX);
    cr_assert_eq(lapps_value_get_int(v, &i), LAPPS_ERR_TOO_BIG);
    cr_assert_eq(lapps_value_get_uint(v, &u), 0);
    cr_assert_eq(u, UINT64_MAX);
    double d;
    cr_assert_eq(lapps_value_get_double(v, &d), 0);
    cr_assert_eq(d, 18446744073709551615.0);
    cr_assert_eq(lapps_value_type_of(v), LAPPS_VALUE_INT);
    lapps_value_free(v);
    /* -2^64, the smallest CBOR integer, only through the CBOR view. */
    const uint8_t min[] = {0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(lapps_value_from_cbor(min, sizeof min, &v), 0);
    cr_assert_eq(lapps_value_get_int(v, &i), LAPPS_ERR_TOO_BIG);
    cr_assert_eq(lapps_value_get_cbor_int(v, &neg, &u), 0);
    cr_assert(neg && u == UINT64_MAX);
    lapps_value_free(v);
}

Test(value, wrong_type_reads_are_inval)
{
    lapps_value *v = lapps_value_text("x", (size_t)-1);
    int b;
    int64_t i;
    double d;
    cr_assert_eq(lapps_value_get_bool(v, &b), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_value_get_int(v, &i), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_value_get_double(v, &d), LAPPS_ERR_INVAL);
    cr_assert_null(lapps_value_at(v, 0));
    cr_assert_null(lapps_value_get(v, "x"));
    cr_assert_eq(lapps_value_size(v), 1);
    cr_assert(lapps_value_text_is(v, "x"));
    cr_assert_not(lapps_value_text_is(v, "xy"));
    cr_assert_eq(lapps_value_type_of(NULL), LAPPS_VALUE_NULL);
    lapps_value_free(v);
    cr_assert_null(lapps_value_text("\xc3\x28", (size_t)-1), "invalid UTF-8 is refused");
}

Test(value, build_every_format)
{
    const uint8_t raw[] = {0, 1, 2};
    lapps_value *inner = lapps_value_build("[b]", 1);
    lapps_value *v =
        lapps_value_build("{s: n, s: b, s: i, s: U, s: f, s: s, s: s#, s: y#, s: o, "
                          "s: [], s: {}}",
                          "n", "b", 0, "i", -7, "U", (uint64_t)UINT64_MAX, "f", 2.5, "s", "text",
                          "s#", "abc", (size_t)2, "y#", raw, sizeof raw, "o", inner, "a", "m");
    cr_assert_not_null(v);
    cr_assert_eq(lapps_value_size(v), 11);
    cr_assert_eq(lapps_value_type_of(lapps_value_get(v, "n")), LAPPS_VALUE_NULL);
    int b = 1;
    cr_assert_eq(lapps_value_get_bool(lapps_value_get(v, "b"), &b), 0);
    cr_assert_eq(b, 0);
    int64_t i;
    cr_assert_eq(lapps_value_get_int(lapps_value_get(v, "i"), &i), 0);
    cr_assert_eq(i, -7);
    cr_assert(lapps_value_text_is(lapps_value_get(v, "s#"), "ab"));
    size_t n;
    const uint8_t *p = lapps_value_get_bytes(lapps_value_get(v, "y#"), &n);
    cr_assert(n == 3 && memcmp(p, raw, 3) == 0);
    const lapps_value *o = lapps_value_get(v, "o");
    cr_assert_eq(lapps_value_get_bool(lapps_value_at(o, 0), &b), 0);
    cr_assert_eq(b, 1);
    cr_assert(lapps_value_text_is(lapps_value_key_at(v, 0), "n"));
    cr_assert_eq(lapps_value_type_of(lapps_value_value_at(v, 10)), LAPPS_VALUE_MAP);
    cr_assert_null(lapps_value_key_at(v, 11));
    lapps_value_free(v);
}

/* A failing build frees the values it was to move (ASan reports any leak). */
Test(value, failed_build_frees_moved_values)
{
    lapps_value *a = lapps_value_int(1), *b = lapps_value_int(2);
    cr_assert_null(lapps_value_build("[o, s, o]", a, "\xff", b));
    cr_assert_null(lapps_value_build("[i", 1));
    cr_assert_null(lapps_value_build("{s}", "k"));
    cr_assert_null(lapps_value_build("i I", 1, (int64_t)2));
    cr_assert_null(lapps_value_build("q"));
    lapps_value *c = lapps_value_int(3);
    cr_assert_null(lapps_value_build("[x, o]", c));
    /* append and put take ownership even when they fail */
    lapps_value *arr = lapps_value_array(), *m = lapps_value_map();
    cr_assert_eq(lapps_value_append(m, lapps_value_int(1)), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_value_put(arr, lapps_value_int(1), lapps_value_int(2)), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_value_set(m, NULL, lapps_value_int(1)), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_value_append(arr, NULL), LAPPS_ERR_INVAL);
    lapps_value_free(arr);
    lapps_value_free(m);
}

Test(value, copy_equal_and_cbor_round_trip)
{
    lapps_value *v = lapps_value_build("[I, U, f, f, s, y#, [n, b, {s: [i]}], {i: s}]", (int64_t)-1,
                                       (uint64_t)1 << 40, 1.1, NAN, "t\xc3\xa9", "\0\1", (size_t)2,
                                       1, "k", 9, 3, "v");
    cr_assert_not_null(v);
    lapps_value *c = lapps_value_copy(v);
    cr_assert(lapps_value_equal(v, c));
    uint8_t buf[256];
    size_t need = 0;
    cr_assert_eq(lapps_value_to_cbor(v, buf, 4, &need), LAPPS_ERR_NOSPACE);
    cr_assert_gt(need, 4);
    lapps_ssize n = lapps_value_to_cbor(v, buf, sizeof buf, NULL);
    cr_assert_eq((size_t)n, need);
    lapps_value *back;
    cr_assert_eq(lapps_value_from_cbor(buf, (size_t)n, &back), 0);
    cr_assert(lapps_value_equal(v, back));
    /* Any change is seen. */
    lapps_value *d = lapps_value_build("[i]", 1), *e = lapps_value_build("[U]", (uint64_t)1);
    cr_assert(lapps_value_equal(d, e), "int and uint of the same value are equal");
    cr_assert_not(lapps_value_equal(v, d));
    cr_assert_eq(lapps_value_from_cbor(buf, (size_t)n - 1, &back), LAPPS_ERR_PROTO);
    lapps_value_free(v);
    lapps_value_free(c);
    lapps_value_free(back);
    lapps_value_free(d);
    lapps_value_free(e);
}
