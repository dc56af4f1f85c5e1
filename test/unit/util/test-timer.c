/* Tests for lib/util/timer.c: timers fire at their expiry (never before, at most a tick
 * late for a loop that ticks), re-arming moves and cancelling disarms, callbacks may
 * cancel, re-arm and free (run under ASan to prove the walk never touches freed memory),
 * timers many revolutions away, clocks that jump or go back, a randomised run against a
 * brute-force model (including lapps__wheel_timeout()'s bound), and a million timers. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "util/timer.h"

#define container_of(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

#define REV ((uint64_t)LAPPS__WHEEL_TICK_MS * LAPPS__WHEEL_SLOTS) /* one revolution, ms */

/* A deterministic generator, so a failure can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t
rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t
rnd_below(uint64_t n)
{
    return rnd() % n;
}

/* An object embedding a timer, and a log of what fired when. */
struct obj {
    struct lapps__timer timer;
    int id;
    int fired;
    uint64_t fired_at;
    uint64_t expected;
};

/* What a callback sees: the wheel, the simulated clock, and what some tests need. */
struct ctx {
    struct lapps__wheel *w;
    uint64_t now;
    int fired;
    struct obj **group; /* objects a callback may act on */
    int ngroup;
    uint64_t period;
    void **heap; /* malloc'd objects, NULL once freed */
    int alive;   /* how many are not freed yet */
};

static void
record(struct lapps__timer *t, void *arg)
{
    struct ctx *c = arg;
    struct obj *o = container_of(t, struct obj, timer);
    cr_assert_not(lapps__timer_armed(t), "a timer is disarmed before its callback");
    cr_assert_leq(t->expires_ms, c->now, "timer %d fired early", o->id);
    o->fired++;
    o->fired_at = c->now;
    c->fired++;
}

static size_t
advance_to(struct ctx *c, uint64_t now, void (*cb)(struct lapps__timer *, void *))
{
    c->now = now;
    return lapps__wheel_advance(c->w, now, cb, c);
}

Test(timer, zero_filled_timer_is_valid_and_unarmed)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    struct lapps__timer t = {0};
    cr_expect_not(lapps__timer_armed(&t));
    lapps__timer_cancel(&w, &t); /* no-op */
    cr_expect_eq(lapps__wheel_count(&w), 0);
    lapps__timer_arm(&w, &t, 10);
    cr_expect(lapps__timer_armed(&t));
    cr_expect_eq(lapps__wheel_count(&w), 1);
    lapps__timer_cancel(&w, &t);
    cr_expect_not(lapps__timer_armed(&t));
    lapps__timer_cancel(&w, &t);
    cr_expect_eq(lapps__wheel_count(&w), 0);

    struct lapps__timer u;
    memset(&u, 0xa5, sizeof u);
    lapps__timer_init(&u);
    cr_expect_not(lapps__timer_armed(&u));
    cr_expect_leq(sizeof(struct lapps__timer), 24);
    lapps__wheel_free(&w);
    lapps__wheel_free(&w); /* twice is fine */
}

Test(timer, timeout_is_minus_one_when_empty_and_exact_otherwise)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 5000), 0);
    struct ctx c = {.w = &w};
    cr_expect_eq(lapps__wheel_timeout(&w, 5000), -1);
    struct obj a = {.id = 1}, b = {.id = 2};
    lapps__timer_arm(&w, &a.timer, 5123);
    lapps__timer_arm(&w, &b.timer, 9000);
    cr_expect_eq(lapps__wheel_timeout(&w, 5000), 123);
    cr_expect_eq(lapps__wheel_timeout(&w, 5123), 0);
    cr_expect_eq(lapps__wheel_timeout(&w, 6000), 0);
    cr_expect_eq(advance_to(&c, 5122, record), 0);
    cr_expect_eq(advance_to(&c, 5123, record), 1);
    cr_expect_eq(lapps__wheel_timeout(&w, 5123), 9000 - 5123);
    lapps__timer_cancel(&w, &b.timer);
    cr_expect_eq(lapps__wheel_timeout(&w, 5123), -1);
    lapps__wheel_free(&w);
}

