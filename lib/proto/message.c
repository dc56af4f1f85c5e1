/* message.c — see message.h. */
#include <string.h>

#include <lapps/error.h>

#include "proto/message.h"

/* Matches a text key against a literal. */
static bool
key_is(const struct lapps_value *k, const char *s, size_t n)
{
    return k->n == n && memcmp(k->s, s, n) == 0;
}

int
lapps__req_parse(const struct lapps_value *root, struct lapps__req *req, const char **why)
{
    *req = (struct lapps__req){0};
    if (root->type != LAPPS_VALUE_MAP) {
        *why = "a request is a map";
        return LAPPS__RPC_INVALID_REQUEST;
    }
    const struct lapps_value *lapps = NULL, *method = NULL, *params = NULL, *cid = NULL;
    for (size_t i = 0; i < root->n; i++) {
        const struct lapps_value *k = &root->items[2 * i], *v = &root->items[2 * i + 1];
        const struct lapps_value **slot = NULL;
        if (k->type != LAPPS_VALUE_TEXT)
            continue; /* members other than the four are ignored, as LAppS did */
        if (key_is(k, "lapps", 5))
            slot = &lapps;
        else if (key_is(k, "method", 6))
            slot = &method;
        else if (key_is(k, "params", 6))
            slot = &params;
        else if (key_is(k, "cid", 3))
            slot = &cid;
        if (!slot)
            continue;
        if (*slot) {
            *why = "a member appears twice";
            return LAPPS__RPC_INVALID_REQUEST;
        }
        *slot = v;
    }
    if (!lapps || lapps->type != LAPPS_VALUE_INT || lapps->neg || lapps->u != 1) {
        *why = "lapps must be 1";
        return LAPPS__RPC_INVALID_REQUEST;
    }
    if (!method || method->type != LAPPS_VALUE_TEXT || method->n == 0) {
        *why = "method must be a non-empty text";
        return LAPPS__RPC_INVALID_REQUEST;
    }
    if (method->s[0] == '_' || memchr(method->s, '.', method->n) ||
        memchr(method->s, '\0', method->n)) {
        *why = "method must not contain '.' or NUL, nor start with '_'";
        return LAPPS__RPC_INVALID_REQUEST;
    }
    if (params && params->type != LAPPS_VALUE_ARRAY) {
        *why = "params must be an array";
        return LAPPS__RPC_INVALID_REQUEST;
    }
    if (cid && (cid->type != LAPPS_VALUE_INT || cid->neg || cid->u == 0)) {
        *why = "cid must be a positive integer (a client notification's channel)";
        return LAPPS__RPC_INVALID_REQUEST;
    }
    req->method = (const char *)method->s;
    req->method_len = method->n;
    req->params = params && params->n ? params : NULL;
    req->cid = cid ? cid->u : 0;
    return 0;
}

/* Text keys with their CBOR heads, written as constant bytes. */
#define KEY(b, lit) lapps__wbuf_put((b), lit, sizeof lit - 1)
#define K_CID                                                                                      \
    "\x63"                                                                                         \
    "cid"
#define K_RESULT                                                                                   \
    "\x66"                                                                                         \
    "result"
#define K_ERROR                                                                                    \
    "\x65"                                                                                         \
    "error"
#define K_MESSAGE                                                                                  \
    "\x67"                                                                                         \
    "message"
#define K_STATUS                                                                                   \
    "\x66"                                                                                         \
    "status"

static void
array_or_empty(struct lapps__wbuf *b, const struct lapps_value *v)
{
    if (v)
        lapps__cbor_encode(b, v);
    else
        lapps__cbor_head(b, 4, 0);
}

void
lapps__msg_result(struct lapps__wbuf *b, uint64_t cid, const struct lapps_value *result)
{
    if (cid == 0) {
        KEY(b, "\xa3" K_CID "\x00" K_RESULT); /* the usual response's head */
    } else {
        KEY(b, "\xa3" K_CID);
        lapps__cbor_head(b, 0, cid);
        KEY(b, K_RESULT);
    }
    array_or_empty(b, result);
    KEY(b, K_STATUS "\x01");
}

void
lapps__msg_error(struct lapps__wbuf *b, uint64_t cid, int64_t code, const char *message,
                 size_t message_len, const struct lapps_value *data)
{
    KEY(b, "\xa3" K_CID);
    lapps__cbor_head(b, 0, cid);
    KEY(b, K_ERROR);
    lapps__cbor_head(b, 5, data ? 3 : 2);
    KEY(b, "\x64"
           "code");
    lapps__cbor_int(b, code);
    if (data) {
        KEY(b, "\x64"
               "data");
        lapps__cbor_encode(b, data);
    }
    KEY(b, K_MESSAGE);
    lapps__cbor_text(b, message, message_len);
    KEY(b, K_STATUS "\x00");
}

void
lapps__msg_notify(struct lapps__wbuf *b, uint64_t cid, const struct lapps_value *message)
{
    KEY(b, "\xa2" K_CID);
    lapps__cbor_head(b, 0, cid);
    KEY(b, K_MESSAGE);
    array_or_empty(b, message);
}
