/* arena.h — a bump allocator for data that dies together (one decoded message).
 * Blocks grow geometrically; reset keeps the first block for the next message, so a
 * worker decoding small messages allocates nothing after warm-up. */
#ifndef LAPPS_UTIL_ARENA_H
#define LAPPS_UTIL_ARENA_H

#include <stddef.h>

struct lapps__arena_block;

struct lapps__arena {
    struct lapps__arena_block *head; /* the block being filled; older ones follow */
    unsigned char *next, *end;       /* free room in head */
    size_t first_size;               /* size of the block kept by reset */
};

void lapps__arena_init(struct lapps__arena *a, size_t first_size);
void *lapps__arena_alloc_slow(struct lapps__arena *a, size_t size);

/* 16-byte aligned memory valid until the next reset, or NULL (out of memory, or a
 * size that overflows). Inline: a decoded request takes a dozen of these. */
static inline void *
lapps__arena_alloc(struct lapps__arena *a, size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;
    if (need >= size && (size_t)(a->end - a->next) >= need) {
        void *p = a->next;
        a->next += need;
        return p;
    }
    return lapps__arena_alloc_slow(a, size);
}
void lapps__arena_reset(struct lapps__arena *a);
/* Bytes of all blocks held now (what the arena costs in memory). */
size_t lapps__arena_bytes(const struct lapps__arena *a);
void lapps__arena_free(struct lapps__arena *a);

#endif /* LAPPS_UTIL_ARENA_H */
