/* state.c — one instance's lua_State: how it is built, how every call into it is
 * protected, and the instruction budget.
 *
 * Nothing here runs Lua unprotected: LuaJIT's panic path ends the process, so even the
 * pushing of a callback's arguments (which allocates) happens inside lua_pcall, in a
 * trampoline kept in the registry (lua_pushcfunction would allocate a closure per call). */
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "lua/host.h"
#include "lua/modules.h"
#include "lua/nljson.h"

static const char *const reactive_names[] = {"onStart", "onMessage", "onDisconnect", "onShutdown",
                                             NULL};
static const char *const standalone_names[] = {"init", "run", NULL};

static const char *const *
callback_names(const struct lapps__lua_svc *svc)
{
    return svc->standalone ? standalone_names : reactive_names;
}

/* ---- standalone globals ---- */

/* must_stop(): true once the server is stopping (LAppS's global of the same name). */
static int
lua_must_stop(lua_State *L)
{
    struct lapps__lua_inst *li = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushboolean(L, li->task && lapps_task_must_stop(li->task));
    return 1;
}

/* nap's sleeps end early once the service must stop. */
static int
nap_must_stop(void *ctx)
{
    struct lapps__lua_inst *li = ctx;
    return li->task && lapps_task_must_stop(li->task);
}

static void
open_standalone(lua_State *L, struct lapps__lua_inst *li)
{
    lapps__lua_nap_set_stop(L, nap_must_stop, li);
    lua_pushlightuserdata(L, li);
    lua_pushcclosure(L, lua_must_stop, 1);
    lua_setglobal(L, "must_stop");
    /* A string, as in LAppS. */
    lua_pushfstring(L, "%d", li->task ? (int)lapps_task_instance(li->task) : 0);
    lua_setglobal(L, "instance_id");
}

/* ---- print ---- */

/* print(...) writes one log line, the arguments tostring()ed and joined by tabs, as
 * Lua's print does on stdout. */
static int
lua_print(lua_State *L)
{
    struct lapps__lua_inst *li = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    luaL_checkstack(L, 2 * n + 2, "too many arguments to print");
    lua_getglobal(L, "tostring");
    int tostring = n + 1, parts = 0;
    for (int i = 1; i <= n; i++) {
        if (i > 1) {
            lua_pushliteral(L, "\t");
            parts++;
        }
        lua_pushvalue(L, tostring);
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
        if (!lua_isstring(L, -1))
            return luaL_error(L, "'tostring' must return a string to 'print'");
        parts++;
    }
    lua_concat(L, parts);
    lapps_log(li->svc->srv, LAPPS_LOG_INFO, "%s: %s", li->svc->name, lua_tostring(L, -1));
    return 0;
}

/* ---- the budget ---- */

static void
budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_getfield(L, LUA_REGISTRYINDEX, "lapps.inst");
    struct lapps__lua_inst *li = lua_touserdata(L, -1);
    lua_pop(L, 1);
    /* From now on every instruction raises, so a script that catches the error with
     * pcall cannot go on running: the error reaches the host's pcall. */
    if (!li->budget_spent) {
        li->budget_spent = true;
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    }
    char msg[64]; /* lua_pushfstring knows no 64-bit format */
    snprintf(msg, sizeof msg, "instruction budget of %llu exceeded",
             (unsigned long long)li->svc->budget);
    luaL_error(L, "%s", msg);
}

static void
budget_arm(struct lapps__lua_inst *li)
{
    if (li->svc->budget == 0)
        return;
    li->budget_spent = false;
    uint64_t b = li->svc->budget;
    lua_sethook(li->L, budget_hook, LUA_MASKCOUNT, b > 0x7fffffff ? 0x7fffffff : (int)b);
}

static void
budget_disarm(struct lapps__lua_inst *li)
{
    if (li->svc->budget)
        lua_sethook(li->L, NULL, 0, 0);
}

/* ---- protected calls ---- */

int
lapps__lua_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

static void
push_handler(lua_State *L, uint64_t id)
{
    lua_pushnumber(L, (lua_Number)id); /* ids stay below 2^46: exact */
}

/* The trampoline's upvalues: the module table and the two callbacks called per message
 * (an upvalue is cheaper to reach than the registry), and the instance, whose `call`
 * says what to do: a light userdata pushed per call would be interned per call. */
enum { UP_MODULE = 1, UP_ON_MESSAGE, UP_ON_DISCONNECT, UP_INST };

