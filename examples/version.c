/* version.c — the smallest liblapps program: check that the library linked at run time
 * is at least as new as the headers this was compiled with, and say which it is.
 * Build it outside the tree with: cc version.c $(pkg-config --cflags --libs liblapps) */
#include <stdio.h>
#include <stdlib.h>

#include <lapps/lapps.h>

int
main(void)
{
    const lapps_info *info = lapps_version(LAPPS_VERSION_HEX);
    if (info == NULL) {
        fprintf(stderr, "liblapps is older than %s\n", LAPPS_VERSION_STRING);
        return EXIT_FAILURE;
    }
    printf("liblapps %s (headers %s)\n", info->version_str, LAPPS_VERSION_STRING);
    return EXIT_SUCCESS;
}
