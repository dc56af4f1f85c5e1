/* timer.h — a per-worker hashed timer wheel with intrusive timers.
 *
 * Each connection embeds its timers (handshake, close handshake, idle, ping): a timer is
 * 24 bytes and arming, re-arming or cancelling one is O(1) and never allocates. Times are
 * milliseconds on a clock of the caller's choosing (CLOCK_MONOTONIC in the server); the
 * wheel never reads a clock, so tests drive it with a simulated one.
 *
 * Precision: a timer fires in the first lapps__wheel_advance() whose now_ms is >= its
 * expiry: never early, and with no rounding of its own. lapps__wheel_timeout() returns a
 * delay that is never past the earliest expiry, so a loop that sleeps that long and then
 * advances fires every timer on time (to the millisecond, plus the scheduler's lateness).
 * The delay is exact unless a timer was cancelled since the last advance, in which case it
 * may be early (one spurious wake-up, then exact again).
 *
 * Layout: two levels. Level 0 has LAPPS__WHEEL_SLOTS slots of one LAPPS__WHEEL_TICK_MS
 * tick each, a revolution of about 8 s; level 1 has LAPPS__WHEEL_L1_SLOTS slots of one
 * level-0 revolution each, about 35 min. A timer due within the next LAPPS__WHEEL_SLOTS
 * ticks sits in the level-0 slot of its tick; one due later sits in the level-1 slot of its
 * revolution (or, past level 1's range, in that slot's overflow list, looked at once per level-1
 * revolution) and moves down to level 0 when its revolution comes near. So a timer costs
 * a few list moves over its whole life however far away it is (idle timeouts of
 * minutes, pings), and advancing the clock costs a comparison or two per tick and per
 * revolution crossed, plus the timers that fire or move. A jump of any size (a resumed VM)
 * visits each slot at most once. A clock that goes backwards fires nothing early and
 * stalls the wheel until it catches up.
 *
 * Not thread-safe: a wheel and its timers belong to one thread.
 */
#ifndef LAPPS_UTIL_TIMER_H
#define LAPPS_UTIL_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAPPS__WHEEL_TICK_MS  8u
#define LAPPS__WHEEL_SLOTS    1024u /* level 0; a power of two */
#define LAPPS__WHEEL_L1_SLOTS 256u  /* level 1; a power of two */

/* Embed it in the object it times. Zero-filled is a valid, unarmed timer. Its fields are
 * private to timer.c, except expires_ms, which may be read while the timer is armed and
 * in its callback. */
struct lapps__timer {
    struct lapps__timer *next;
    struct lapps__timer **pprev; /* the pointer that points at this timer; NULL: unarmed */
    uint64_t expires_ms;
};

struct lapps__timer_list {
    struct lapps__timer *head;
    uint64_t min_ms; /* <= every expiry in the list; UINT64_MAX when known empty */
};

/* Its fields are private to timer.c. */
struct lapps__wheel {
    /* One allocation (40 KiB): per level-0 slot, the timers of the tick in the coming
     * revolution (near) and of the tick one revolution later (next); per level-1 slot,
     * the timers of one revolution (l1) and of later laps of level 1 (over). */
    struct lapps__timer_list *near, *next; /* LAPPS__WHEEL_SLOTS each */
    struct lapps__timer_list *l1, *over;   /* LAPPS__WHEEL_L1_SLOTS each */
    struct lapps__timer *walk;             /* timers detached from the list being expired */
    uint64_t tick;                         /* now_ms / tick at the last advance; never back */
    uint64_t next_ms;                      /* <= every armed expiry; UINT64_MAX when none */
    size_t count;                          /* armed timers */
    bool stale;                            /* next_ms may be too low: recompute it */
    bool advancing;                        /* inside lapps__wheel_advance() */
};

/* Sets up an empty wheel whose clock reads now_ms. Returns 0 or LAPPS_ERR_NOMEM. */
int lapps__wheel_init(struct lapps__wheel *w, uint64_t now_ms);

/* Frees the wheel. Timers still armed are not touched (their objects may be gone): they
 * must not be cancelled or armed again without lapps__timer_init() first. Safe on a
 * zero-filled or already freed wheel. Not from a timer callback. */
void lapps__wheel_free(struct lapps__wheel *w);

/* Makes t unarmed; the same as zero-filling it. */
void lapps__timer_init(struct lapps__timer *t);

/* Arms t to fire at expires_ms (which may be in the past: it then fires in the next
 * advance). An armed timer is moved. O(1). Allowed in any callback, on any timer of w. */
void lapps__timer_arm(struct lapps__wheel *w, struct lapps__timer *t, uint64_t expires_ms);

/* Disarms t; a no-op when it is not armed. O(1). Allowed in any callback, on any timer. */
void lapps__timer_cancel(struct lapps__wheel *w, struct lapps__timer *t);

/* Whether t is armed (also false inside its own callback, unless it re-armed itself). */
bool lapps__timer_armed(const struct lapps__timer *t);

/* The number of armed timers. */
size_t lapps__wheel_count(const struct lapps__wheel *w);

/* Fires every timer whose expiry is <= now_ms: each is disarmed, then cb(t, arg) is
 * called. The callback may re-arm t, arm or cancel any other timer, and free the object
 * that embeds t or any other object whose timers it cancelled first; it must not call
 * lapps__wheel_advance() or lapps__wheel_free(). A timer armed by a callback with an
 * expiry <= now_ms may fire in this same call, but a timer that keeps re-arming itself
 * into the past fires at most twice per call (then lapps__wheel_timeout() returns 0), so
 * it cannot trap the loop. Returns the number of callbacks made. */
size_t lapps__wheel_advance(struct lapps__wheel *w, uint64_t now_ms,
                            void (*cb)(struct lapps__timer *t, void *arg), void *arg);

/* Milliseconds from now_ms until the earliest armed timer may fire: 0 when one is due,
 * -1 when none is armed. Never later than the earliest expiry; earlier only after
 * cancellations (see the top of this file). Cheap: O(1) between advances; after an
 * advance that walked a list, one pass over the list bounds in time order up to the
 * first timer (and over the overflow bounds when every timer is hours away); no timer is
 * touched. */
int64_t lapps__wheel_timeout(struct lapps__wheel *w, uint64_t now_ms);

#endif /* LAPPS_UTIL_TIMER_H */
