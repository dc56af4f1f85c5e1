/* mpsc.h — a bounded multi-producer, single-consumer queue of pointers: a worker's inbox.
 *
 * Any thread may push; only the worker that owns the queue pops. The queue never grows:
 * a push into a full queue fails with LAPPS_ERR_AGAIN instead of blocking or allocating,
 * so a producer in a tight loop is pushed back on rather than eating memory.
 *
 * Progress: producers never wait for each other or for the consumer (a failed claim is
 * retried only because another producer succeeded). The consumer takes items strictly in
 * the order their slots were claimed, so a producer preempted between claiming a slot and
 * filling it holds back the items claimed after it until it runs again; pop() then
 * reports "empty" meanwhile, and that producer's own wake-up (below) ends the wait.
 *
 * Waking the consumer. Whether a given push took the queue from empty to non-empty cannot
 * be known cheaply: producers would have to read the consumer's position, a cache line
 * the consumer writes on every pop, and the answer would be stale at once anyway. So push
 * says nothing about it. The simple protocol is always correct: write the consumer's
 * eventfd after each push (or after a batch of pushes). To skip most of those writes,
 * use the wake-up flag instead, in exactly this order:
 *
 *     producer:  if (lapps__mpsc_push(q, item) == 0 && lapps__mpsc_should_wake(q))
 *                    write the eventfd;
 *     consumer:  read (reset) the eventfd;  lapps__mpsc_woken(q);
 *                while ((item = lapps__mpsc_pop(q)) != NULL) handle(item);
 *
 * Then at most one producer writes the eventfd per consumer wake-up, and no item is left
 * behind: every item pushed before a should_wake() that returned false is seen by the
 * drain that follows the next woken(). The consumer must reset its wake-up source before
 * woken() and must drain until pop() returns NULL after it; a consumer that stops early
 * (to bound its latency) must come back on its own, e.g. by writing its own eventfd.
 */
#ifndef LAPPS_UTIL_MPSC_H
#define LAPPS_UTIL_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Producers' and the consumer's hot fields are kept at least this far apart, so they
 * never share a cache line whatever the alignment of the struct that embeds the queue
 * (padding rather than _Alignas: an over-aligned member would make every malloc'd
 * container misaligned). */
#define LAPPS__CACHE_LINE 64

struct lapps__mpsc_slot {
    /* pos + 1 once the item claimed at position pos is stored; pos + capacity once it
     * was taken, so the slot is free for position pos + capacity. */
    _Atomic size_t seq;
    void *item;
};

/* Embed it anywhere; its fields are private to mpsc.c. Each group of fields is fenced
 * off by a whole cache line of padding on both sides, so no group shares a line with
 * another or with the fields of the struct around the queue (about 360 bytes). */
struct lapps__mpsc {
    char pad0_[LAPPS__CACHE_LINE];
    /* Read-only after init. */
    struct lapps__mpsc_slot *slots;
    size_t mask; /* capacity - 1 */
    char pad1_[LAPPS__CACHE_LINE];
    /* Producers: the next position to claim. */
    _Atomic size_t tail;
    char pad2_[LAPPS__CACHE_LINE];
    /* True while a wake-up is pending (see should_wake/woken). Written once per wake-up,
     * read by every producer that uses the flag: mostly a shared, clean line. */
    atomic_bool wake_pending;
    char pad3_[LAPPS__CACHE_LINE];
    /* Consumer only: the next position to take. */
    size_t head;
    char pad4_[LAPPS__CACHE_LINE];
};

/* Sets up an empty queue holding up to capacity items, rounded up to a power of two and
 * to at least 2. Not thread-safe (nothing may use q yet). Returns 0, LAPPS_ERR_INVAL for a
 * capacity of 0 or one whose slot array cannot be sized, or LAPPS_ERR_NOMEM. */
int lapps__mpsc_init(struct lapps__mpsc *q, size_t capacity);

/* Frees the slot array. Items still queued are not touched: drain them first if they own
 * anything. Safe on a zero-filled or already freed queue. No other thread may use q. */
void lapps__mpsc_free(struct lapps__mpsc *q);

/* The capacity after rounding. Any thread. */
size_t lapps__mpsc_capacity(const struct lapps__mpsc *q);

/* Appends item (not NULL: NULL means "empty" to pop). Any thread; never blocks. The item
 * is handed over to the consumer: everything the producer wrote before the push is
 * visible to the consumer once pop() returns it. Returns 0, or LAPPS_ERR_AGAIN when the
 * queue was full as this thread saw it (the item was not queued; try again later). */
int lapps__mpsc_push(struct lapps__mpsc *q, void *item);

/* Takes the oldest item, or returns NULL when none is ready. Consumer thread only. */
void *lapps__mpsc_pop(struct lapps__mpsc *q);

/* Whether pop() would return NULL now. Consumer thread only (from any other thread the
 * answer would mean nothing). */
bool lapps__mpsc_empty(const struct lapps__mpsc *q);

/* Producer side of the wake-up protocol above: call after one or more successful pushes.
 * Returns true when this caller must wake the consumer (no wake-up is pending), false
 * when one is already pending and the consumer will see the items pushed before this
 * call. Any thread. */
bool lapps__mpsc_should_wake(struct lapps__mpsc *q);

/* Consumer side: call after resetting the wake-up source and before draining the queue
 * until pop() returns NULL. Consumer thread only. */
void lapps__mpsc_woken(struct lapps__mpsc *q);

#endif /* LAPPS_UTIL_MPSC_H */
