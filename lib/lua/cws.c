/* cws.c — the LAppS `cws` module: WebSocket client connections (ws:// and wss://) from
 * Lua, for standalone services. The protocol is lib/ws/client*.c, the sockets
 * lib/net/client.c; this file is the Lua face and the per-state event loop.
 *
 * As in LAppS (include/modules/cws.h):
 *   local sock, err = cws:new(uri, {onopen = f, onmessage = f, onerror = f, onclose = f})
 *       connects (blocking up to the timeout) and returns a socket object, or nil and a
 *       message starting "Can't create socket: ". The upgrade completes later, inside
 *       cws:eventLoop(), which then calls onopen(handler).
 *   cws:send(handler, data, opcode)  opcode 1 (text) or 2 (binary); returns true, or
 *       false and a message (also for bad arguments: LAppS's usage text).
 *   cws:eventLoop()  one pass: polls this state's connections (LAppS: 1 ms; here 10 ms,
 *       or the optional argument in ms, 0..1000) and runs the callbacks of what happened.
 *   sock:close()  closes the connection.
 *   Callbacks: onopen(handler), onmessage(handler, message, opcode),
 *       onerror(handler, message), onclose(handler[, payload]); the handler is a number,
 *       the same in every callback of one connection. A missing callback is skipped; a
 *       callback that raises is logged with its traceback and the loop goes on (LAppS
 *       printed the error to stderr and went on).
 *
 * Differences from LAppS, and why:
 *   - Certificates are verified (against the system CA store, hostname or address
 *     checked): LAppS's client accepted any certificate for any name. An optional third
 *     argument to cws:new, a table, changes that: {verify = false} (LAppS's behaviour),
 *     {ca_file = "ca.pem"} (trust that CA instead), and also {timeout = seconds} (connect,
 *     handshake and close; default 10) and {max_message = bytes} (default 16 MiB, LAppS's).
 *   - The handler is an id counted from 1 per state, not the socket's fd, so a handler
 *     kept after its connection ended never names a newer connection.
 *   - onclose receives the payload as in LAppS (the server's raw close payload, or nil
 *     when it was empty), then two more arguments: the close code (a number: the server's,
 *     1005 when it gave none, the code we failed the connection with, or 1006 when it
 *     dropped) and the reason (a string). LAppS apps that ignore them run unchanged.
 *   - onclose fires once for every connection that opened, however it ended: after the
 *     server's close, after sock:close() (when the server answers, or at the timeout: the
 *     WebSocket API's behaviour; LAppS fired nothing), and after an error (onerror first;
 *     LAppS fired onerror only). A connection that never opened gets onerror only.
 *   - sock:close([code[, reason]]) runs the close handshake (default 1000; LAppS sent
 *     1001 and dropped the socket at once); cws:close(handler[, code[, reason]]) does the
 *     same by handler. Closing before the upgrade completed drops the connection with no
 *     callback.
 *   - A socket object that is garbage-collected does not close its connection (LAppS's
 *     __gc did, so a `cws:new(...)` whose result was not kept could vanish at any time):
 *     it lives until closed, or until the state ends (then a 1001 close is attempted).
 *   - cws:send(sock, data, opcode) with the socket object is accepted too; text that is
 *     not valid UTF-8 is refused by send (the server would close with 1007); a send before
 *     the upgrade is queued until it completes. Frames are masked with random keys from
 *     getrandom() (LAppS: CryptoPP's RNG); messages from the server are checked strictly
 *     (masked frames, bad UTF-8, over-size messages close the connection with
 *     1002/1007/1009, then onerror and onclose).
 *   - cws:eventLoop() returns the number of connections still alive (LAppS: nothing). A
 *     call from inside a cws callback returns at once (0 events): a nested loop would
 *     free buffers its caller still reads.
 * eventLoop blocks the calling thread for up to its timeout: it is meant for standalone
 * (or isolated) services; a reactive service on a worker should pass 0. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "lua/host.h"
#include "lua/modules.h"
#include "net/client.h"
#include "util/clock.h"
#include "ws/frame.h"

#define LOOP_DEFAULT_MS 10
#define LOOP_MAX_MS     1000
#define SOCKET_MT       "cws"

static const char pool_key;      /* the state's pool (a userdata) */
static const char callbacks_key; /* handler -> callbacks table */

static const char send_usage[] =
    "Usage: cws:send(handler,data,opcode), where handler is the handler provided by "
    "onmessage(), data is a string, opcode is an integer value equal to 1 or 2";
