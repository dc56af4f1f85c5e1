/* cbor.h — CBOR to values and back, with the protocol's limits (DESIGN.md §6).
 *
 * Decoding reads one item head at a time over the message, so every declared length
 * and count is checked against the bytes that remain before anything is allocated (an array of n
 * items needs at least n more bytes; a map of n pairs, 2n), and nesting is limited to
 * LAPPS__VALUE_MAX_DEPTH. The tree is built in an arena; strings point into the message. */
#ifndef LAPPS_PROTO_CBOR_H
#define LAPPS_PROTO_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "proto/value.h"
#include "util/arena.h"

/* @return 0 with *out in the arena; LAPPS_ERR_PROTO (not well-formed: truncated,
 * reserved bytes, bad UTF-8, trailing bytes, a length beyond the message, too deep);
 * LAPPS_ERR_INVAL (well-formed, but a tag or "undefined"); LAPPS_ERR_NOMEM. */
int lapps__cbor_decode(struct lapps__arena *a, const uint8_t *data, size_t len,
                       struct lapps_value **out);

/* A growable output buffer; on allocation failure `failed` is set and writes stop. */
struct lapps__wbuf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
};

void lapps__wbuf_free(struct lapps__wbuf *b);
/* Appends bytes as they are (pre-encoded CBOR). */
void lapps__wbuf_put(struct lapps__wbuf *b, const void *data, size_t n);
/* Heads of CBOR items: major type (0-7) and argument, in the shortest form. */
void lapps__cbor_head(struct lapps__wbuf *b, unsigned major, uint64_t arg);
void lapps__cbor_text(struct lapps__wbuf *b, const char *s, size_t len);
void lapps__cbor_int(struct lapps__wbuf *b, int64_t i);
/* Appends v; fails the buffer (returns LAPPS_ERR_INVAL) when v nests too deep. */
int lapps__cbor_encode(struct lapps__wbuf *b, const struct lapps_value *v);

#endif /* LAPPS_PROTO_CBOR_H */
