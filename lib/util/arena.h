/* arena.h — a bump allocator for data that dies together (one decoded message).
 * Blocks grow geometrically; reset keeps the first block for the next message, so a
 * worker decoding small messages allocates nothing after warm-up. */
#ifndef LAPPS_UTIL_ARENA_H
#define LAPPS_UTIL_ARENA_H

#include <stddef.h>

struct lapps__arena_block;

struct lapps__arena {
    struct lapps__arena_block *head; /* the block being filled; older ones follow */
    size_t used;                     /* bytes used in head */
    size_t first_size;               /* size of the block kept by reset */
};

void lapps__arena_init(struct lapps__arena *a, size_t first_size);
/* 16-byte aligned memory valid until the next reset, or NULL (out of memory, or a
 * size that overflows). */
void *lapps__arena_alloc(struct lapps__arena *a, size_t size);
void lapps__arena_reset(struct lapps__arena *a);
/* Bytes of all blocks held now (what the arena costs in memory). */
size_t lapps__arena_bytes(const struct lapps__arena *a);
void lapps__arena_free(struct lapps__arena *a);

#endif /* LAPPS_UTIL_ARENA_H */