static int
trampoline(lua_State *L)
{
    struct lapps__lua_inst *li = lua_touserdata(L, lua_upvalueindex(UP_INST));
    struct lapps__lua_call *k = li->call;
    int nargs = 0;
    switch (k->cb) {
    case CB_ON_MESSAGE_RAW:
        lua_pushvalue(L, lua_upvalueindex(UP_ON_MESSAGE));
        push_handler(L, k->conn_id);
        lua_pushinteger(L, k->kind);
        lua_pushlstring(L, k->data, k->len);
        nargs = 3;
        break;
    case CB_ON_MESSAGE_LAPPS:
        lua_pushvalue(L, lua_upvalueindex(UP_ON_MESSAGE));
        push_handler(L, k->conn_id);
        lua_pushinteger(L, k->kind);
        lapps__nljson_push_copy(L, k->message);
        nargs = 3;
        break;
    case CB_ON_DISCONNECT:
        lua_pushvalue(L, lua_upvalueindex(UP_ON_DISCONNECT));
        push_handler(L, k->conn_id);
        nargs = 1;
        break;
    case CB_ON_START:
    case CB_ON_SHUTDOWN:
    case CB_INIT:
    case CB_RUN: {
        static const char *const fn[] = {[CB_ON_START] = "onStart",
                                         [CB_ON_SHUTDOWN] = "onShutdown",
                                         [CB_INIT] = "init",
                                         [CB_RUN] = "run"};
        lua_getfield(L, lua_upvalueindex(UP_MODULE), fn[k->cb]);
        break;
    }
    }
    lua_call(L, nargs, 1);
    k->returned_true = lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    return 0;
}

/* A raw message's way in when the JIT is on: a Lua function (compiled, with onMessage
 * and the service's ws:send, into one trace) that makes the Lua string itself, inside
 * the protected call, from the pointer C leaves in a one-pointer cdata box. */
static const char raw_trampoline_chunk[] =
    "local on_message = ...\n"
    "local ffi = require('ffi')\n"
    "local box = ffi.new('const char *[1]')\n"
    "local ffi_string = ffi.string\n"
    "return function(h, op, n) return on_message(h, op, ffi_string(box[0], n)) end, box\n";

/* What every call starts with stays on the bottom of the state's stack (see
 * lapps__lua_inst_open()): the traceback, the C trampoline, and the raw trampoline with
 * its box (nil when the JIT is off: then the C trampoline pushes the string). */
enum {
    SLOT_TRACEBACK = 1,
    SLOT_TRAMPOLINE,
    SLOT_RAW_TRAMPOLINE,
    SLOT_RAW_BOX,
    SLOTS = SLOT_RAW_BOX
};

static int
pcall_raw(struct lapps__lua_inst *li, struct lapps__lua_call *k)
{
    lua_State *L = li->L;
    *li->raw_box = k->len ? k->data : ""; /* an empty message may have no address */
    lua_pushvalue(L, SLOT_RAW_TRAMPOLINE);
    push_handler(L, k->conn_id);
    lua_pushinteger(L, k->kind);
    lua_pushnumber(L, (lua_Number)k->len);
    int rc = lua_pcall(L, 3, 1, SLOT_TRACEBACK);
    if (rc == 0)
        k->returned_true = lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    return rc;
}

int
lapps__lua_call(struct lapps__lua_call *k)
{
    struct lapps__lua_inst *li = k->li;
    lua_State *L = li->L;
    int rc;
    if (k->cb == CB_ON_MESSAGE_RAW && li->raw_box) {
        rc = pcall_raw(li, k);
    } else {
        lua_pushvalue(L, SLOT_TRAMPOLINE);
        li->call = k;
        budget_arm(li);
        rc = lua_pcall(L, 0, 0, SLOT_TRACEBACK);
        budget_disarm(li);
    }
    if (rc != 0) {
        static const char *const names[] = {"onStart",    "onMessage", "onMessage", "onDisconnect",
                                            "onShutdown", "init",      "run"};
        const char *msg = lua_tostring(L, -1);
        lapps_log(li->svc->srv, LAPPS_LOG_ERROR, "%s.%s: %s", li->svc->name, names[k->cb],
                  msg ? msg : "(no message: out of memory?)");
    }
    lua_settop(L, SLOTS);
    return rc == 0 ? 0 : LAPPS_ERR_INVAL;
}

/* ---- building a state ---- */

