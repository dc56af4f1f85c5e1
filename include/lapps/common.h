/* liblapps — common definitions shared by every public header. */
#ifndef LAPPS_COMMON_H
#define LAPPS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define LAPPS_EXPORT
#elif defined(__GNUC__) || defined(__clang__)
#define LAPPS_EXPORT __attribute__((visibility("default")))
#else
#define LAPPS_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Signed size for byte counts that may also carry a negative error code.
 *  Public headers use this instead of POSIX `ssize_t`. */
typedef ptrdiff_t lapps_ssize;

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_COMMON_H */