Test(timer, timeout_finds_a_near_timer_behind_a_far_one)
{
    /* The first slot holds a timer a revolution away, the last slot of the revolution
     * one just before it: the bound must come from the last slot. */
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    struct ctx c = {.w = &w};
    struct obj now = {.id = 0}, far = {.id = 1}, near = {.id = 2};
    lapps__timer_arm(&w, &now.timer, 0);
    lapps__timer_arm(&w, &far.timer, REV + 5);
    lapps__timer_arm(&w, &near.timer, REV - LAPPS__WHEEL_TICK_MS + 1);
    cr_expect_eq(advance_to(&c, 0, record), 1); /* so the bound is recomputed */
    cr_expect_eq(lapps__wheel_timeout(&w, 0), REV - LAPPS__WHEEL_TICK_MS + 1);
    lapps__wheel_free(&w);
}

/* Timers at every millisecond over two revolutions, driven three ways: advanced every
 * millisecond and by the timeout (on time), and every tick (less than a tick late). */
enum drive { EVERY_MS, EVERY_TICK, BY_TIMEOUT };

static void
fire_each(enum drive mode)
{
    enum { N = 2 * 8192 + 37 };
    const uint64_t start = 1000003;
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, start), 0);
    struct ctx c = {.w = &w, .now = start};
    struct obj *objs = calloc(N, sizeof *objs);
    cr_assert_not_null(objs);
    for (int i = 0; i < N; i++) {
        objs[i].id = i;
        objs[i].expected = start + (uint64_t)i;
        lapps__timer_arm(&w, &objs[i].timer, objs[i].expected);
    }
    /* The first advance is at start itself, where timer 0 is due. */
    for (bool first = true; c.fired < N; first = false) {
        uint64_t next = first ? c.now : c.now + 1;
        if (first) {
        } else if (mode == EVERY_TICK) {
            next = c.now + LAPPS__WHEEL_TICK_MS;
        } else if (mode == BY_TIMEOUT) {
            int64_t d = lapps__wheel_timeout(&w, c.now);
            cr_assert_geq(d, 0);
            next = c.now + (uint64_t)d;
        }
        advance_to(&c, next, record);
        cr_assert_leq(c.now, start + 4 * REV, "runaway clock");
    }
    for (int i = 0; i < N; i++) {
        cr_assert_eq(objs[i].fired, 1);
        uint64_t late = objs[i].fired_at - objs[i].expected;
        if (mode == EVERY_TICK)
            cr_assert_lt(late, LAPPS__WHEEL_TICK_MS, "timer %d: %zu ms late", i, (size_t)late);
        else
            cr_assert_eq(late, 0, "timer %d: %zu ms late", i, (size_t)late);
    }
    cr_expect_eq(lapps__wheel_timeout(&w, c.now), -1);
    free(objs);
    lapps__wheel_free(&w);
}

Test(timer, fires_on_time_when_advanced_every_millisecond)
{
    fire_each(EVERY_MS);
}

Test(timer, fires_within_a_tick_when_advanced_every_tick)
{
    fire_each(EVERY_TICK);
}

Test(timer, fires_on_time_when_sleeping_for_the_timeout)
{
    fire_each(BY_TIMEOUT);
}

Test(timer, timer_armed_in_the_past_fires_at_next_advance)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 100000), 0);
    struct ctx c = {.w = &w, .now = 100000};
    struct obj o = {.id = 1};
    lapps__timer_arm(&w, &o.timer, 5);
    cr_expect_eq(lapps__wheel_timeout(&w, c.now), 0);
    cr_expect_eq(advance_to(&c, 100000, record), 1);
    cr_expect_eq(o.fired, 1);
    lapps__wheel_free(&w);
}

