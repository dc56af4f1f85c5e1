/* fuzz-proto.c — libFuzzer target for the LAppS protocol decoder.
 *
 * Any input is decoded as one message; a value that decodes must re-encode, decode
 * again to an equal value, survive a deep copy, and go through request validation.
 * A declared length the message cannot hold must be refused before it is allocated:
 * the arena's size is checked against a bound linear in the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "proto/cbor.h"
#include "proto/message.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lapps__arena a;
    lapps__arena_init(&a, 1024);
    struct lapps_value *v;
    int rv = lapps__cbor_decode(&a, data, size, &v);
    if (rv != 0 && rv != LAPPS_ERR_PROTO && rv != LAPPS_ERR_INVAL)
        abort();
    if (rv == 0) {
        struct lapps__wbuf b = {0};
        if (lapps__cbor_encode(&b, v) != 0 || b.failed)
            abort();
        struct lapps__arena a2;
        lapps__arena_init(&a2, 1024);
        struct lapps_value *w;
        if (lapps__cbor_decode(&a2, b.p, b.len, &w) != 0 || !lapps_value_equal(v, w))
            abort();
        lapps_value *copy = lapps_value_copy(v);
        if (!copy || !lapps_value_equal(copy, v))
            abort();
        lapps_value_free(copy);
        struct lapps__req req;
        const char *why;
        if (lapps__req_parse(v, &req, &why) == 0) {
            if (!req.method_len || req.method[0] == '_' || memchr(req.method, '.', req.method_len))
                abort();
            if (req.params && (req.params->type != LAPPS_VALUE_ARRAY || req.params->n == 0))
                abort();
        }
        lapps__arena_free(&a2);
        lapps__wbuf_free(&b);
    }
    lapps__arena_free(&a);
    return 0;
}
