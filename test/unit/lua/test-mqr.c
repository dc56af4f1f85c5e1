/* Tests for lib/lua/mqr.c: the LAppS `mqr` module, in real LuaJIT states, with threads
 * where something must block. A state "is standalone" when it has a stop hook (an
 * atomic flag here), as the Lua host sets for standalone services; one without a hook
 * is a reactive service. Checks in Lua are assert()s, whose message fails the test.
 * Criterion runs each test in a process of its own, so the process-wide registry starts
 * empty in each. No test sets .timeout (meson's 300 s per program catches a hang):
 * Criterion 2.4 leaks 48 bytes in its runner when two tests with timeouts overlap, which
 * failed the leak check under ASan. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <lapps/value.h>

#include "lua/modules.h"
#include "lua/mqr.h"
#include "lua/nljson.h"

/* Lua helpers every state gets: same(got, want) and a reader of message ids. */
static const char prelude[] = "function same(got, want, what)\n"
                              "  if got ~= want then\n"
                              "    error(string.format('%s: got %s, want %s', what or '?', "
                              "tostring(got), tostring(want)), 2)\n"
                              "  end\n"
                              "end\n"
                              "function msg(i) return nljson.decode('{\"i\":' .. i .. '}') end\n";

static int
open_all(lua_State *L)
{
    lapps__nljson_open(L);
    lapps__lua_open_mqr(L);
    return 0;
}

#define N_MESSAGES 10000

static atomic_int seen_count[N_MESSAGES + 1];
static atomic_int seen_total;

/* seen(i): counts the receipt of message i (for the exactly-once test). */
static int
lua_seen(lua_State *L)
{
    lua_Integer i = luaL_checkinteger(L, 1);

    luaL_argcheck(L, i >= 1 && i <= N_MESSAGES, 1, "id out of range");
    atomic_fetch_add(&seen_count[i], 1);
    atomic_fetch_add(&seen_total, 1);
    return 0;
}

static lua_State *
new_state(void)
{
    lua_State *L = luaL_newstate();

    cr_assert_not_null(L);
    luaL_openlibs(L);
    cr_assert_eq(lua_cpcall(L, open_all, NULL), 0, "%s", lua_tostring(L, -1));
    cr_assert_eq(lua_gettop(L), 0, "the openers left values on the stack");
    cr_assert_eq(luaL_dostring(L, prelude), 0, "%s", lua_tostring(L, -1));
    lua_register(L, "seen", lua_seen);
    return L;
}

/* Runs @p code in @p L; returns NULL, or the error message (copied into @p err). */
static const char *
try_run(lua_State *L, const char *code, char *err, size_t errlen)
{
    int rv = luaL_loadstring(L, code);

    if (rv == 0)
        rv = lua_pcall(L, 0, 0, 0);
    if (rv == 0)
        return NULL;
    snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)");
    lua_pop(L, 1);
    return err;
}

static void
run(lua_State *L, const char *code)
{
    char err[1024];

    if (try_run(L, code, err, sizeof err))
        cr_assert_fail("Lua: %s", err);
}