static const char new_usage[] =
    "Usage: cws:new(URI,callbacks[,options]) - where URI is a string, and the `callbacks' is "
    "the table consisting of user functions implementing WebSocket's Web API: onopen, "
    "onclose, onmessage, onerror; options: {verify=bool, ca_file=string, timeout=seconds, "
    "max_message=bytes}";

struct entry {
    uint32_t id;
    struct lapps__cws *c;
};

struct pool {
    struct entry *v;
    size_t n, cap;
    uint32_t next_id;
    int depth; /* eventLoop is running */
    struct pollfd *pfd;
    size_t pfd_cap;
};

struct sock {
    uint32_t id;
};

static struct pool *
get_pool(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&pool_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    struct pool *p = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!p)
        luaL_error(L, "cws: the module is not open in this state");
    return p;
}

static struct entry *
find(struct pool *p, uint32_t id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].id == id)
            return &p->v[i];
    return NULL;
}

/* A handler argument: a number, or a socket object (our extension). 0 when neither. */
static uint32_t
handler_arg(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, idx);
        return n >= 1 && n <= 4294967295.0 ? (uint32_t)n : 0;
    }
    struct sock *s = luaL_testudata(L, idx, SOCKET_MT);
    return s ? s->id : 0;
}

static void
log_error(lua_State *L, const char *what, const char *msg)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "lapps.inst");
    struct lapps__lua_inst *li = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (li && li->svc)
        lapps_log(li->svc->srv, LAPPS_LOG_ERROR, "%s: cws %s: %s", li->svc->name, what,
                  msg ? msg : "(error object is not a string)");
}

/* ---- cws:new ---- */

static int
opt_field(lua_State *L, int opts, const char *name, int type)
{
    lua_getfield(L, opts, name);
    int t = lua_type(L, -1);
    if (t != LUA_TNIL && t != type)
        return luaL_error(L, "cws:new: option %s must be a %s", name, lua_typename(L, type));
    return t != LUA_TNIL;
}

static int
cws_new(lua_State *L)
{
    int argc = lua_gettop(L);
    if ((argc != 3 && argc != 4) || !lua_isstring(L, 2) || !lua_istable(L, 3) ||
        (argc == 4 && !lua_istable(L, 4) && !lua_isnil(L, 4))) {
        lua_pushnil(L);
        lua_pushstring(L, new_usage);
        return 2;
    }
    struct pool *p = get_pool(L);
    struct lapps__cws_opts o = {0};
    if (argc == 4 && lua_istable(L, 4)) {
        if (opt_field(L, 4, "verify", LUA_TBOOLEAN))
            o.no_verify = !lua_toboolean(L, -1);
        if (opt_field(L, 4, "ca_file", LUA_TSTRING))
            o.ca_file = lua_tostring(L, -1); /* stays on the stack while used */
        if (opt_field(L, 4, "timeout", LUA_TNUMBER)) {
            lua_Number t = lua_tonumber(L, -1);
            if (!(t > 0 && t <= 3600))
                return luaL_error(L, "cws:new: option timeout must be in (0, 3600] seconds");
            o.timeout_ms = t * 1000 < 1 ? 1 : (int)(t * 1000);
        }
        if (opt_field(L, 4, "max_message", LUA_TNUMBER)) {
            lua_Number m = lua_tonumber(L, -1);
            if (!(m >= 1 && m <= 1099511627776.0))
                return luaL_error(L, "cws:new: option max_message must be in [1, 2^40] bytes");
            o.max_message = (uint64_t)m;
        }
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        struct entry *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return luaL_error(L, "cws:new: out of memory");
        p->v = v;
        p->cap = cap;
    }
    /* The object first: if Lua cannot allocate it, no connection is left behind. */
    struct sock *s = lua_newuserdata(L, sizeof *s);
    luaL_getmetatable(L, SOCKET_MT);
    lua_setmetatable(L, -2);
    lua_pushlightuserdata(L, (void *)&callbacks_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    int cbs = lua_gettop(L);
    char why[512];
    struct lapps__cws *c;
    int rv = lapps__cws_open(&c, lua_tostring(L, 2), &o, why, sizeof why);
    if (rv != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "Can't create socket: %s", why);
        return 2;
    }
    s->id = ++p->next_id;
    p->v[p->n++] = (struct entry){s->id, c};
    lua_pushnumber(L, s->id);
    lua_pushvalue(L, 3);
    /* Should this raise (out of memory), the connection stays, without callbacks. */
    lua_rawset(L, cbs);
    lua_pop(L, 1);
    return 1;
}

/* ---- cws:send ---- */

