/* value.h — the value tree behind lapps_value, shared by the CBOR codec and the
 * protocol layer.
 *
 * One 32-byte node per value. Arrays hold their items inline (items[n]); maps hold
 * key, value, key, value... (items[2n]). A decoded tree lives in an arena and its
 * strings point into the message; a built tree (heap = 1) owns its strings and item
 * arrays through malloc. */
#ifndef LAPPS_PROTO_VALUE_H
#define LAPPS_PROTO_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lapps/value.h>

struct lapps_value {
    uint8_t type; /* lapps_value_type */
    uint8_t neg;  /* integers: the value is -1 - u */
    uint8_t heap; /* built with malloc (owns strings and items) */
    size_t n;     /* string bytes, array items, map pairs */
    union {
        uint64_t u;
        double d;
        bool b;
        const uint8_t *s;
        struct lapps_value *items;
    };
    size_t cap; /* heap arrays and maps: room in items (in nodes) */
};

#define LAPPS__VALUE_MAX_DEPTH 64

/* Frees what a heap node owns, not the node itself. */
void lapps__value_clear(struct lapps_value *v);

#endif /* LAPPS_PROTO_VALUE_H */