Test(timer, rearm_moves_the_timer)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    struct ctx c = {.w = &w};
    struct obj o = {.id = 1};

    lapps__timer_arm(&w, &o.timer, 100);
    lapps__timer_arm(&w, &o.timer, 50); /* earlier */
    cr_expect_eq(lapps__wheel_count(&w), 1);
    cr_expect_eq(lapps__wheel_timeout(&w, 0), 50);
    advance_to(&c, 49, record);
    cr_expect_eq(o.fired, 0);
    advance_to(&c, 50, record);
    cr_expect_eq(o.fired, 1);
    advance_to(&c, 200, record);
    cr_expect_eq(o.fired, 1, "moved, so it must not fire at its old expiry too");

    lapps__timer_arm(&w, &o.timer, 300);
    lapps__timer_arm(&w, &o.timer, 300 + 5 * REV); /* later, several revolutions on */
    advance_to(&c, 300, record);
    advance_to(&c, 300 + 5 * REV - 1, record);
    cr_expect_eq(o.fired, 1);
    advance_to(&c, 300 + 5 * REV, record);
    cr_expect_eq(o.fired, 2);
    cr_expect_eq(lapps__wheel_count(&w), 0);
    lapps__wheel_free(&w);
}

Test(timer, cancel_disarms)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    struct ctx c = {.w = &w};
    struct obj a = {.id = 1}, b = {.id = 2}, d = {.id = 3};
    lapps__timer_arm(&w, &a.timer, 40);
    lapps__timer_arm(&w, &b.timer, 40);
    lapps__timer_arm(&w, &d.timer, 40);
    lapps__timer_cancel(&w, &b.timer); /* the middle of a slot's list */
    cr_expect_not(lapps__timer_armed(&b.timer));
    cr_expect_eq(lapps__wheel_count(&w), 2);
    cr_expect_eq(advance_to(&c, 1000, record), 2);
    cr_expect_eq(a.fired, 1);
    cr_expect_eq(b.fired, 0);
    cr_expect_eq(d.fired, 1);
    lapps__wheel_free(&w);
}

/* Cancels every other timer of the group: whatever the order of the walk, exactly one
 * of the group fires. */
static void
cancel_the_others(struct lapps__timer *t, void *arg)
{
    struct ctx *c = arg;
    record(t, arg);
    for (int i = 0; i < c->ngroup; i++)
        if (&c->group[i]->timer != t)
            lapps__timer_cancel(c->w, &c->group[i]->timer);
}

Test(timer, callback_cancels_others_due_in_the_same_advance)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    /* Two in one slot (one of them next in the walk), one in a later slot, one a
     * revolution further in the same slot, all due by the one advance. */
    struct obj a = {.id = 1}, b = {.id = 2}, d = {.id = 3}, e = {.id = 4};
    struct obj *group[] = {&a, &b, &d, &e};
    struct ctx c = {.w = &w, .group = group, .ngroup = 4};
    lapps__timer_arm(&w, &a.timer, 16);
    lapps__timer_arm(&w, &b.timer, 17);
    lapps__timer_arm(&w, &d.timer, 800);
    lapps__timer_arm(&w, &e.timer, 16 + REV);
    cr_expect_eq(advance_to(&c, 2 * REV, cancel_the_others), 1);
    cr_expect_eq(a.fired + b.fired + d.fired + e.fired, 1);
    cr_expect_eq(lapps__wheel_count(&w), 0);
    cr_expect_eq(lapps__wheel_timeout(&w, c.now), -1);
    lapps__wheel_free(&w);
}

/* Re-arms its own timer one period on: a periodic timer. */
static void
rearm_periodic(struct lapps__timer *t, void *arg)
{
    struct ctx *c = arg;
    record(t, arg);
    lapps__timer_arm(c->w, t, t->expires_ms + c->period);
}

