/* mqr.c — the LAppS `mqr` module: named in-process message queues between services.
 *
 * The registry. Queues live in one process-wide list under a mutex, found by their name
 * (compared whole: LAppS compared std::hash digests of names, so two names could share a
 * queue). Creating a name that exists returns that queue, whatever capacity is asked.
 * Lookups are linear in the number of queues: services create their queues once, at
 * start, and messages never touch the registry. A queue is reference counted by the
 * handles (userdata) of every state: the __gc of the last one frees it and any messages
 * still in it. LAppS never freed a queue; here a name whose every handle is gone starts
 * afresh, empty, with the capacity of its next create().
 *
 * Messages. post() deep-copies the nljson value into a malloc'd tree (lapps_value_copy),
 * which the queue owns until a recv() rebuilds it as a new nljson value in the
 * receiving state (lapps__nljson_push_copy) and frees it. So no Lua object crosses
 * states, and a message is independent of the tree it came from. Each message goes to
 * exactly one receiver, in the order posted (one mutex per queue).
 *
 * Bounded. LAppS's queues had no limit: its own mqr_sender example, posting in a tight
 * loop, grew memory without end. A queue here holds at most `capacity` messages
 * (create's second argument; LAPPS__MQR_DEFAULT_CAPACITY by default). It counts
 * messages, not bytes.
 *
 * Blocking. A state may block only if it has a stop hook (modules.h), which the Lua host
 * sets for standalone and isolated services, whose threads are their own:
 *  - there, post() on a full queue waits for room and recv() on an empty one waits for
 *    a message; both wait on a condition variable in slices of at most 10 ms, asking the
 *    hook in between, so a stop ends them within one slice: recv() returns nil and
 *    post() false, "stopping". recv() still returns the messages already queued when
 *    the service is stopping: nil only means that it would have had to wait.
 *  - without a hook (a reactive service on a worker, where a wait would stall every
 *    connection of the worker), post() on a full queue returns false, "queue full"
 *    at once, and recv() always returns false and a reason — even when a message is
 *    there, so that the mistake shows at the first call, not under load; try_recv() is
 *    the way to read a queue there.
 *  try_recv() never blocks anywhere: it returns nil when the queue is empty.
 *
 * Errors, in LAppS's contract: mqr.create returns nil and a usage message for bad
 * arguments; post, recv and try_recv return false and a reason (a usage message for a
 * wrong argument count or a self that is not a queue). Differences from LAppS:
 *  - LAppS's post raised a Lua error (luaL_checkudata) for a message that was not
 *    nljson; it returns false and a reason here, as its code meant to.
 *  - mqr:create(name) works as well as mqr.create(name) (LAppS answered the ':' form
 *    with its usage message); create takes an optional capacity.
 *  - recv ends with nil at a stop (LAppS's blocked forever, so its server could not stop
 *    while a consumer waited), and refuses reactive services.
 *  - Out of memory while rebuilding a received message raises a Lua error; that
 *    message is lost (it has left the queue). Everything else reports it as a reason.
 * Only nljson values are messages, as in LAppS (not plain Lua strings or tables). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include <lapps/value.h>

#include "lua/modules.h"
#include "lua/mqr.h"
#include "lua/nljson.h"

#define MT       "mqr"
#define SLICE_NS (10 * 1000000L) /* the longest a wait goes without asking the stop hook */

#define USAGE_CREATE                                                                               \
    "Usage: mqr.create(name[, capacity]) - name a string, capacity a whole number of "             \
    "messages from 1 to 16777216 (default 1024); returns an mqr queue, or nil and this message"
#define USAGE_POST     "Usage: boolean[, string] q:post(nljson) - call it with ':' on an mqr queue"
#define USAGE_RECV     "Usage: nljson q:recv() - call it with ':' on an mqr queue"
#define USAGE_TRY_RECV "Usage: nljson q:try_recv() - call it with ':' on an mqr queue"
#define E_NOT_NLJSON   "mqr: post takes an nljson value (one still part of its tree)"
#define E_NOMEM        "not enough memory"
#define E_REACTIVE                                                                                 \
    "mqr: recv would block the worker of this reactive service: use try_recv, or make the "        \
    "service standalone or isolated"

struct msg {
    struct msg *next;
    lapps_value *v;
};

struct queue {
    struct queue *next;   /* in the registry, under reg_lock */
    size_t refs;          /* handles in every state, under reg_lock */
    pthread_mutex_t lock; /* the fields below */
    pthread_cond_t readable, writable;
    struct msg *head, **tail;
    size_t count, cap;
    size_t namelen;
    char name[];
};

/* A userdata: the queue it holds a reference to, and a message taken from the queue but
 * not yet rebuilt in Lua (freed by the next recv or by __gc if rebuilding raised). */
