/* mpsc.c — the bounded MPSC queue of mpsc.h: a ring of slots, each with a sequence
 * number (Dmitry Vyukov's bounded queue, with the consumer side reduced to one thread).
 *
 * Memory ordering, the whole argument:
 *
 * - Position p lives in slot p & mask. Its seq says whose turn it is: p means free for
 *   the producer of p, p + 1 means the item of p is stored, p + capacity means the item
 *   of p was taken, so the slot is free for p + capacity.
 * - A producer claims p by moving tail from p to p + 1 with a CAS. The CAS only hands out
 *   distinct positions; it publishes nothing, so it is relaxed, as is the load of tail
 *   (a stale value just makes the CAS fail or the seq check disagree, and we retry).
 * - The producer then stores item and publishes it with a release store of seq = p + 1.
 *   The consumer's acquire load of seq reads that value, so the item (and whatever the
 *   producer wrote before pushing) happens-before the consumer's use of it.
 * - The consumer hands the slot back with a release store of seq = p + capacity after it
 *   has read item; the producer of p + capacity checks seq with an acquire load before
 *   writing item, so that write cannot overtake the consumer's read of the old item.
 * - head is the consumer's alone: a plain field.
 *
 * The wake-up flag is a Dekker-style handshake between "producer stored seq, then reads
 * wake_pending" and "consumer cleared wake_pending, then reads seq". Release/acquire does
 * not order a store before a later load of another object, so both sides put a seq_cst
 * fence between their store and their load. In the single total order of those fences,
 * either the producer's fence comes first, and then the consumer's drain after its fence
 * sees the stored seq; or the consumer's comes first, and then the producer sees the flag
 * cleared (or set again by a producer that will write the eventfd, whose wake-up leads
 * to a later clear-and-drain ordered after this producer's fence). Only the producer that
 * flips the flag from false to true wakes the consumer; the flip itself needs no ordering
 * (it only elects that producer), so it is a relaxed exchange. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include <lapps/error.h>

#include "util/mpsc.h"

/* Whatever the alignment of the container, fields at least a line apart never share it. */
#define GAP(a, b)                                                                                  \
    (offsetof(struct lapps__mpsc, b) - offsetof(struct lapps__mpsc, a) -                           \
     sizeof(((struct lapps__mpsc *)0)->a))
_Static_assert(offsetof(struct lapps__mpsc, slots) >= LAPPS__CACHE_LINE, "no leading pad");
_Static_assert(GAP(mask, tail) >= LAPPS__CACHE_LINE, "read-only fields share tail's line");
_Static_assert(GAP(tail, wake_pending) >= LAPPS__CACHE_LINE, "tail shares wake_pending's line");
_Static_assert(GAP(wake_pending, head) >= LAPPS__CACHE_LINE, "wake_pending shares head's line");
_Static_assert(sizeof(struct lapps__mpsc) - offsetof(struct lapps__mpsc, head) - sizeof(size_t) >=
                   LAPPS__CACHE_LINE,
               "head shares a line with what follows the queue");
#undef GAP

int
lapps__mpsc_init(struct lapps__mpsc *q, size_t capacity)
{
    /* A single slot cannot work: "stored" (p + 1) would read as "free" for p + 1. */
    size_t cap = 2;
    if (capacity == 0)
        return LAPPS_ERR_INVAL;
    /* The sequence arithmetic below needs capacity <= SIZE_MAX / 2, far above any array
     * that can be allocated; refuse sizes whose byte count would overflow. */
    if (capacity > SIZE_MAX / 2 / sizeof(struct lapps__mpsc_slot))
        return LAPPS_ERR_INVAL;
    while (cap < capacity)
        cap <<= 1;

    struct lapps__mpsc_slot *slots = malloc(cap * sizeof *slots);
    if (slots == NULL)
        return LAPPS_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++) {
        atomic_init(&slots[i].seq, i);
        slots[i].item = NULL;
    }
    q->slots = slots;
    q->mask = cap - 1;
    atomic_init(&q->tail, 0);
    atomic_init(&q->wake_pending, false);
    q->head = 0;
    return 0;
}

void
lapps__mpsc_free(struct lapps__mpsc *q)
{
    free(q->slots);
    q->slots = NULL;
    q->mask = 0;
}

size_t
lapps__mpsc_capacity(const struct lapps__mpsc *q)
{
    return q->mask + 1;
}

int
lapps__mpsc_push(struct lapps__mpsc *q, void *item)
{
    assert(item != NULL); /* NULL is pop()'s "empty" */
    size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    struct lapps__mpsc_slot *slot;
    for (;;) {
        slot = &q->slots[pos & q->mask];
        size_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
        /* Signed distance, so the comparison survives the (theoretical) wrap of size_t. */
        intptr_t dif = (intptr_t)(seq - pos);
        if (dif == 0) {
            /* On failure the CAS reloads pos; a weak CAS's spurious failure just loops. */
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            /* The slot still holds (or is being filled with) the item one lap behind:
             * the queue is full. */
            return LAPPS_ERR_AGAIN;
        } else {
            /* Another producer claimed pos meanwhile. */
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
    slot->item = item;
    atomic_store_explicit(&slot->seq, pos + 1, memory_order_release);
    return 0;
}

void *
lapps__mpsc_pop(struct lapps__mpsc *q)
{
    struct lapps__mpsc_slot *slot = &q->slots[q->head & q->mask];
    size_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
    if (seq != q->head + 1)
        return NULL;
    void *item = slot->item;
    atomic_store_explicit(&slot->seq, q->head + q->mask + 1, memory_order_release);
    q->head++;
    return item;
}

bool
lapps__mpsc_empty(const struct lapps__mpsc *q)
{
    /* Relaxed is enough: only the consumer asks, and its next pop() re-reads seq with
     * acquire; coherence guarantees it sees this value or a later one. */
    const struct lapps__mpsc_slot *slot = &q->slots[q->head & q->mask];
    return atomic_load_explicit(&slot->seq, memory_order_relaxed) != q->head + 1;
}

bool
lapps__mpsc_should_wake(struct lapps__mpsc *q)
{
    atomic_thread_fence(memory_order_seq_cst);
    /* The plain load keeps the common case (a wake-up already pending) free of writes to
     * the shared line; only a producer that saw it clear competes to set it. */
    if (atomic_load_explicit(&q->wake_pending, memory_order_relaxed))
        return false;
    return !atomic_exchange_explicit(&q->wake_pending, true, memory_order_relaxed);
}

void
lapps__mpsc_woken(struct lapps__mpsc *q)
{
    atomic_store_explicit(&q->wake_pending, false, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}
