/* timer.c — the two-level hashed timer wheel of timer.h.
 *
 * Notation: T = LAPPS__WHEEL_TICK_MS, N0 = LAPPS__WHEEL_SLOTS, N1 = LAPPS__WHEEL_L1_SLOTS.
 * A timer with expiry E is filed by its tick k = max(E / T, w->tick) and its revolution
 * r = k / N0. The window is the N0 ticks [tick, tick + N0); cr = (tick + N0 - 1) / N0 is
 * the revolution of its last tick. Invariants:
 * - near[s] holds the timers of the one tick of the window that is = s (mod N0); a timer
 *   with E / T < tick (overdue, or armed while the clock ran backwards) is thus in
 *   near[tick mod N0]. next[s] holds the timers of the tick k = s (mod N0) with
 *   tick + N0 <= k < (cr + 1) * N0: at most one tick, beyond the window but in revolution
 *   cr. l1[j] holds revolution r = j (mod N1) for cr < r <= cr + N1, and over[j] the
 *   revolutions = j (mod N1) beyond that.
 * - So, walking the lists in that order, each holds later expiries than the ones before
 *   it (over[] apart), which lets timeout() stop its pass at the first list that cannot
 *   beat the best bound so far.
 * - Each list's min_ms <= every expiry in it. Arming lowers it; cancelling leaves it (a
 *   lower bound stays a lower bound); walking the list makes it exact.
 * - w->next_ms <= every armed expiry, by the same rules; timeout() recomputes it from the
 *   list bounds after an advance that walked a list.
 *
 * Moving the clock from tick a to b leaves ticks a .. b - 1 (their near timers are due)
 * and brings ticks up to b + N0 - 1 into the window (the next lists of the same slots)
 * and revolutions up to cr(b) into level 0 (the l1 lists of revolutions cr(a) + 1 ..
 * cr(b), and the over lists of the same slots). advance() looks at exactly those slots,
 * each at most once, and walks a list only when its bound says something in it is due
 * or filed in the wrong place. A timer is thus moved at most three times in its life
 * (over -> l1 -> next -> near), plus once per N1 revolutions while in over.
 *
 * Expiring a list detaches it into w->walk and takes timers off the front one by one,
 * unlinking each before its callback runs; the others are filed again. Because every list
 * is linked through pprev (a pointer to whatever points at the timer, list head
 * included), a callback can cancel a timer still waiting in w->walk, re-arm its own timer
 * into a live list, or free the object of a timer already unlinked, and the walk only
 * ever follows w->walk, which those operations keep correct. */
#include <assert.h>
#include <stdlib.h>

#include <lapps/error.h>

#include "util/timer.h"

#define T  ((uint64_t)LAPPS__WHEEL_TICK_MS)
#define N0 ((uint64_t)LAPPS__WHEEL_SLOTS)
#define M0 (N0 - 1)
#define N1 ((uint64_t)LAPPS__WHEEL_L1_SLOTS)
#define M1 (N1 - 1)

_Static_assert((LAPPS__WHEEL_SLOTS & (LAPPS__WHEEL_SLOTS - 1)) == 0, "level 0: a power of two");
_Static_assert((LAPPS__WHEEL_L1_SLOTS & (LAPPS__WHEEL_L1_SLOTS - 1)) == 0,
               "level 1: a power of two");
_Static_assert(sizeof(struct lapps__timer) <= 24, "a timer costs memory per idle connection");

/* The revolution of the window's last tick. */
static uint64_t
window_rev(uint64_t tick)
{
    return (tick + M0) / N0;
}

int
lapps__wheel_init(struct lapps__wheel *w, uint64_t now_ms)
{
    size_t n = 2 * N0 + 2 * N1;
    struct lapps__timer_list *lists = malloc(n * sizeof *lists);
    if (lists == NULL)
        return LAPPS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        lists[i].head = NULL;
        lists[i].min_ms = UINT64_MAX;
    }
    w->near = lists;
    w->next = lists + N0;
    w->l1 = lists + 2 * N0;
    w->over = lists + 2 * N0 + N1;
    w->walk = NULL;
    w->tick = now_ms / T;
    w->next_ms = UINT64_MAX;
    w->count = 0;
    w->stale = false;
    w->advancing = false;
    return 0;
}

void
lapps__wheel_free(struct lapps__wheel *w)
{
    assert(!w->advancing);
    free(w->near);
    w->near = w->next = w->l1 = w->over = NULL;
    w->count = 0;
}

void
lapps__timer_init(struct lapps__timer *t)
{
    t->next = NULL;
    t->pprev = NULL;
    t->expires_ms = 0;
}

bool
lapps__timer_armed(const struct lapps__timer *t)
{
    return t->pprev != NULL;
}

size_t
lapps__wheel_count(const struct lapps__wheel *w)
{
    return w->count;
}