static int
flag_hook(void *ctx)
{
    return atomic_load((atomic_int *)ctx);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* A Lua chunk run on a thread of its own, in a state with a stop hook on *stop. */
struct runner {
    pthread_t thread;
    lua_State *L;
    atomic_int *stop;
    const char *code;
    atomic_bool done;
    char err[1024];
    bool failed;
};

static void *
runner_main(void *arg)
{
    struct runner *r = arg;

    r->failed = try_run(r->L, r->code, r->err, sizeof r->err) != NULL;
    atomic_store(&r->done, true);
    return NULL;
}

/* Makes the state on this thread (criterion asserts belong here), runs it on another. */
static void
runner_start(struct runner *r, atomic_int *stop, const char *code)
{
    r->L = new_state();
    r->stop = stop;
    r->code = code;
    atomic_store(&r->done, false);
    r->failed = false;
    lapps__lua_nap_set_stop(r->L, flag_hook, stop);
    cr_assert_eq(pthread_create(&r->thread, NULL, runner_main, r), 0);
}

static void
runner_join(struct runner *r)
{
    pthread_join(r->thread, NULL);
    cr_assert_not(r->failed, "Lua on a thread: %s", r->err);
    lua_close(r->L);
}

/* Waits up to @p ms for the runner to finish; returns whether it did. */
static bool
runner_wait(struct runner *r, int ms)
{
    for (int t = 0; t < ms && !atomic_load(&r->done); t += 5)
        sleep_ms(5);
    return atomic_load(&r->done);
}

Test(mqr, preload_names)
{
    cr_assert_eq(lapps__lua_preload_find("mqr"), lapps__lua_open_mqr);
    cr_assert_null(lapps__lua_preload_find("MQR"));
}

Test(mqr, fifo_order)
{
    lua_State *L = new_state();

    run(L, "local q = mqr.create('fifo')\n"
           "for i = 1, 500 do same(q:post(msg(i)), true, 'post') end\n"
           "for i = 1, 500 do same(q:try_recv().i, i, 'order') end\n"
           "same(q:try_recv(), nil, 'empty at the end')\n");
    lua_close(L);
    cr_assert_eq(lapps__mqr_queues(), 0);
}

Test(mqr, try_recv_on_empty_is_one_nil)
{
    lua_State *L = new_state();

    run(L, "local q = mqr.create('empty')\n"
           "same(select('#', q:try_recv()), 1, 'results')\n"
           "same(q:try_recv(), nil, 'try_recv')\n");
    lua_close(L);
}

/* Same name, same queue, from two states; the ':' form of create too. */
Test(mqr, same_name_same_queue)
{
    lua_State *A = new_state(), *B = new_state();

    run(A, "qa = mqr.create('shared', 4); same(qa:post(msg(1)), true, 'post')");
    run(B, "qb = mqr:create('shared'); same(qb:try_recv().i, 1, 'recv in B')\n"
           "same(qb:try_recv(), nil, 'consumed once')\n"
           "other = mqr.create('other'); other:post(msg(2))\n");
    run(A, "same(qa:try_recv(), nil, 'another name is another queue')");
    cr_assert_eq(lapps__mqr_queues(), 2);
    lua_close(A);
    lua_close(B);
    cr_assert_eq(lapps__mqr_queues(), 0);
}

/* Without a stop hook (a reactive service): a full queue refuses at once. The capacity
 * of the first create stands. */
Test(mqr, reactive_post_to_full_queue_fails)
{
    lua_State *L = new_state();

    run(L, "local q = mqr.create('small', 3)\n"
           "for i = 1, 3 do same(q:post(msg(i)), true, 'post ' .. i) end\n"
           "local ok, why = q:post(msg(4))\n"
           "same(ok, false, 'post to a full queue'); same(why, 'queue full', 'reason')\n"
           "local q2 = mqr.create('small', 100)\n"
           "same(q2:post(msg(4)), false, 'capacity of the first create')\n"
           "same(q:try_recv().i, 1, 'oldest first')\n"
           "same(q:post(msg(4)), true, 'room again')\n"
           "for i = 2, 4 do same(q:try_recv().i, i, 'rest') end\n");
    lua_close(L);
}

Test(mqr, default_capacity)
{
    lua_State *L = new_state();

    run(L, "local q = mqr.create('dflt')\n"
           "for i = 1, 1024 do same(q:post(msg(i)), true, 'post ' .. i) end\n"
           "same(q:post(msg(0)), false, 'past 1024')\n");
    lua_close(L);
}

Test(mqr, reactive_recv_is_refused)
{
    lua_State *L = new_state();

    run(L, "local q = mqr.create('r')\n"
           "q:post(msg(1))\n"
           "local ok, why = q:recv()\n"
           "same(ok, false, 'recv'); assert(why:find('try_recv'), why)\n"
           "same(q:try_recv().i, 1, 'the message is still there')\n");
    /* A hook set then removed is no hook. */
    atomic_int stop = 0;
    lapps__lua_nap_set_stop(L, flag_hook, &stop);
    lapps__lua_nap_set_stop(L, NULL, NULL);
    run(L, "same(mqr.create('r'):recv(), false, 'recv after the hook is removed')");
    lua_close(L);
}

Test(mqr, argument_errors)
{
    lua_State *L = new_state();

    run(L,
        "local function usage(q, why) same(q, nil, 'create'); assert(why:find('^Usage'), why) end\n"
        "usage(mqr.create())\n"
        "usage(mqr:create())\n"
        "usage(mqr.create(nil))\n"
        "usage(mqr.create({}))\n"
        "usage(mqr.create('x', 0))\n"
        "usage(mqr.create('x', -1))\n"
        "usage(mqr.create('x', 1.5))\n"
        "usage(mqr.create('x', 0/0))\n"
        "usage(mqr.create('x', 1/0))\n"
        "usage(mqr.create('x', 16777217))\n"
        "usage(mqr.create('x', '5'))\n"
        "usage(mqr.create('x', 5, 6))\n"
        "assert(mqr.create('x', 16777216))\n"
        "assert(mqr.create('x', nil))\n"
        "assert(mqr.create(42))\n"
        "local q = mqr.create('x')\n"
        "local function fails(want, ok, why)\n"
        "  if ok ~= false then error('result: ' .. tostring(ok), 2) end\n"
        "  if not why:find(want) then error(why, 2) end\n"
        "end\n"
        "fails('^Usage', q.post(msg(1)))\n"
        "fails('^Usage', q:post())\n"
        "fails('^Usage', q:post(msg(1), msg(2)))\n"
        "fails('^Usage', mqr.create('y').post({}, msg(1)))\n"
        "fails('nljson', q:post('a string'))\n"
        "fails('nljson', q:post({i = 1}))\n"
        "fails('nljson', q:post(nil))\n"
        "local t = nljson.decode('{\"a\":{\"b\":{\"c\":1}}}'); local c = t.a.b; t.a = nil\n"
        "fails('nljson', q:post(c))\n"
        "fails('^Usage', q.recv())\n"
        "fails('^Usage', q:recv(1))\n"
        "fails('^Usage', q.try_recv())\n"
        "fails('^Usage', q:try_recv(1))\n"
        "same(q:try_recv(), nil, 'nothing was posted')\n"
        "same(getmetatable(q), 'mqr', 'metatable hidden')\n"
        "same(q.__gc, nil, '__gc not reachable')\n");
    lua_close(L);
}

/* A subtree posts on its own; the message does not follow later changes of its tree. */
Test(mqr, posts_a_copy)
{
    lua_State *L = new_state();

    run(L, "local q = mqr.create('copy')\n"
           "local t = nljson.decode('{\"a\":{\"b\":[1,2]},\"c\":3}')\n"
           "q:post(t.a); q:post(t)\n"
           "t.a.b[1] = 99; t.c = nil\n"
           "same(nljson.encode(q:try_recv()), '{\"b\":[1,2]}', 'subtree')\n"
           "same(nljson.encode(q:try_recv()), '{\"a\":{\"b\":[1,2]},\"c\":3}', 'whole')\n");
    lua_close(L);
}

/* Values cross states unchanged: nested containers, strings (with NUL, UTF-8 and bytes),
 * integers beyond 2^53 and at the ends of the 64-bit ranges, floats, booleans, null. */
Test(mqr, values_round_trip)
{
    lua_State *A = new_state(), *B = new_state();
    lapps_value *v = lapps_value_build(
        "{s: {s: [i, i, U, I, I], s: [f, f]}, s: s, s: s#, s: y#, s: [b, b, n], s: {}, s: [],"
        " s: [[[{s: n}]]]}",
        "nums", "ints", 0, -1, UINT64_MAX, INT64_MIN, (int64_t)9007199254740993, "floats", 1.5,
        -0.25, "text", "h\xc3\xa9llo", "nul", "a\0b", (size_t)3, "bytes", "\xff\x00\x80", (size_t)3,
        "flags", 1, 0, "empty_map", "empty_array", "deep", "x");

    cr_assert_not_null(v);
    lapps__nljson_push_copy(A, v);
    lua_setglobal(A, "value");
    run(A, "same(mqr.create('values'):post(value), true, 'post')");
    run(B, "got = mqr.create('values'):try_recv()\n"
           "assert(got, 'no message')\n"
           "same(tostring(got.nums.ints[3]), '18446744073709551615ULL', 'uint64 max')\n"
           "same(tostring(got.nums.ints[4]), '-9223372036854775808LL', 'int64 min')\n"
           "same(tostring(got.nums.ints[5]), '9007199254740993LL', '2^53 + 1')\n"
           "same(got.nul, 'a\\0b', 'NUL kept')\n"
           "same(got.flags[1], true); same(got.flags[2], false)\n"
           "same(nljson.typename(got.flags[3]), 'null', 'null')\n");
    lua_getglobal(B, "got");
    const lapps_value *got = lapps__nljson_get(B, -1);
    cr_assert_not_null(got);
    cr_assert(lapps_value_equal(got, v), "the value changed on its way");
    lua_pop(B, 1);
    lapps_value_free(v);
    lua_close(A);
    lua_close(B);
}

/* The last handle frees the queue and the messages in it; a name used again starts
 * afresh. ASan's leak check makes sure nothing stays behind. */
Test(mqr, freed_with_the_last_handle)
{
    lua_State *A = new_state(), *B = new_state();

    run(A, "qa = mqr.create('gc', 8); for i = 1, 5 do qa:post(msg(i)) end");
    run(B, "qb = mqr.create('gc'); qb2 = mqr.create('gc')");
    cr_assert_eq(lapps__mqr_queues(), 1);
    lua_close(A);
    cr_assert_eq(lapps__mqr_queues(), 1, "B still holds the queue");
    run(B, "same(qb:try_recv().i, 1, 'messages outlive their poster')");
    run(B, "qb = nil; collectgarbage(); collectgarbage()");
    cr_assert_eq(lapps__mqr_queues(), 1, "qb2 still holds it");
    run(B, "qb2 = nil; collectgarbage(); collectgarbage()");
    cr_assert_eq(lapps__mqr_queues(), 0, "the last handle freed the queue");
    run(B, "local q = mqr.create('gc', 2)\n"
           "same(q:try_recv(), nil, 'a fresh queue')\n"
           "q:post(msg(1)); q:post(msg(2)); same(q:post(msg(3)), false, 'its new capacity')\n");
    lua_close(B);
    cr_assert_eq(lapps__mqr_queues(), 0);
}

/* With a stop hook, recv waits for a message; the stop wakes it with nil. */
Test(mqr, stop_wakes_a_blocked_recv)
{
    atomic_int stop = 0;
    struct runner r;
    lua_State *L = new_state();

    run(L, "q = mqr.create('wait')");
    runner_start(&r, &stop,
                 "local q = mqr.create('wait')\n"
                 "same(q:recv().i, 1, 'first: waited for')\n"
                 "local m = q:recv()\n"
                 "same(m, nil, 'at the stop')\n");
    sleep_ms(100);
    cr_assert_not(atomic_load(&r.done), "recv did not wait");
    run(L, "q:post(msg(1))");
    sleep_ms(100);
    cr_assert_not(atomic_load(&r.done), "the second recv did not wait");
    double t0 = now_s();
    atomic_store(&stop, 1);
    cr_assert(runner_wait(&r, 5000), "recv did not end at the stop");
    cr_assert_lt(now_s() - t0, 1.0, "the stop took %f s", now_s() - t0);
    runner_join(&r);
    lua_close(L);
}

/* Messages already queued are still delivered once stopping; nil only instead of a wait. */
Test(mqr, stopping_recv_drains_first)
{
    atomic_int stop = 1;
    lua_State *L = new_state();

    lapps__lua_nap_set_stop(L, flag_hook, &stop);
    run(L, "local q = mqr.create('drain')\n"
           "q:post(msg(1)); q:post(msg(2))\n"
           "same(q:recv().i, 1); same(q:recv().i, 2); same(q:recv(), nil, 'then nil')\n");
    lua_close(L);
}

/* With a stop hook, post to a full queue waits for room, and ends at the stop. The
 * runner reports its progress on a second queue. */
Test(mqr, full_queue_post_waits)
{
    atomic_int stop = 0;
    struct runner r;
    lua_State *L = new_state();

    run(L, "q = mqr.create('full', 1); same(q:post(msg(1)), true)\n"
           "progress = mqr.create('progress')\n"
           "function wait_progress()\n"
           "  for _ = 1, 5000 do\n"
           "    local m = progress:try_recv(); if m then return m.i end\n"
           "    os.execute('sleep 0.001')\n"
           "  end\n"
           "end\n");
    runner_start(&r, &stop,
                 "local q, progress = mqr.create('full', 1), mqr.create('progress')\n"
                 "same(q:post(msg(2)), true, 'posted once room was made')\n"
                 "progress:post(msg(2))\n"
                 "local ok, why = q:post(msg(3))\n"
                 "same(ok, false, 'post at the stop'); same(why, 'stopping', 'reason')\n");
    sleep_ms(100);
    cr_assert_not(atomic_load(&r.done), "post did not wait for room");
    run(L, "same(progress:try_recv(), nil, 'the post went through without room')\n"
           "same(q:try_recv().i, 1)\n"
           "same(wait_progress(), 2, 'the waiting post went through once room was made')\n");
    /* The queue holds 2: the third post waits until the stop. */
    sleep_ms(100);
    cr_assert_not(atomic_load(&r.done), "the third post did not wait");
    double t0 = now_s();
    atomic_store(&stop, 1);
    cr_assert(runner_wait(&r, 5000), "post did not end at the stop");
    cr_assert_lt(now_s() - t0, 1.0, "the stop took %f s", now_s() - t0);
    runner_join(&r);
    run(L, "same(q:try_recv().i, 2); same(q:try_recv(), nil, 'the refused post left nothing')");
    lua_close(L);
}

/* ---- exactly once ---- */

/* A producer (waiting on a small queue) and two consumers, each in its own state and
 * thread: every message is received exactly once, none lost; the stop then ends both
 * consumers, which wait in recv by then. */
Test(mqr, exactly_once_across_two_consumers)
{
    atomic_int stop = 0, producer_stop = 0;
    struct runner consumer[2], producer;
    static const char consume[] = "local q = mqr.create('once', 64)\n"
                                  "while true do\n"
                                  "  local m = q:recv()\n"
                                  "  if m == nil then break end\n"
                                  "  seen(m.i)\n"
                                  "end\n";
    static const char produce[] = "local q = mqr.create('once', 64)\n"
                                  "for i = 1, 10000 do same(q:post(msg(i)), true, 'post') end\n";

    for (int i = 0; i < 2; i++)
        runner_start(&consumer[i], &stop, consume);
    runner_start(&producer, &producer_stop, produce);
    cr_assert(runner_wait(&producer, 60000), "the producer did not finish");
    runner_join(&producer);
    for (int t = 0; t < 60000 && atomic_load(&seen_total) < N_MESSAGES; t += 5)
        sleep_ms(5);
    cr_assert_eq(atomic_load(&seen_total), N_MESSAGES, "messages received");
    /* Both consumers now wait in recv on an empty queue. */
    sleep_ms(50);
    cr_assert_not(atomic_load(&consumer[0].done) || atomic_load(&consumer[1].done));
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        cr_assert(runner_wait(&consumer[i], 5000), "consumer %d did not stop", i);
        runner_join(&consumer[i]);
    }
    for (int i = 1; i <= N_MESSAGES; i++)
        cr_assert_eq(atomic_load(&seen_count[i]), 1, "message %d received %d times", i,
                     atomic_load(&seen_count[i]));
    cr_assert_eq(atomic_load(&seen_total), N_MESSAGES, "extra messages");
    cr_assert_eq(lapps__mqr_queues(), 0);
}
