/* Tests for lib/util/mpsc.c: capacity rounding and argument checks, FIFO order, "full"
 * exactly at capacity, many laps around the ring, and two multi-threaded stress tests
 * (a spinning consumer, and one that sleeps on an eventfd using the wake-up flag) that
 * check every item arrives exactly once and each producer's items arrive in order. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <lapps/error.h>

#include "util/mpsc.h"

/* Items are never dereferenced: they encode a small integer, never 0. */
static void *
as_item(uintptr_t v)
{
    return (void *)v;
}

static uintptr_t
as_value(void *item)
{
    return (uintptr_t)item;
}

Test(mpsc, rounds_capacity_up_to_a_power_of_two)
{
    static const struct {
        size_t asked, got;
    } cases[] = {{1, 2}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1024, 1024}, {1025, 2048}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lapps__mpsc q;
        cr_assert_eq(lapps__mpsc_init(&q, cases[i].asked), 0);
        cr_expect_eq(lapps__mpsc_capacity(&q), cases[i].got, "asked %zu", cases[i].asked);
        cr_expect(lapps__mpsc_empty(&q));
        lapps__mpsc_free(&q);
    }
}

Test(mpsc, refuses_impossible_capacities)
{
    struct lapps__mpsc q;
    cr_expect_eq(lapps__mpsc_init(&q, 0), LAPPS_ERR_INVAL);
    cr_expect_eq(lapps__mpsc_init(&q, SIZE_MAX), LAPPS_ERR_INVAL);
    cr_expect_eq(lapps__mpsc_init(&q, SIZE_MAX / 2), LAPPS_ERR_INVAL);
    cr_expect_eq(lapps__mpsc_init(&q, SIZE_MAX / 16), LAPPS_ERR_INVAL);
}

Test(mpsc, free_is_safe_twice_and_on_zero_filled)
{
    struct lapps__mpsc q = {0};
    lapps__mpsc_free(&q);
    cr_assert_eq(lapps__mpsc_init(&q, 8), 0);
    lapps__mpsc_free(&q);
    lapps__mpsc_free(&q);
}

Test(mpsc, keeps_fifo_order)
{
    struct lapps__mpsc q;
    cr_assert_eq(lapps__mpsc_init(&q, 16), 0);
    cr_expect_null(lapps__mpsc_pop(&q));
    for (uintptr_t i = 1; i <= 10; i++)
        cr_assert_eq(lapps__mpsc_push(&q, as_item(i)), 0);
    cr_expect_not(lapps__mpsc_empty(&q));
    for (uintptr_t i = 1; i <= 10; i++)
        cr_assert_eq(as_value(lapps__mpsc_pop(&q)), i);
    cr_expect(lapps__mpsc_empty(&q));
    cr_expect_null(lapps__mpsc_pop(&q));
    lapps__mpsc_free(&q);
}

Test(mpsc, is_full_exactly_at_capacity)
{
    static const size_t caps[] = {2, 4, 64, 1024};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        struct lapps__mpsc q;
        cr_assert_eq(lapps__mpsc_init(&q, caps[c]), 0);
        for (uintptr_t i = 1; i <= caps[c]; i++)
            cr_assert_eq(lapps__mpsc_push(&q, as_item(i)), 0, "push %zu of %zu", (size_t)i,
                         caps[c]);
        cr_assert_eq(lapps__mpsc_push(&q, as_item(999)), LAPPS_ERR_AGAIN);
        cr_assert_eq(lapps__mpsc_push(&q, as_item(999)), LAPPS_ERR_AGAIN);
        /* One slot freed: exactly one more push fits, and it comes out last. */
        cr_assert_eq(as_value(lapps__mpsc_pop(&q)), 1);
        cr_assert_eq(lapps__mpsc_push(&q, as_item(caps[c] + 1)), 0);
        cr_assert_eq(lapps__mpsc_push(&q, as_item(999)), LAPPS_ERR_AGAIN);
        for (uintptr_t i = 2; i <= caps[c] + 1; i++)
            cr_assert_eq(as_value(lapps__mpsc_pop(&q)), i);
        cr_assert_null(lapps__mpsc_pop(&q));
        lapps__mpsc_free(&q);
    }
}

Test(mpsc, wraps_around_many_times)
{
    struct lapps__mpsc q;
    cr_assert_eq(lapps__mpsc_init(&q, 4), 0);
    uintptr_t next_in = 1, next_out = 1;
    /* Batches of 1..4 items, so head and tail reach every offset in the ring. */
    for (int round = 0; round < 100000; round++) {
        int n = 1 + round % 4;
        for (int i = 0; i < n; i++)
            cr_assert_eq(lapps__mpsc_push(&q, as_item(next_in++)), 0);
        if (n == 4)
            cr_assert_eq(lapps__mpsc_push(&q, as_item(1)), LAPPS_ERR_AGAIN);
        for (int i = 0; i < n; i++)
            cr_assert_eq(as_value(lapps__mpsc_pop(&q)), next_out++);
        cr_assert(lapps__mpsc_empty(&q));
    }
    lapps__mpsc_free(&q);
}