static void
unlink_timer(struct lapps__timer *t)
{
    *t->pprev = t->next;
    if (t->next != NULL)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

static void
link_timer(struct lapps__timer_list *l, struct lapps__timer *t)
{
    t->next = l->head;
    if (t->next != NULL)
        t->next->pprev = &t->next;
    l->head = t;
    t->pprev = &l->head;
    if (t->expires_ms < l->min_ms)
        l->min_ms = t->expires_ms;
}

/* Links an unlinked timer where the invariants want it. */
static void
file_timer(struct lapps__wheel *w, struct lapps__timer *t)
{
    uint64_t k = t->expires_ms / T;
    if (k < w->tick)
        k = w->tick;
    uint64_t r = k / N0, cr = window_rev(w->tick);
    struct lapps__timer_list *l;
    if (k - w->tick < N0)
        l = &w->near[k & M0];
    else if (r <= cr)
        l = &w->next[k & M0];
    else if (r - cr <= N1)
        l = &w->l1[r & M1];
    else
        l = &w->over[r & M1];
    link_timer(l, t);
}

void
lapps__timer_arm(struct lapps__wheel *w, struct lapps__timer *t, uint64_t expires_ms)
{
    if (t->pprev != NULL)
        unlink_timer(t);
    else
        w->count++;
    t->expires_ms = expires_ms;
    file_timer(w, t);
    if (expires_ms < w->next_ms)
        w->next_ms = expires_ms;
}

void
lapps__timer_cancel(struct lapps__wheel *w, struct lapps__timer *t)
{
    if (t->pprev == NULL)
        return;
    unlink_timer(t);
    assert(w->count > 0);
    w->count--;
}

/* Fires the due timers of one list and files the others again; the list's bound becomes
 * exact. Returns the number fired. */
static size_t
expire_list(struct lapps__wheel *w, struct lapps__timer_list *l, uint64_t now_ms,
            void (*cb)(struct lapps__timer *, void *), void *arg)
{
    size_t fired = 0;
    w->walk = l->head;
    if (w->walk != NULL)
        w->walk->pprev = &w->walk;
    l->head = NULL;
    l->min_ms = UINT64_MAX;
    w->stale = true; /* bounds changed: next_ms may be too low */

    struct lapps__timer *t;
    while ((t = w->walk) != NULL) {
        unlink_timer(t);
        if (t->expires_ms <= now_ms) {
            w->count--;
            fired++;
            cb(t, arg); /* t may be re-armed or gone from here on */
        } else {
            file_timer(w, t);
        }
    }
    return fired;
}

size_t
lapps__wheel_advance(struct lapps__wheel *w, uint64_t now_ms,
                     void (*cb)(struct lapps__timer *t, void *arg), void *arg)
{
    assert(!w->advancing); /* not from a callback */
    uint64_t a = w->tick, b = now_ms / T;
    if (b < a)
        b = a; /* the clock went back: never rewind the wheel */
    if (w->count == 0) {
        w->tick = b;
        return 0;
    }
    uint64_t cra = window_rev(a), crb = window_rev(b);

    /* The window moves first, so that everything filed during the walks (timers filed
     * again, and timers armed by callbacks) lands where the invariants want it once this
     * call returns; overdue ones go to near[b], which is walked last and only once: a
     * timer that keeps re-arming itself into the past fires at most once more in this
     * call, then waits for the next one. */
    w->tick = b;
    size_t fired = 0;
    w->advancing = true;

    /* Level 1: revolutions cra + 1 .. crb come down (at most every slot once). */
    uint64_t r = cra + 1;
    if (crb - cra > N1)
        r = crb - M1;
    for (; r <= crb; r++) {
        struct lapps__timer_list *l = &w->l1[r & M1], *o = &w->over[r & M1];
        if (l->min_ms <= now_ms || l->min_ms / T / N0 <= crb)
            fired += expire_list(w, l, now_ms, cb, arg);
        if (o->min_ms <= now_ms || o->min_ms / T / N0 <= crb + N1)
            fired += expire_list(w, o, now_ms, cb, arg);
    }

    /* Level 0: the ticks left (at most every slot once), then tick b. */
    uint64_t k = a;
    if (b - a >= N0)
        k = b - M0;
    for (; k <= b; k++) {
        struct lapps__timer_list *nl = &w->near[k & M0], *xl = &w->next[k & M0];
        if (nl->min_ms <= now_ms)
            fired += expire_list(w, nl, now_ms, cb, arg);
        if (xl->min_ms <= now_ms || xl->min_ms / T < b + N0)
            fired += expire_list(w, xl, now_ms, cb, arg);
    }
    w->advancing = false;
    return fired;
}

int64_t
lapps__wheel_timeout(struct lapps__wheel *w, uint64_t now_ms)
{
    if (w->count == 0)
        return -1;
    if (w->stale) {
        /* The lists in time order; each holds nothing earlier than the start of its tick
         * or revolution, so the pass stops at the first one that starts after the best
         * bound so far. No timer is touched. */
        uint64_t best = UINT64_MAX, tick = w->tick, cr = window_rev(tick);
        best = w->near[tick & M0].min_ms; /* may hold overdue timers: always look */
        for (uint64_t k = tick + 1; k < tick + N0 && k * T < best; k++)
            if (w->near[k & M0].min_ms < best)
                best = w->near[k & M0].min_ms;
        for (uint64_t k = tick + N0; k < (cr + 1) * N0 && k * T < best; k++)
            if (w->next[k & M0].min_ms < best)
                best = w->next[k & M0].min_ms;
        for (uint64_t r = cr + 1; r <= cr + N1 && r * N0 * T < best; r++)
            if (w->l1[r & M1].min_ms < best)
                best = w->l1[r & M1].min_ms;
        if ((cr + N1 + 1) * N0 * T < best) {
            for (uint64_t j = 0; j < N1; j++)
                if (w->over[j].min_ms < best)
                    best = w->over[j].min_ms;
        }
        w->next_ms = best;
        w->stale = false;
    }
    if (w->next_ms <= now_ms)
        return 0;
    uint64_t d = w->next_ms - now_ms;
    return d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
}
