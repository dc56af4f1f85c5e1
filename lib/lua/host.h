/* host.h — what the parts of the Lua host share: a registered Lua service, one
 * instance's state, protected calls into Lua, and the requests a LAppS service has yet
 * to answer. */
#ifndef LAPPS_LUA_HOST_H
#define LAPPS_LUA_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include <lapps/lapps.h>
#include <lua.h>

struct lapps__lua_inst;

/* A registered Lua service: the description with its strings copied. It is the user
 * data of the lapps_service and lives as long as the server (lapps_service_set_cleanup). */
struct lapps__lua_svc {
    lapps_server *srv;
    char *name;
    char *target;
    char *package_path; /* "<dir>/?.lua;..." followed by Lua's default path */
    char **preload;     /* known module names only; NULL-terminated */
    lapps_protocol protocol;
    unsigned instances;
    bool isolated;
    bool standalone; /* init() and run() on a task thread (lapps/task.h) */
    uint64_t budget;
    struct lapps__lua_iso *iso; /* isolated services: their threads (isolated.c) */
};

/* A request of a LAppS service that its onMessage did not answer. Responses carry no
 * id, so a client matches them to its requests by order: the next response the service
 * sends on a connection answers that connection's oldest unanswered request. */
struct lapps__lua_pending {
    struct lapps__lua_pending *next;
    uint64_t conn_id;
    lapps_request *req; /* deferred handle */
};

/* Requests one instance may leave unanswered at once, over all its connections: the
 * connection whose request goes past it is closed with 1008, so a client that keeps
 * calling a method that never answers cannot grow the list without end. */
#define LAPPS__LUA_MAX_PENDING 65536

/* One instance: one lua_State, used by one thread only. */
struct lapps__lua_inst {
    struct lapps__lua_svc *svc;
    lapps_instance *inst; /* on a worker; NULL when isolated or standalone */
    lapps_task *task;     /* standalone: its thread (NULL in the registration check) */
    /* Isolated instances: when blocking calls (nap, mqr) must give up; NULL elsewhere
     * (standalone ones ask their task). */
    int (*must_stop)(void *ctx);
    void *must_stop_ctx;
    lua_State *L;
    bool budget_spent;            /* the hook fired: every instruction now raises until unwound */
    const void **raw_box;         /* where a raw message's address goes for the Lua trampoline */
    struct lapps__lua_call *call; /* the call the C trampoline is making */
    /* The request onMessage is handling (NULL for raw messages and afterwards). */
    lapps_request *cur_req;
    uint64_t cur_conn_id;
    bool cur_answered;
    struct lapps__lua_pending *pending, **pending_tail;
    size_t n_pending;
};

/* Creates the instance's state: libraries, package.path, ws, nljson, print, preloads,
 * then require(name), which must return a table with the four callbacks (a standalone
 * service: init and run, and the globals must_stop() and instance_id). On failure
 * writes the reason into err and returns LAPPS_ERR_INVAL (or LAPPS_ERR_NOMEM). */
int lapps__lua_inst_open(struct lapps__lua_inst *li, char *err, size_t errlen);
void lapps__lua_inst_close(struct lapps__lua_inst *li);

/* What a protected call carries: which callback, its arguments, and its outcome. */
enum lapps__lua_cb {
    CB_ON_START,
    CB_ON_MESSAGE_RAW,
    CB_ON_MESSAGE_LAPPS,
    CB_ON_DISCONNECT,
    CB_ON_SHUTDOWN,
    CB_INIT, /* standalone services */
    CB_RUN
};
struct lapps__lua_call {
    struct lapps__lua_inst *li;
    enum lapps__lua_cb cb;
    uint64_t conn_id;
    int kind; /* opcode or LAppS message type */
    const void *data;
    size_t len;
    const lapps_value *message;
    bool returned_true;
};

/* The message handler of every protected call: the error with a Lua traceback. */
int lapps__lua_traceback(lua_State *L);

/* Runs one callback protected, under the instruction budget. On a Lua error logs it
 * with its traceback and returns LAPPS_ERR_INVAL; else 0. */
int lapps__lua_call(struct lapps__lua_call *k);

/* LAppS's message types: 1 a client notification, 2 one with params, 3 a request, 4 one
 * with params. */
int lapps__lua_message_type(const lapps_value *message, uint64_t cid);

/* After onMessage handled a LAppS message (li->cur_req set before the call): answers
 * -32603 if the callback failed, else queues a request it left unanswered for the
 * connection's next response. @p deferred: cur_req is already a deferred handle. */
void lapps__lua_after_request(struct lapps__lua_inst *li, int rv, bool returned_true,
                              bool deferred);

/* Answers a request -32603 with @p why and never keeps its handle. */
void lapps__lua_release(lapps_request *req, const char *why);

/* Logs that onMessage returned something else than true (its connection closes). */
void lapps__lua_log_not_true(struct lapps__lua_inst *li);

/* The `ws` module (ws.c), bound to one instance; @p jit: the state compiles (no budget),
 * so raw sends may take the FFI path. */
void lapps__lua_open_ws(lua_State *L, struct lapps__lua_inst *li, bool jit);
/* Helpers of the modules' argument checks (ws.c). Pushes false and @p why; returns 2. */
int lapps__lua_fail(lua_State *L, const char *why);
/* The first argument after the module itself: `ws:send(h, …)` passes ws as argument 1,
 * `ws.send(h, …)` does not. */
int lapps__lua_first_arg(lua_State *L);
/* A handler or channel id: a non-negative integral number below 2^53. */
bool lapps__lua_id_at(lua_State *L, int idx, uint64_t *id);

/* The `bcast` module (bcast.c), bound to one instance's server. */
void lapps__lua_open_bcast(lua_State *L, struct lapps__lua_inst *li);

/* Releases the pending requests of one connection (all of them when @p all). */
void lapps__lua_drop_pending(struct lapps__lua_inst *li, uint64_t conn_id, bool all);

#endif /* LAPPS_LUA_HOST_H */
