/* arena.c — see arena.h. */
#include <stdint.h>
#include <stdlib.h>

#include "util/arena.h"

struct lapps__arena_block {
    struct lapps__arena_block *next;
    size_t size;
    _Alignas(16) unsigned char data[];
};

void
lapps__arena_init(struct lapps__arena *a, size_t first_size)
{
    a->head = NULL;
    a->next = a->end = NULL;
    a->first_size = first_size < 256 ? 256 : first_size;
}

void *
lapps__arena_alloc_slow(struct lapps__arena *a, size_t size)
{
    if (size > SIZE_MAX / 2 - 64)
        return NULL;
    size = (size + 15) & ~(size_t)15;
    struct lapps__arena_block *b = a->head;
    size_t want = b ? b->size * 2 : a->first_size;
    if (want < size)
        want = size;
    struct lapps__arena_block *nb = malloc(sizeof *nb + want);
    if (!nb)
        return NULL;
    nb->next = b;
    nb->size = want;
    a->head = nb;
    a->next = nb->data + size;
    a->end = nb->data + want;
    return nb->data;
}

void
lapps__arena_reset(struct lapps__arena *a)
{
    /* Keep the oldest block if it is the first size; free the rest. */
    struct lapps__arena_block *b = a->head, *keep = NULL;
    while (b) {
        struct lapps__arena_block *next = b->next;
        if (!next && b->size == a->first_size)
            keep = b;
        else
            free(b);
        b = next;
    }
    if (keep)
        keep->next = NULL;
    a->head = keep;
    a->next = keep ? keep->data : NULL;
    a->end = keep ? keep->data + keep->size : NULL;
}

size_t
lapps__arena_bytes(const struct lapps__arena *a)
{
    size_t n = 0;
    for (const struct lapps__arena_block *b = a->head; b; b = b->next)
        n += b->size;
    return n;
}

void
lapps__arena_free(struct lapps__arena *a)
{
    lapps__arena_reset(a);
    free(a->head);
    a->head = NULL;
}