Test(timer, callback_rearms_its_own_timer)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    struct ctx c = {.w = &w, .period = 100};
    struct obj o = {.id = 1};
    lapps__timer_arm(&w, &o.timer, 100);
    while (c.now < 10000) {
        int64_t d = lapps__wheel_timeout(&w, c.now);
        cr_assert_gt(d, 0);
        cr_assert_eq(advance_to(&c, c.now + (uint64_t)d, rearm_periodic), 1);
        cr_assert_eq(c.now % 100, 0);
    }
    cr_expect_eq(o.fired, 100);
    cr_expect(lapps__timer_armed(&o.timer));
    cr_expect_eq(lapps__wheel_count(&w), 1);

    /* A big jump fires it once or twice (see lapps__wheel_advance()), not once per
     * missed period: re-arming into the past waits for the next advance. */
    size_t n = advance_to(&c, c.now + 7 * REV, rearm_periodic);
    cr_expect(n >= 1 && n <= 2, "fired %zu times", n);
    lapps__wheel_free(&w);
}

/* Re-arms its own timer at its old expiry, already in the past: the advance must end. */
static void
rearm_in_the_past(struct lapps__timer *t, void *arg)
{
    struct ctx *c = arg;
    record(t, arg);
    lapps__timer_arm(c->w, t, t->expires_ms);
}

Test(timer, timer_rearming_into_the_past_cannot_trap_advance)
{
    static const uint64_t jumps[] = {0, 1, 7, 8, 1000, REV - 1, REV, 3 * REV + 5};
    for (size_t j = 0; j < sizeof jumps / sizeof jumps[0]; j++) {
        struct lapps__wheel w;
        cr_assert_eq(lapps__wheel_init(&w, 1000), 0);
        struct ctx c = {.w = &w, .now = 1000};
        struct obj o = {.id = 1};
        lapps__timer_arm(&w, &o.timer, 1000);
        size_t n = advance_to(&c, 1000 + jumps[j], rearm_in_the_past);
        cr_expect(n >= 1 && n <= 2, "jump %zu: fired %zu times", (size_t)jumps[j], n);
        cr_expect_eq(lapps__wheel_timeout(&w, c.now), 0);
        n = advance_to(&c, c.now, rearm_in_the_past);
        cr_expect(n >= 1 && n <= 2);
        lapps__wheel_free(&w);
    }
}

/* Frees the object embedding the timer; every even object also cancels and frees its
 * odd neighbour if that one is still alive (heap[] tracks who is). */
struct heap_obj {
    int id;
    struct lapps__timer timer; /* not first: container_of must do real work */
};

static void
free_objects(struct lapps__timer *t, void *arg)
{
    struct ctx *c = arg;
    struct heap_obj *o = container_of(t, struct heap_obj, timer);
    cr_assert_leq(t->expires_ms, c->now);
    int id = o->id;
    c->heap[id] = NULL;
    free(o);
    c->alive--;
    c->fired++;
    if (id % 2 == 0 && id + 1 < c->ngroup && c->heap[id + 1] != NULL) {
        struct heap_obj *n = c->heap[id + 1];
        lapps__timer_cancel(c->w, &n->timer);
        c->heap[id + 1] = NULL;
        free(n);
        c->alive--;
    }
}

Test(timer, callback_frees_objects)
{
    enum { N = 5000 };
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    void **heap = calloc(N, sizeof *heap);
    cr_assert_not_null(heap);
    struct ctx c = {.w = &w, .heap = heap, .ngroup = N, .alive = N};
    for (int i = 0; i < N; i++) {
        struct heap_obj *o = malloc(sizeof *o);
        cr_assert_not_null(o);
        o->id = i;
        lapps__timer_init(&o->timer);
        /* Few distinct expiries, so neighbours often share a slot and an advance. */
        lapps__timer_arm(&w, &o->timer, 1 + rnd_below(64) * 37);
        heap[i] = o;
    }
    while (c.alive > 0) {
        int64_t d = lapps__wheel_timeout(&w, c.now);
        cr_assert_geq(d, 0);
        advance_to(&c, c.now + (uint64_t)d + rnd_below(3) * 20, free_objects);
    }
    cr_expect_eq(lapps__wheel_count(&w), 0);
    cr_expect_eq(lapps__wheel_timeout(&w, c.now), -1);
    free(heap);
    lapps__wheel_free(&w);
}