struct setup {
    struct lapps__lua_inst *li;
    const char *missing; /* the first callback the module lacks */
};

static int
setup_state(lua_State *L)
{
    struct setup *st = lua_touserdata(L, 1);
    struct lapps__lua_inst *li = st->li;
    struct lapps__lua_svc *svc = li->svc;
    luaL_openlibs(L);
    /* After the libraries: opening `jit` turns the compiler (back) on. */
    if (svc->budget)
        luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    lua_pushlightuserdata(L, li);
    lua_setfield(L, LUA_REGISTRYINDEX, "lapps.inst");
    lua_getglobal(L, "package");
    lua_pushstring(L, svc->package_path);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_pushlightuserdata(L, li);
    lua_pushcclosure(L, lua_print, 1);
    lua_setglobal(L, "print");
    lapps__nljson_open(L);
    lapps__lua_open_ws(L, li, svc->budget == 0);
    lapps__lua_open_bcast(L, li);
    if (svc->standalone)
        open_standalone(L, li);
    else if (li->must_stop) /* isolated: a thread of its own may block, until the stop */
        lapps__lua_nap_set_stop(L, li->must_stop, li->must_stop_ctx);
    for (char **p = svc->preload; *p; p++)
        lapps__lua_preload_find (*p)(L);
    /* require(name), with the budget on: module code runs here too. */
    lua_getglobal(L, "require");
    lua_pushstring(L, svc->name);
    budget_arm(li);
    lua_call(L, 1, 1);
    budget_disarm(li);
    if (!lua_istable(L, -1))
        return luaL_error(L, "module '%s' returned %s, not a table", svc->name,
                          luaL_typename(L, -1));
    lua_pushvalue(L, -1);
    lua_setglobal(L, svc->name);
    for (const char *const *name = callback_names(svc); *name; name++) {
        lua_getfield(L, -1, *name);
        if (!lua_isfunction(L, -1)) {
            st->missing = *name;
            return 0;
        }
        lua_pop(L, 1);
    }
    /* Returned: the stack's fixed slots. */
    lua_pushcfunction(L, lapps__lua_traceback);
    lua_pushvalue(L, -2);
    lua_getfield(L, -1, "onMessage");
    lua_getfield(L, -2, "onDisconnect");
    lua_pushlightuserdata(L, li);
    lua_pushcclosure(L, trampoline, 4);
    if (svc->budget == 0 && svc->protocol == LAPPS_PROTO_RAW && !svc->standalone) {
        if (luaL_loadbuffer(L, raw_trampoline_chunk, sizeof raw_trampoline_chunk - 1,
                            "=onMessage trampoline") != 0)
            lua_error(L);
        lua_getfield(L, -4, "onMessage");
        lua_call(L, 1, 2);
        li->raw_box = (const void **)lua_topointer(L, -1);
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
    }
    return SLOTS;
}

int
lapps__lua_inst_open(struct lapps__lua_inst *li, char *err, size_t errlen)
{
    li->L = luaL_newstate();
    if (!li->L) {
        snprintf(err, errlen, "service %s: no memory for a Lua state", li->svc->name);
        return LAPPS_ERR_NOMEM;
    }
    li->pending_tail = &li->pending;
    struct setup st = {.li = li};
    lua_State *L = li->L;
    lua_pushcfunction(L, lapps__lua_traceback);
    lua_pushcfunction(L, setup_state);
    lua_pushlightuserdata(L, &st);
    int rc = lua_pcall(L, 1, SLOTS, 1);
    if (rc != 0 || st.missing) {
        if (rc != 0)
            snprintf(err, errlen, "service %s: %s", li->svc->name,
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "out of memory");
        else
            snprintf(err, errlen, "service %s: the module has no function %s (it needs %s)",
                     li->svc->name, st.missing,
                     li->svc->standalone ? "init and run"
                                         : "onStart, onMessage, onDisconnect and onShutdown");
        lua_close(L);
        li->L = NULL;
        return rc == LUA_ERRMEM ? LAPPS_ERR_NOMEM : LAPPS_ERR_INVAL;
    }
    lua_remove(L, 1); /* the traceback used for the setup */
    return 0;
}

void
lapps__lua_inst_close(struct lapps__lua_inst *li)
{
    lapps__lua_drop_pending(li, 0, true);
    if (li->L)
        lua_close(li->L);
    li->L = NULL;
    li->raw_box = NULL;
}