Test(mpsc, wake_flag_asks_for_one_wake_up_per_drain)
{
    struct lapps__mpsc q;
    cr_assert_eq(lapps__mpsc_init(&q, 8), 0);
    cr_assert_eq(lapps__mpsc_push(&q, as_item(1)), 0);
    cr_expect(lapps__mpsc_should_wake(&q));
    cr_assert_eq(lapps__mpsc_push(&q, as_item(2)), 0);
    cr_expect_not(lapps__mpsc_should_wake(&q));
    lapps__mpsc_woken(&q);
    cr_expect_eq(as_value(lapps__mpsc_pop(&q)), 1);
    cr_expect_eq(as_value(lapps__mpsc_pop(&q)), 2);
    cr_expect_null(lapps__mpsc_pop(&q));
    cr_assert_eq(lapps__mpsc_push(&q, as_item(3)), 0);
    cr_expect(lapps__mpsc_should_wake(&q));
    lapps__mpsc_free(&q);
}

/* Multi-threaded stress: producers tag items with (id, sequence); the consumer checks
 * each producer's sequence is exactly the next one it expects. */
#define PRODUCERS 4
#define SEQ_BITS  24

struct stress {
    struct lapps__mpsc q;
    size_t per_producer;
    int efd; /* -1: the consumer spins instead of sleeping */
    atomic_size_t wakes;
    atomic_size_t full;
};

struct producer {
    struct stress *s;
    uintptr_t id;
};

static void *
produce(void *arg)
{
    struct producer *p = arg;
    struct stress *s = p->s;
    for (uintptr_t seq = 1; seq <= s->per_producer; seq++) {
        void *item = as_item(p->id << SEQ_BITS | seq);
        while (lapps__mpsc_push(&s->q, item) == LAPPS_ERR_AGAIN) {
            atomic_fetch_add_explicit(&s->full, 1, memory_order_relaxed);
            sched_yield();
        }
        if (s->efd >= 0 && lapps__mpsc_should_wake(&s->q)) {
            atomic_fetch_add_explicit(&s->wakes, 1, memory_order_relaxed);
            uint64_t one = 1;
            /* Not cr_assert: Criterion's assertions belong on the test's own thread. */
            while (write(s->efd, &one, sizeof one) != (ssize_t)sizeof one)
                if (errno != EINTR)
                    abort();
        }
    }
    return NULL;
}

static void
take(struct stress *s, void *item, uintptr_t next[PRODUCERS])
{
    uintptr_t v = as_value(item);
    uintptr_t id = v >> SEQ_BITS, seq = v & (((uintptr_t)1 << SEQ_BITS) - 1);
    cr_assert_lt(id, PRODUCERS, "item %#zx", (size_t)v);
    cr_assert_eq(seq, next[id], "producer %zu: got %zu, expected %zu", (size_t)id, (size_t)seq,
                 (size_t)next[id]);
    next[id]++;
}

static void
run_stress(size_t capacity, size_t per_producer, bool sleep_on_eventfd)
{
    struct stress s = {.per_producer = per_producer, .efd = -1};
    cr_assert_eq(lapps__mpsc_init(&s.q, capacity), 0);
    if (sleep_on_eventfd) {
        s.efd = eventfd(0, EFD_CLOEXEC);
        cr_assert_geq(s.efd, 0);
    }
    struct producer p[PRODUCERS];
    pthread_t th[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++) {
        p[i] = (struct producer){&s, i};
        cr_assert_eq(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }

    uintptr_t next[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        next[i] = 1;
    size_t total = PRODUCERS * per_producer, got = 0, idle = 0;
    while (got < total) {
        if (sleep_on_eventfd) {
            /* A lost wake-up would leave items queued with no eventfd write coming: the
             * poll times out with got < total. */
            struct pollfd pfd = {.fd = s.efd, .events = POLLIN};
            int rv = poll(&pfd, 1, 10000);
            cr_assert_eq(rv, 1, "lost wake-up: %zu of %zu items", got, total);
            uint64_t n;
            cr_assert_eq(read(s.efd, &n, sizeof n), (ssize_t)sizeof n);
            lapps__mpsc_woken(&s.q);
        }
        void *item;
        while ((item = lapps__mpsc_pop(&s.q)) != NULL) {
            take(&s, item, next);
            got++;
        }
        if (!sleep_on_eventfd && ++idle % 64 == 0)
            sched_yield(); /* two cores, five threads: let the producers run */
    }
    for (int i = 0; i < PRODUCERS; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_expect_eq(next[i], per_producer + 1);
    }
    cr_expect(lapps__mpsc_empty(&s.q));
    if (sleep_on_eventfd) {
        /* Coalescing: the wake-ups are bounded by the items, and usually far fewer. */
        size_t wakes = atomic_load(&s.wakes);
        cr_expect_leq(wakes, total);
        cr_log_info("%zu items, %zu eventfd writes, %zu pushes found the queue full", total, wakes,
                    atomic_load(&s.full));
        close(s.efd);
    }
    lapps__mpsc_free(&s.q);
}

Test(mpsc, stress_four_producers_spinning_consumer, .timeout = 60)
{
    run_stress(1024, 200000, false);
}

Test(mpsc, stress_small_ring_makes_producers_retry, .timeout = 60)
{
    run_stress(4, 50000, false);
}

Test(mpsc, stress_eventfd_wake_up_protocol, .timeout = 60)
{
    run_stress(256, 100000, true);
}