Test(timer, long_timers_fire_at_their_time)
{
    struct lapps__wheel w;
    const uint64_t start = 77777;
    cr_assert_eq(lapps__wheel_init(&w, start), 0);
    struct ctx c = {.w = &w, .now = start};
    enum { N = 300 };
    struct obj objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = (struct obj){.id = i};
        /* 1 to 600 revolutions away: idle timeouts of minutes, and beyond level 1. */
        objs[i].expected = start + REV + rnd_below(599 * REV);
        lapps__timer_arm(&w, &objs[i].timer, objs[i].expected);
    }
    while (c.fired < N) {
        int64_t d = lapps__wheel_timeout(&w, c.now);
        cr_assert_geq(d, 0);
        advance_to(&c, c.now + (uint64_t)d, record);
    }
    for (int i = 0; i < N; i++) {
        cr_expect_eq(objs[i].fired, 1);
        cr_expect_eq(objs[i].fired_at, objs[i].expected, "timer %d", i);
    }
    lapps__wheel_free(&w);
}

Test(timer, clock_going_back_fires_nothing_early)
{
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 100000), 0);
    struct ctx c = {.w = &w, .now = 100000};
    struct obj a = {.id = 1}, b = {.id = 2};
    lapps__timer_arm(&w, &a.timer, 100100);
    cr_expect_eq(advance_to(&c, 90000, record), 0);
    /* Armed relative to the clock that went back. */
    lapps__timer_arm(&w, &b.timer, 90050);
    cr_expect_eq(lapps__wheel_timeout(&w, 90000), 50);
    cr_expect_eq(advance_to(&c, 90049, record), 0);
    cr_expect_eq(advance_to(&c, 90050, record), 1);
    cr_expect_eq(b.fired, 1);
    cr_expect_eq(lapps__wheel_timeout(&w, 90050), 100100 - 90050);
    cr_expect_eq(advance_to(&c, 100099, record), 0);
    cr_expect_eq(advance_to(&c, 100100, record), 1);
    cr_expect_eq(a.fired, 1);
    lapps__wheel_free(&w);
}

Test(timer, huge_jump_visits_each_slot_once, .timeout = 30)
{
    enum { N = 100000 };
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    struct ctx c = {.w = &w};
    struct obj *objs = calloc(N, sizeof *objs);
    cr_assert_not_null(objs);
    for (int i = 0; i < N; i++) {
        objs[i].id = i;
        /* Half within the hour, half a year away. */
        objs[i].expected = (i % 2 ? 0 : 182ull * 86400000) + rnd_below(3600000);
        lapps__timer_arm(&w, &objs[i].timer, objs[i].expected);
    }
    /* A VM suspended for ten days: one advance, 1024 slots, N / 2 callbacks. */
    cr_expect_eq(advance_to(&c, 10ull * 86400000, record), N / 2);
    for (int i = 0; i < N; i++)
        cr_assert_eq(objs[i].fired, i % 2);
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < N; i += 2)
        min = objs[i].expected < min ? objs[i].expected : min;
    int64_t d = lapps__wheel_timeout(&w, c.now);
    cr_expect_gt(d, 0);
    cr_expect_leq((uint64_t)d, min - c.now);
    cr_expect_eq(advance_to(&c, 183ull * 86400000, record), N / 2);
    cr_expect_eq(lapps__wheel_count(&w), 0);
    free(objs);
    lapps__wheel_free(&w);
}