struct handle {
    struct queue *q;
    struct msg *held;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct queue *reg_head;
static size_t reg_count;

static void
msg_free(struct msg *m)
{
    if (m) {
        lapps_value_free(m->v);
        free(m);
    }
}

/* A new queue with one reference, or NULL when out of memory. */
static struct queue *
queue_new(const char *name, size_t len, size_t cap)
{
    struct queue *q = malloc(sizeof *q + len);
    pthread_condattr_t attr;

    if (!q)
        return NULL;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_attr;
    /* Waits end by the monotonic clock: setting the date must not stretch a slice. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&q->lock, NULL) != 0)
        goto fail_lock;
    if (pthread_cond_init(&q->readable, &attr) != 0)
        goto fail_readable;
    if (pthread_cond_init(&q->writable, &attr) != 0)
        goto fail_writable;
    pthread_condattr_destroy(&attr);
    q->refs = 1;
    q->head = NULL;
    q->tail = &q->head;
    q->count = 0;
    q->cap = cap;
    q->namelen = len;
    memcpy(q->name, name, len);
    return q;

fail_writable:
    pthread_cond_destroy(&q->readable);
fail_readable:
    pthread_mutex_destroy(&q->lock);
fail_lock:
    pthread_condattr_destroy(&attr);
fail_attr:
    free(q);
    return NULL;
}

static void
queue_free(struct queue *q)
{
    for (struct msg *m = q->head, *next; m; m = next) {
        next = m->next;
        msg_free(m);
    }
    pthread_cond_destroy(&q->writable);
    pthread_cond_destroy(&q->readable);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* The queue called name[0..len), with one more reference; made with capacity @p cap if
 * there is none. NULL when out of memory. */
static struct queue *
queue_get(const char *name, size_t len, size_t cap)
{
    struct queue *q;

    pthread_mutex_lock(&reg_lock);
    for (q = reg_head; q; q = q->next)
        if (q->namelen == len && memcmp(q->name, name, len) == 0)
            break;
    if (q) {
        q->refs++;
    } else if ((q = queue_new(name, len, cap)) != NULL) {
        q->next = reg_head;
        reg_head = q;
        reg_count++;
    }
    pthread_mutex_unlock(&reg_lock);
    return q;
}

/* Drops one reference; the last one unlinks and frees the queue. Nobody else can be using
 * it then: every user holds a reference. */
static void
queue_release(struct queue *q)
{
    bool last;

    pthread_mutex_lock(&reg_lock);
    last = --q->refs == 0;
    if (last) {
        struct queue **p = &reg_head;

        while (*p != q)
            p = &(*p)->next;
        *p = q->next;
        reg_count--;
    }
    pthread_mutex_unlock(&reg_lock);
    if (last)
        queue_free(q);
}

size_t
lapps__mqr_queues(void)
{
    size_t n;

    pthread_mutex_lock(&reg_lock);
    n = reg_count;
    pthread_mutex_unlock(&reg_lock);
    return n;
}

/* One slice of a wait on @p cv (with q->lock held): returns after a signal, a spurious
 * wake-up or SLICE_NS, whichever comes first; the caller checks its condition again. */
static void
wait_slice(struct queue *q, pthread_cond_t *cv)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += SLICE_NS;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, &q->lock, &ts);
}

/* Takes the oldest message (the queue is not empty; q->lock held). */
static struct msg *
queue_pop(struct queue *q)
{
    struct msg *m = q->head;

    q->head = m->next;
    if (!q->head)
        q->tail = &q->head;
    q->count--;
    /* One message out makes room for one post: one waiter is enough. */
    pthread_cond_signal(&q->writable);
    return m;
}

/* ---- Lua ---- */

static int
fail(lua_State *L, const char *why)
{
    lua_pushboolean(L, 0);
    lua_pushstring(L, why);
    return 2;
}

/* The queue handle at @p idx, or NULL when the value there is not one (or is the
 * handle of a create that failed, which holds no queue). */
static struct handle *
test_handle(lua_State *L, int idx)
{
    struct handle *h = lua_touserdata(L, idx);
    bool ok = false;

    if (h && lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, MT);
        ok = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    return ok && h->q ? h : NULL;
}

/* Rebuilds the held message as an nljson value on the stack, then frees it. If the copy
 * raises (out of memory), the message stays held and is freed later. */
static int
deliver(lua_State *L, struct handle *h)
{
    lapps__nljson_push_copy(L, h->held->v);
    msg_free(h->held);
    h->held = NULL;
    return 1;
}