static int
fail2(lua_State *L, const char *msg)
{
    lua_pushboolean(L, 0);
    lua_pushstring(L, msg);
    return 2;
}

static int
cws_send(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc != 4 || (lua_type(L, 3) != LUA_TSTRING && lua_type(L, 3) != LUA_TNUMBER) ||
        !lua_isnumber(L, 4))
        return fail2(L, send_usage);
    uint32_t id = handler_arg(L, 2);
    lua_Number op = lua_tonumber(L, 4);
    if (id == 0 || (op != 1 && op != 2))
        return fail2(L, send_usage);
    struct entry *e = find(get_pool(L), id);
    if (!e || lapps__cws_done(e->c))
        return fail2(L, "no such connection");
    size_t len;
    const char *data = lua_tolstring(L, 3, &len);
    int rv = lapps__cws_send(e->c, (uint8_t)op, data, len);
    switch (rv) {
    case 0:
        lua_pushboolean(L, 1);
        return 1;
    case LAPPS_ERR_INVAL:
        return fail2(L, "text is not valid UTF-8");
    case LAPPS_ERR_STATE:
        return fail2(L, "the connection is closing");
    case LAPPS_ERR_LIMIT:
        return fail2(L, "outbound limit reached: too much data waits to be sent");
    default:
        return fail2(L, "out of memory");
    }
}

/* ---- close ---- */

/* sock:close([code[, reason]]) or cws:close(handler[, code[, reason]]). */
static int
cws_close(lua_State *L)
{
    uint32_t id = handler_arg(L, 1);
    int arg = 2;
    if (id == 0) {
        id = handler_arg(L, 2);
        arg = 3;
    }
    if (id == 0)
        return luaL_error(L, "Usage: sock:close([code[, reason]]) or "
                             "cws:close(handler[, code[, reason]])");
    lua_Number code = luaL_optnumber(L, arg, LAPPS__CLOSE_NORMAL);
    size_t rlen = 0;
    const char *reason = luaL_optlstring(L, arg + 1, "", &rlen);
    struct entry *e = find(get_pool(L), id);
    if (!e || lapps__cws_done(e->c))
        return fail2(L, "no such connection");
    if (!(code >= 0 && code <= 65535))
        return fail2(L, "invalid close code");
    int rv = lapps__cws_close(e->c, (uint16_t)code, reason, rlen);
    if (rv == LAPPS_ERR_INVAL)
        return fail2(L, "invalid close code, or a reason that is not UTF-8");
    if (rv < 0)
        return fail2(L, "out of memory");
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- the event loop ---- */

/* Calls callbacks[id][name] with the @p nargs values on the stack top, protected; pops
 * them. A callback that raises is logged, and the loop goes on. */
static void
call_back(lua_State *L, int cbs, uint32_t id, const char *name, int nargs)
{
    int base = lua_gettop(L) - nargs; /* the arguments are base+1 .. base+nargs */
    lua_pushnumber(L, id);
    lua_rawget(L, cbs);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, name);
        if (lua_isfunction(L, -1)) {
            lua_remove(L, -2); /* the callbacks table */
            lua_pushcfunction(L, lapps__lua_traceback);
            lua_insert(L, base + 1); /* traceback, args..., fn */
            lua_insert(L, base + 2); /* traceback, fn, args... */
            if (lua_pcall(L, nargs, 0, base + 1) != 0)
                log_error(L, name, lua_tostring(L, -1));
        }
    }
    lua_settop(L, base);
}

static void
dispatch(lua_State *L, int cbs, uint32_t id, const struct lapps__cws_event *ev)
{
    luaL_checkstack(L, 8, "cws");
    switch (ev->kind) {
    case LAPPS__CWS_OPEN:
        lua_pushnumber(L, id);
        call_back(L, cbs, id, "onopen", 1);
        break;
    case LAPPS__CWS_MESSAGE:
        lua_pushnumber(L, id);
        lua_pushlstring(L, (const char *)ev->data, ev->len);
        lua_pushinteger(L, ev->opcode);
        call_back(L, cbs, id, "onmessage", 3);
        break;
    case LAPPS__CWS_END:
        if (ev->error) {
            lua_pushnumber(L, id);
            lua_pushstring(L, ev->error);
            call_back(L, cbs, id, "onerror", 2);
        }
        if (ev->opened) {
            lua_pushnumber(L, id);
            if (ev->len)
                lua_pushlstring(L, (const char *)ev->data, ev->len);
            else
                lua_pushnil(L);
            lua_pushinteger(L, ev->code);
            lua_pushlstring(L, (const char *)ev->reason, ev->reason_len);
            call_back(L, cbs, id, "onclose", 4);
        }
        break;
    }
}