/* The randomised model: timers armed, re-armed and cancelled at random over a clock that
 * crawls, sleeps for the timeout, jumps far ahead and goes back. After every advance the
 * timers fired must be exactly the armed ones whose expiry is <= now, and timeout() must
 * never be later than the earliest expiry, nor 0 when nothing is due. In the meddling
 * variant, callbacks also arm, re-arm and cancel random timers (their own included); a
 * timer armed that way may be left due for the next advance, and timeout() must say so. */
enum { MODEL_N = 3000 };

struct model_timer {
    struct lapps__timer timer;
    bool armed;
    bool armed_in_cb; /* armed by a callback during the current advance */
    uint64_t expires;
};

static struct model_timer *model;
static bool meddle;

static uint64_t
random_expiry(uint64_t now)
{
    switch (rnd_below(9)) {
    case 0:
        return now - rnd_below(now < 5000 ? now + 1 : 5000); /* the past */
    case 8:
        return now + rnd_below(1000 * REV); /* beyond level 1 (hours) */
    case 1:
        return now + rnd_below(20); /* imminent */
    case 2:
    case 3:
        return now + rnd_below(REV); /* within a revolution */
    case 4:
        return now + rnd_below(50 * REV); /* several revolutions */
    case 5:
        return now + rnd_below(3) * 5000; /* handshake-like, many equal */
    default:
        return now + rnd_below(2000);
    }
}

static void
model_arm(struct lapps__wheel *w, struct model_timer *t, uint64_t expires)
{
    t->expires = expires;
    t->armed = true;
    lapps__timer_arm(w, &t->timer, expires);
}

static void
model_cancel(struct lapps__wheel *w, struct model_timer *t)
{
    t->armed = false;
    lapps__timer_cancel(w, &t->timer);
}

static void
model_fire(struct lapps__timer *t, void *arg)
{
    struct ctx *c = arg;
    struct model_timer *m = container_of(t, struct model_timer, timer);
    cr_assert(m->armed, "fired a timer the model has not armed");
    cr_assert_leq(m->expires, c->now, "fired early");
    cr_assert_eq(t->expires_ms, m->expires);
    m->armed = false;
    c->fired++;
    if (!meddle)
        return;
    for (int i = (int)rnd_below(4); i > 0; i--) {
        struct model_timer *o = rnd_below(4) == 0 ? m : &model[rnd_below(MODEL_N)];
        if (rnd_below(3) == 0) {
            model_cancel(c->w, o);
        } else {
            model_arm(c->w, o, random_expiry(c->now));
            o->armed_in_cb = true;
        }
    }
}