/* mqr.create(name[, capacity]) or mqr:create(name[, capacity]). */
static int
mqr_create(lua_State *L)
{
    /* A name is a string (or a number, as lua_isstring allows), never a table: a table
     * first is the module itself, given by the ':' form. */
    int base = lua_istable(L, 1) ? 2 : 1;
    int argc = lua_gettop(L) - base + 1;
    lua_Number cap = LAPPS__MQR_DEFAULT_CAPACITY;
    const char *name;
    size_t len;
    struct handle *h;

    if (argc < 1 || argc > 2 || !lua_isstring(L, base))
        goto usage;
    if (argc == 2 && !lua_isnil(L, base + 1)) {
        if (lua_type(L, base + 1) != LUA_TNUMBER)
            goto usage;
        cap = lua_tonumber(L, base + 1);
        /* Written so that NaN fails too. */
        if (!(cap >= 1 && cap <= LAPPS__MQR_MAX_CAPACITY) || cap != (lua_Number)(size_t)cap)
            goto usage;
    }
    name = lua_tolstring(L, base, &len);
    /* The userdata and its metatable first: once the queue is referenced nothing may
     * raise before the handle holds it (__gc takes a handle without a queue). */
    h = lua_newuserdata(L, sizeof *h);
    h->q = NULL;
    h->held = NULL;
    luaL_getmetatable(L, MT);
    lua_setmetatable(L, -2);
    if (!(h->q = queue_get(name, len, (size_t)cap))) {
        lua_pushnil(L);
        lua_pushliteral(L, E_NOMEM);
        return 2;
    }
    return 1;

usage:
    lua_pushnil(L);
    lua_pushliteral(L, USAGE_CREATE);
    return 2;
}

static int
mqr_post(lua_State *L)
{
    struct handle *h = test_handle(L, 1);
    lapps__lua_stop_fn stop = NULL;
    void *ctx = NULL;
    const lapps_value *v;
    struct queue *q;
    struct msg *m;
    bool can_wait, full;

    if (!h || lua_gettop(L) != 2)
        return fail(L, USAGE_POST);
    q = h->q;
    if (!(v = lapps__nljson_get(L, 2)))
        return fail(L, E_NOT_NLJSON);
    /* Before anything is allocated: it may raise. */
    can_wait = lapps__lua_stop_hook(L, &stop, &ctx);
    if (!can_wait) {
        /* Spares a reactive service the copy of a message it cannot post. */
        pthread_mutex_lock(&q->lock);
        full = q->count >= q->cap;
        pthread_mutex_unlock(&q->lock);
        if (full)
            return fail(L, "queue full");
    }
    if (!(m = malloc(sizeof *m)))
        return fail(L, E_NOMEM);
    m->next = NULL;
    if (!(m->v = lapps_value_copy(v))) {
        free(m);
        return fail(L, E_NOMEM);
    }
    pthread_mutex_lock(&q->lock);
    while (q->count >= q->cap) {
        const char *why = !can_wait ? "queue full" : stop(ctx) != 0 ? "stopping" : NULL;

        if (why) {
            pthread_mutex_unlock(&q->lock);
            msg_free(m);
            return fail(L, why);
        }
        wait_slice(q, &q->writable);
    }
    *q->tail = m;
    q->tail = &m->next;
    q->count++;
    pthread_cond_signal(&q->readable);
    pthread_mutex_unlock(&q->lock);
    lua_pushboolean(L, 1);
    return 1;
}

static int
mqr_recv(lua_State *L)
{
    struct handle *h = test_handle(L, 1);
    lapps__lua_stop_fn stop;
    void *ctx;
    struct queue *q;

    if (!h || lua_gettop(L) != 1)
        return fail(L, USAGE_RECV);
    if (!lapps__lua_stop_hook(L, &stop, &ctx))
        return fail(L, E_REACTIVE);
    q = h->q;
    msg_free(h->held);
    h->held = NULL;
    pthread_mutex_lock(&q->lock);
    while (q->count == 0) {
        if (stop(ctx) != 0) {
            pthread_mutex_unlock(&q->lock);
            lua_pushnil(L);
            return 1;
        }
        wait_slice(q, &q->readable);
    }
    h->held = queue_pop(q);
    pthread_mutex_unlock(&q->lock);
    return deliver(L, h);
}

static int
mqr_try_recv(lua_State *L)
{
    struct handle *h = test_handle(L, 1);
    struct queue *q;

    if (!h || lua_gettop(L) != 1)
        return fail(L, USAGE_TRY_RECV);
    q = h->q;
    msg_free(h->held);
    h->held = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->count > 0)
        h->held = queue_pop(q);
    pthread_mutex_unlock(&q->lock);
    if (!h->held) {
        lua_pushnil(L);
        return 1;
    }
    return deliver(L, h);
}

static int
mqr_gc(lua_State *L)
{
    struct handle *h = test_handle(L, 1);

    if (h && h->q) {
        msg_free(h->held);
        h->held = NULL;
        queue_release(h->q);
        h->q = NULL;
    }
    return 0;
}

void
lapps__lua_open_mqr(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"create", mqr_create}, {NULL, NULL}};
    static const luaL_Reg methods[] = {
        {"post", mqr_post}, {"recv", mqr_recv}, {"try_recv", mqr_try_recv}, {NULL, NULL}};

    luaL_register(L, "mqr", funcs);
    /* The queues' metatable, once per state: handles made before a second opening keep
     * theirs. */
    if (luaL_newmetatable(L, MT)) {
        lua_pushcfunction(L, mqr_gc);
        lua_setfield(L, -2, "__gc");
        lua_createtable(L, 0, 3);
        luaL_register(L, NULL, methods);
        lua_setfield(L, -2, "__index");
        /* getmetatable(q) does not expose __gc to scripts. */
        lua_pushliteral(L, MT);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 2);
}
