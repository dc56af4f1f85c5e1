/* message.h — the LAppS protocol's messages (DESIGN.md §6) without I/O: validating a
 * decoded request, and encoding responses and notifications.
 *
 * Encoded maps list their keys in the order LAppS (nlohmann::json, a sorted map) wrote
 * them — cid, then error/message/result, then status — so a LAppS client that compares
 * bytes sees what it saw before. */
#ifndef LAPPS_PROTO_MESSAGE_H
#define LAPPS_PROTO_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/cbor.h"
#include "proto/value.h"

/* JSON-RPC 2.0 error codes. */
#define LAPPS__RPC_PARSE_ERROR      (-32700)
#define LAPPS__RPC_INVALID_REQUEST  (-32600)
#define LAPPS__RPC_METHOD_NOT_FOUND (-32601)
#define LAPPS__RPC_INVALID_PARAMS   (-32602)
#define LAPPS__RPC_INTERNAL_ERROR   (-32603)

struct lapps__req {
    const char *method; /* not NUL-terminated; checked UTF-8 */
    size_t method_len;
    const struct lapps_value *params; /* NULL: none (or []) */
    uint64_t cid;                     /* 0: a request; else a client notification */
};

/* Checks a decoded value against the request rules. @return 0, or
 * LAPPS__RPC_INVALID_REQUEST with *why saying what is wrong (a static string). */
int lapps__req_parse(const struct lapps_value *root, struct lapps__req *req, const char **why);

/* {cid, result, status: 1}; result NULL means []. */
void lapps__msg_result(struct lapps__wbuf *b, uint64_t cid, const struct lapps_value *result);
/* {cid, error: {code, message, data?}, status: 0} */
void lapps__msg_error(struct lapps__wbuf *b, uint64_t cid, int64_t code, const char *message,
                      size_t message_len, const struct lapps_value *data);
/* {cid, message} */
void lapps__msg_notify(struct lapps__wbuf *b, uint64_t cid, const struct lapps_value *message);

#endif /* LAPPS_PROTO_MESSAGE_H */