static void
run_model(bool meddling)
{
    enum { STEPS = 60000 };
    const uint64_t start = 1ull << 32;
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, start), 0);
    struct ctx c = {.w = &w, .now = start};
    model = calloc(MODEL_N, sizeof *model);
    cr_assert_not_null(model);
    meddle = meddling;
    size_t total_fired = 0, spurious = 0;

    for (int step = 0; step < STEPS; step++) {
        unsigned op = (unsigned)rnd_below(100);
        if (op < 45) {
            model_arm(&w, &model[rnd_below(MODEL_N)], random_expiry(c.now));
            continue;
        }
        if (op < 60) {
            model_cancel(&w, &model[rnd_below(MODEL_N)]);
            continue;
        }

        /* Check the timeout against the model, then move the clock. */
        uint64_t min = UINT64_MAX;
        size_t armed = 0;
        for (int i = 0; i < MODEL_N; i++) {
            cr_assert_eq(lapps__timer_armed(&model[i].timer), model[i].armed);
            if (model[i].armed) {
                armed++;
                if (model[i].expires < min)
                    min = model[i].expires;
            }
        }
        cr_assert_eq(lapps__wheel_count(&w), armed);
        int64_t d = lapps__wheel_timeout(&w, c.now);
        if (armed == 0) {
            cr_assert_eq(d, -1);
        } else {
            uint64_t limit = min <= c.now ? 0 : min - c.now;
            cr_assert_geq(d, 0);
            cr_assert_leq((uint64_t)d, limit, "step %d: timeout %lld, next expiry in %llu", step,
                          (long long)d, (unsigned long long)limit);
        }

        uint64_t to;
        switch (rnd_below(10)) {
        case 0:
            /* A suspended VM: up to one and up to 1000 revolutions. */
            to = c.now + REV + rnd_below(rnd_below(2) ? REV : 1000 * REV);
            break;
        case 1:
            to = c.now - rnd_below(3 * REV); /* the clock goes back */
            break;
        case 2:
        case 3:
        case 4:
            to = c.now + rnd_below(30);
            break;
        default:
            to = d < 0 ? c.now + 1000 : c.now + (uint64_t)d; /* sleep for the timeout */
        }

        size_t due = 0;
        for (int i = 0; i < MODEL_N; i++) {
            due += model[i].armed && model[i].expires <= to;
            model[i].armed_in_cb = false;
        }
        c.fired = 0;
        c.now = to;
        size_t n = lapps__wheel_advance(&w, to, model_fire, &c);
        cr_assert_eq((size_t)c.fired, n);
        if (!meddling)
            cr_assert_eq(n, due, "step %d: fired %zu, %zu were due", step, n, due);
        total_fired += n;
        bool left_due = false;
        for (int i = 0; i < MODEL_N; i++) {
            if (model[i].armed && model[i].expires <= to) {
                cr_assert(model[i].armed_in_cb, "step %d: timer %d left behind", step, i);
                left_due = true;
            }
        }
        /* 0 when something is due, else a due timer would wait. Otherwise not 0, or the
         * event loop would spin; the one exception is a timer armed and then cancelled by
         * callbacks, which may leave its slot's bound low: that costs one more advance,
         * which must fire nothing and mend the bound. */
        int64_t after = lapps__wheel_timeout(&w, to);
        if (left_due) {
            cr_assert_eq(after, 0, "step %d", step);
        } else if (after == 0) {
            cr_assert(meddling, "step %d: timeout 0 with nothing due", step);
            cr_assert_eq(lapps__wheel_advance(&w, to, model_fire, &c), 0, "step %d", step);
            cr_assert_neq(lapps__wheel_timeout(&w, to), 0, "step %d: spinning", step);
            spurious++;
        }
    }
    cr_log_info("model: %zu timers fired, %zu spurious zero timeouts", total_fired, spurious);
    cr_expect_gt(total_fired, (size_t)STEPS / 10);
    free(model);
    model = NULL;
    lapps__wheel_free(&w);
}

Test(timer, matches_a_brute_force_model, .timeout = 120)
{
    run_model(false);
}

Test(timer, matches_the_model_when_callbacks_meddle, .timeout = 120)
{
    run_model(true);
}

Test(timer, a_million_timers_arm_and_cancel_in_constant_time, .timeout = 30)
{
    enum { N = 1000000 };
    struct lapps__wheel w;
    cr_assert_eq(lapps__wheel_init(&w, 0), 0);
    struct lapps__timer *t = calloc(N, sizeof *t);
    cr_assert_not_null(t);
    for (int i = 0; i < N; i++)
        lapps__timer_arm(&w, &t[i], 1 + rnd_below(3600000));
    cr_expect_eq(lapps__wheel_count(&w), N);
    for (int i = 0; i < N; i++)
        lapps__timer_arm(&w, &t[i], 1 + rnd_below(3600000)); /* move every one */
    cr_expect_eq(lapps__wheel_count(&w), N);
    cr_expect_geq(lapps__wheel_timeout(&w, 0), 0);
    for (int i = 0; i < N; i++)
        lapps__timer_cancel(&w, &t[i]);
    cr_expect_eq(lapps__wheel_count(&w), 0);
    cr_expect_eq(lapps__wheel_timeout(&w, 0), -1);
    struct ctx c = {.w = &w};
    cr_expect_eq(advance_to(&c, 4000000, record), 0);
    free(t);
    lapps__wheel_free(&w);
}
