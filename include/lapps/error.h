/* liblapps — error codes.
 *
 * Every function that can fail returns an int: 0 on success or a negative code.
 * Failures of system calls pass through as -errno (always above -4096). liblapps'
 * own codes live in the range -5000 and below; codes at or below LAPPS_ERR_FATAL
 * mean the object that returned them can only be freed. */
#ifndef LAPPS_ERROR_H
#define LAPPS_ERROR_H

#include <lapps/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The one list of liblapps error codes: X(name, value, description).
 *  It generates the enum below, lapps_strerror() and lapps_err_name(). */
#define LAPPS_ERR_MAP(X)                                                                           \
    X(INVAL, -5001, "invalid argument")                                                            \
    X(AGAIN, -5002, "try again: more input is needed, or a queue is full")                         \
    X(NOSPACE, -5003, "output buffer too small")                                                   \
    X(PROTO, -5004, "WebSocket protocol violation")                                                \
    X(UTF8, -5005, "invalid UTF-8 in a text message or close reason")                              \
    X(TOO_BIG, -5006, "message larger than the configured limit")                                  \
    X(HANDSHAKE, -5007, "malformed or refused WebSocket handshake")                                \
    X(HEADER_TOO_BIG, -5008, "handshake request larger than the configured limit")                 \
    X(VERSION, -5009, "unsupported WebSocket version")                                             \
    X(STATE, -5010, "operation not allowed in the current state")                                  \
    X(NOT_FOUND, -5011, "no such connection")                                                      \
    X(LIMIT, -5012, "outbound limit reached: the connection is being closed")                      \
    X(TLS, -5013, "TLS error: unreadable certificate or key, bad setting, or failed session")      \
    X(FATAL, -5500, "fatal error")                                                                 \
    X(NOMEM, -5501, "out of memory")

/** liblapps' own error codes (all negative). */
typedef enum lapps_error {
#define LAPPS_ERR_ENUM_(name, value, text) LAPPS_ERR_##name = value,
    LAPPS_ERR_MAP(LAPPS_ERR_ENUM_)
#undef LAPPS_ERR_ENUM_
        LAPPS_ERR_LAST_ = -5999
} lapps_error;

/** A human-readable description of an error code.
 *  @param err a liblapps code, a negative errno value, or 0.
 *  @return a static string, never NULL ("unknown error" for codes not in any list).
 *  Thread-safe; callable from any thread and from callbacks. */
LAPPS_EXPORT const char *lapps_strerror(int err);

/** The symbolic name of an error code, e.g. "LAPPS_ERR_PROTO" or "ECONNRESET".
 *  @param err a liblapps code, a negative errno value, or 0 ("OK").
 *  @return a static string, never NULL ("UNKNOWN" for codes not in any list).
 *  Thread-safe; callable from any thread and from callbacks. */
LAPPS_EXPORT const char *lapps_err_name(int err);

/** Whether @p err means the object that returned it may now only be freed.
 *  @return 1 for fatal codes (LAPPS_ERR_FATAL and below), else 0. Thread-safe. */
LAPPS_EXPORT int lapps_is_fatal(int err);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_ERROR_H */
