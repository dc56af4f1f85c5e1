/* version.c — the run-time version check (compile-time numbers are in version.h). */
#include <lapps/version.h>

static const lapps_info info = {
    .age = 1,
    .version_num = LAPPS_VERSION_HEX,
    .version_str = LAPPS_VERSION_STRING,
};

LAPPS_EXPORT const lapps_info *
lapps_version(int least_version)
{
    return least_version > LAPPS_VERSION_HEX ? NULL : &info;
}
