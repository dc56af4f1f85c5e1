/* Tests for lib/version.c: the run-time version check. */
#include <criterion/criterion.h>
#include <stdio.h>

#include <lapps/version.h>

Test(version, matches_the_headers)
{
    const lapps_info *i = lapps_version(0);
    cr_assert_not_null(i);
    cr_assert_eq(i->version_num, LAPPS_VERSION_HEX);
    cr_assert_str_eq(i->version_str, LAPPS_VERSION_STRING);
    cr_assert_geq(i->age, 1);
    char s[32];
    snprintf(s, sizeof s, "%d.%d.%d", LAPPS_VERSION_MAJOR, LAPPS_VERSION_MINOR,
             LAPPS_VERSION_PATCH);
    cr_assert_str_eq(s, LAPPS_VERSION_STRING);
}

Test(version, refuses_a_newer_requirement)
{
    cr_assert_not_null(lapps_version(LAPPS_VERSION_HEX));
    cr_assert_null(lapps_version(LAPPS_VERSION_HEX + 1));
    cr_assert_null(lapps_version(0x7fffffff));
}
