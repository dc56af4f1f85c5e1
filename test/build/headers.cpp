// Compiled as C++11 with -pedantic -Werror: the public headers must be usable from C++.
#include <lapps/lapps.h>

#include <cstring>

int
main()
{
    const lapps_info *info = lapps_version(LAPPS_VERSION_HEX);
    if (info == nullptr || info->version_num != LAPPS_VERSION_HEX)
        return 1;
    lapps_error e = LAPPS_ERR_NOMEM;
    return std::strcmp(lapps_err_name(e), "LAPPS_ERR_NOMEM") == 0 && lapps_is_fatal(e) ? 0 : 1;
}