/* Frees the connections that are over and forgets their callbacks. */
static void
sweep(lua_State *L, struct pool *p, int cbs)
{
    size_t j = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (lapps__cws_done(p->v[i].c)) {
            lapps__cws_free(p->v[i].c);
            lua_pushnumber(L, p->v[i].id);
            lua_pushnil(L);
            lua_rawset(L, cbs);
        } else {
            p->v[j++] = p->v[i];
        }
    }
    p->n = j;
}

static int
cws_event_loop(lua_State *L)
{
    struct pool *p = get_pool(L);
    if (p->depth > 0) {
        lua_pushinteger(L, 0);
        return 1;
    }
    int timeout = LOOP_DEFAULT_MS;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Number t = lua_tonumber(L, 2);
        timeout = t > LOOP_MAX_MS ? LOOP_MAX_MS : t >= 0 ? (int)t : 0;
    }
    lua_settop(L, 0);
    lua_pushlightuserdata(L, (void *)&callbacks_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    int cbs = 1;
    sweep(L, p, cbs);
    if (p->pfd_cap < p->n) {
        struct pollfd *v = realloc(p->pfd, p->n * sizeof *v);
        if (!v)
            return luaL_error(L, "cws:eventLoop: out of memory");
        p->pfd = v;
        p->pfd_cap = p->n;
    }
    size_t n = p->n;
    int64_t now = (int64_t)lapps__now_ms();
    for (size_t i = 0; i < n; i++) {
        struct lapps__cws *c = p->v[i].c;
        lapps__cws_flush(c);
        p->pfd[i] = (struct pollfd){.fd = lapps__cws_fd(c), .events = lapps__cws_poll_events(c)};
        int64_t d = lapps__cws_deadline(c);
        if (lapps__cws_ready(c))
            timeout = 0;
        else if (d >= 0 && d - now < timeout)
            timeout = d <= now ? 0 : (int)(d - now);
    }
    int ready = poll(p->pfd, n, timeout);
    if (ready < 0)
        ready = 0; /* EINTR: a pass with no events */
    p->depth++;
    now = (int64_t)lapps__now_ms();
    for (size_t i = 0; i < n; i++) {
        /* p->v may move while callbacks run (cws:new appends); index it each time. */
        struct lapps__cws *c = p->v[i].c;
        uint32_t id = p->v[i].id;
        short rev = p->pfd[i].revents;
        int64_t d = lapps__cws_deadline(c);
        if (rev || lapps__cws_ready(c) || (d >= 0 && now >= d))
            lapps__cws_io(c, rev);
        struct lapps__cws_event ev;
        while (lapps__cws_next(c, &ev) > 0)
            dispatch(L, cbs, id, &ev);
    }
    p->depth--;
    sweep(L, p, cbs);
    lua_pushinteger(L, (lua_Integer)p->n);
    return 1;
}

/* ---- the state's end ---- */

static int
pool_gc(lua_State *L)
{
    struct pool *p = lua_touserdata(L, 1);
    for (size_t i = 0; i < p->n; i++) {
        /* One attempt at a polite 1001 ("going away"), never a wait. */
        lapps__cws_close(p->v[i].c, LAPPS__CLOSE_GOING_AWAY, NULL, 0);
        lapps__cws_free(p->v[i].c);
    }
    free(p->v);
    free(p->pfd);
    memset(p, 0, sizeof *p);
    return 0;
}

static int
sock_tostring(lua_State *L)
{
    struct sock *s = luaL_checkudata(L, 1, SOCKET_MT);
    lua_pushfstring(L, "cws socket %d", (int)s->id);
    return 1;
}

void
lapps__lua_open_cws(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"new", cws_new},
                                     {"send", cws_send},
                                     {"eventLoop", cws_event_loop},
                                     {"close", cws_close},
                                     {NULL, NULL}};
    lua_pushlightuserdata(L, (void *)&pool_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    bool have_pool = lua_touserdata(L, -1) != NULL;
    lua_pop(L, 1);
    if (!have_pool) {
        lua_pushlightuserdata(L, (void *)&pool_key);
        struct pool *p = lua_newuserdata(L, sizeof *p);
        memset(p, 0, sizeof *p);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, pool_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
        lua_pushlightuserdata(L, (void *)&callbacks_key);
        lua_newtable(L);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    luaL_register(L, "cws", funcs);
    if (luaL_newmetatable(L, SOCKET_MT)) {
        /* sock:send(h, data, op), sock:eventLoop() and sock:close() as in LAppS. */
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, sock_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 2);
}
