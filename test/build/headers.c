/* Compiled with -std=c99 -pedantic -Werror: the public headers must be clean C99,
 * self-contained (each one first in its own inclusion order) and consistent at run time. */
#include <lapps/error.h>
#include <lapps/version.h>
#include <lapps/common.h>
#include <lapps/lapps.h>

#include <stdio.h>
#include <string.h>

int
main(void)
{
    const lapps_info *info = lapps_version(LAPPS_VERSION_HEX);
    if (info == NULL || info->version_num != LAPPS_VERSION_HEX ||
        strcmp(info->version_str, LAPPS_VERSION_STRING) != 0) {
        fprintf(stderr, "headers and library disagree on the version\n");
        return 1;
    }
    if (strcmp(lapps_err_name(LAPPS_ERR_PROTO), "LAPPS_ERR_PROTO") != 0)
        return 1;
    return 0;
}
