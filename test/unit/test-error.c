/* Tests for lib/error.c: the error list, its names and descriptions. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <lapps/error.h>

Test(error, every_code_has_a_distinct_name_and_text)
{
    static const struct {
        int code;
        const char *name;
    } all[] = {
#define ROW(name, value, text) {value, "LAPPS_ERR_" #name},
        LAPPS_ERR_MAP(ROW)
#undef ROW
    };
    size_t n = sizeof all / sizeof all[0];
    cr_assert_gt(n, 5);
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(all[i].code, -4096, "%s overlaps errno values", all[i].name);
        cr_assert_str_eq(lapps_err_name(all[i].code), all[i].name);
        cr_assert_str_neq(lapps_strerror(all[i].code), "unknown error");
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(all[i].code, all[j].code, "%s and %s share a code", all[i].name,
                          all[j].name);
    }
}

Test(error, errno_values_pass_through)
{
    cr_assert_str_eq(lapps_err_name(-ECONNRESET), "ECONNRESET");
    cr_assert_str_eq(lapps_strerror(-ENOMEM), "Cannot allocate memory");
    cr_assert_str_eq(lapps_err_name(0), "OK");
}

Test(error, unknown_codes_are_named_so)
{
    cr_assert_str_eq(lapps_err_name(-4999), "UNKNOWN");
    cr_assert_str_eq(lapps_strerror(-4999), "unknown error");
    cr_assert_str_eq(lapps_err_name(12345), "UNKNOWN");
    cr_assert_str_eq(lapps_strerror(-100000), "unknown error");
}

Test(error, fatal_codes)
{
    cr_assert(lapps_is_fatal(LAPPS_ERR_NOMEM));
    cr_assert(lapps_is_fatal(LAPPS_ERR_FATAL));
    cr_assert_not(lapps_is_fatal(LAPPS_ERR_PROTO));
    cr_assert_not(lapps_is_fatal(-ENOMEM));
    cr_assert_not(lapps_is_fatal(0));
}
