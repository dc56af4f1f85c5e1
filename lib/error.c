/* error.c — lapps_strerror() and lapps_err_name() over the one error list in
 * <lapps/error.h>, plus the -errno codes that system calls pass through. */
#include <errno.h>
#include <string.h>

#include <lapps/error.h>

LAPPS_EXPORT const char *
lapps_strerror(int err)
{
    if (err == 0)
        return "success";
    switch (err) {
#define LAPPS_ERR_TEXT_(name, value, text)                                                         \
    case value:                                                                                    \
        return text;
        LAPPS_ERR_MAP(LAPPS_ERR_TEXT_)
#undef LAPPS_ERR_TEXT_
    }
    if (err < 0 && err > -4096) {
        /* strerrordesc_np returns static text and, unlike strerror, is thread-safe. */
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}

LAPPS_EXPORT const char *
lapps_err_name(int err)
{
    if (err == 0)
        return "OK";
    switch (err) {
#define LAPPS_ERR_NAME_(name, value, text)                                                         \
    case value:                                                                                    \
        return "LAPPS_ERR_" #name;
        LAPPS_ERR_MAP(LAPPS_ERR_NAME_)
#undef LAPPS_ERR_NAME_
    }
    if (err < 0 && err > -4096) {
        const char *s = strerrorname_np(-err);
        if (s)
            return s;
    }
    return "UNKNOWN";
}

LAPPS_EXPORT int
lapps_is_fatal(int err)
{
    return err <= LAPPS_ERR_FATAL && err > LAPPS_ERR_LAST_;
}
