/* ws.c — the `ws` module: ws:send and ws:close, with LAppS's call forms.
 *
 *   ws:send(handler, opcode, string)   raw services; opcode 1 (text) or 2 (binary)
 *   ws:send(handler, nljson)           LAppS services; a whole protocol message
 *   ws:close(handler, code[, reason])
 *
 * Each returns true, or false and a reason; none raises for a bad handler or message,
 * as in LAppS. A handler is a connection id. On a worker the connection is looked up
 * there (lapps_instance_conn); an isolated instance reaches connections by id from its
 * own thread (lapps_send and friends). */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lua/host.h"
#include "lua/nljson.h"
#include "util/utf8.h"

int
lapps__lua_fail(lua_State *L, const char *why)
{
    lua_pushboolean(L, 0);
    lua_pushstring(L, why);
    return 2;
}

/* What ws:send and ws:close say when the library refused. */
static const char *
reason(int rv)
{
    switch (rv) {
    case LAPPS_ERR_NOT_FOUND:
        return "no such connection";
    case LAPPS_ERR_STATE:
        return "the connection is closing";
    case LAPPS_ERR_LIMIT:
        return "outbound limit reached: the connection is being closed";
    case LAPPS_ERR_UTF8:
        return "a text message must be valid UTF-8";
    default:
        return lapps_strerror(rv);
    }
}

static int
result(lua_State *L, int rv)
{
    if (rv != 0)
        return lapps__lua_fail(L, reason(rv));
    lua_pushboolean(L, 1);
    return 1;
}

int
lapps__lua_first_arg(lua_State *L)
{
    return lua_istable(L, 1) ? 2 : 1;
}

bool
lapps__lua_id_at(lua_State *L, int idx, uint64_t *id)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        return false;
    lua_Number n = lua_tonumber(L, idx);
    if (!(n >= 0 && n < 9007199254740992.0) || (lua_Number)(uint64_t)n != n)
        return false;
    *id = (uint64_t)n;
    return true;
}

/* On a worker: the connection, or NULL when the handler is stale. */
static lapps_conn *
local_conn(struct lapps__lua_inst *li, uint64_t id)
{
    return li->inst ? lapps_instance_conn(li->inst, id) : NULL;
}

/* ---- raw ---- */

/* A raw send once the arguments are known to be well-typed: 0 or an error code. */
static int
raw_send(struct lapps__lua_inst *li, uint64_t id, lapps_opcode op, const char *data, size_t len)
{
    uint32_t st = LAPPS__UTF8_ACCEPT;
    /* liblapps leaves text checking to its callers (lapps_conn_send): Lua strings are bytes. */
    if (op == LAPPS_OP_TEXT &&
        (lapps__utf8_validate(&st, (const uint8_t *)data, len) != 0 || !lapps__utf8_complete(st)))
        return LAPPS_ERR_UTF8;
    if (!li->inst)
        return lapps_send(li->svc->srv, id, op, data, len);
    lapps_conn *c = local_conn(li, id);
    return c ? lapps_conn_send(c, op, data, len) : LAPPS_ERR_NOT_FOUND;
}

/* ws.send's fast path, called through LuaJIT's FFI (see fast_send_chunk): no Lua API
 * call at all, and the JIT compiles the call into the caller's trace. A function called
 * through the FFI must not re-enter the Lua state, and this one cannot: sending never
 * runs a service callback (on_close runs when the worker reaps, on_drain when the
 * socket turns writable). */
static int
ffi_send_raw(struct lapps__lua_inst *li, double handler, int op, const char *data, size_t len)
{
    if (!(handler >= 0 && handler < 9007199254740992.0) || (double)(uint64_t)handler != handler)
        return LAPPS_ERR_INVAL;
    return raw_send(li, (uint64_t)handler, (lapps_opcode)op, data, len);
}

static int
send_raw(lua_State *L, struct lapps__lua_inst *li, uint64_t id, int a)
{
    if (li->svc->protocol != LAPPS_PROTO_RAW)
        return lapps__lua_fail(
            L, "ws:send(handler, opcode, string) is for raw services; a LAppS service "
               "sends an nljson message");
    lua_Integer op = lua_type(L, a) == LUA_TNUMBER ? lua_tointeger(L, a) : 0;
    if (op != LAPPS_OP_TEXT && op != LAPPS_OP_BINARY)
        return lapps__lua_fail(
            L, "Usage: ws:send(handler, opcode, string): opcode must be 1 (text) or 2 "
               "(binary)");
    if (lua_type(L, a + 1) != LUA_TSTRING)
        return lapps__lua_fail(
            L, "Usage: ws:send(handler, opcode, string): the message must be a string");
    size_t len;
    const char *data = lua_tolstring(L, a + 1, &len);
    return result(L, raw_send(li, id, (lapps_opcode)op, data, len));
}

/* ---- LAppS ---- */

/* The members of an outbound message that matter, found in one pass over its pairs
 * (this runs for every response a Lua service sends). */
struct members {
    const lapps_value *cid, *status, *result, *message, *error;
};

static void
find_members(const lapps_value *m, struct members *f)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct lapps_value *k = &m->items[2 * i], *v = k + 1;
        if (k->type != LAPPS_VALUE_TEXT)
            continue;
        const char *s = (const char *)k->s;
        if (k->n == 3 && memcmp(s, "cid", 3) == 0)
            f->cid = v;
        else if (k->n == 6 && memcmp(s, "status", 6) == 0)
            f->status = v;
        else if (k->n == 6 && memcmp(s, "result", 6) == 0)
            f->result = v;
        else if (k->n == 7 && memcmp(s, "message", 7) == 0)
            f->message = v;
        else if (k->n == 5 && memcmp(s, "error", 5) == 0)
            f->error = v;
    }
}

/* An unsigned integer (a CBOR integer, or a float with an integral value, which is how
 * LAppS apps' numbers often arrive). */
static bool
as_uint(const lapps_value *v, uint64_t *out)
{
    double d;
    if (!v)
        return false;
    if (lapps_value_get_uint(v, out) == 0)
        return true;
    if (lapps_value_get_double(v, &d) == 0 && d >= 0 && d < 18446744073709551616.0 &&
        (double)(uint64_t)d == d) {
        *out = (uint64_t)d;
        return true;
    }
    return false;
}

static bool
member_int(const lapps_value *m, const char *key, int64_t *out)
{
    const lapps_value *v = lapps_value_get(m, key);
    double d;
    if (!v)
        return false;
    if (lapps_value_get_int(v, out) == 0)
        return true;
    if (lapps_value_get_double(v, &d) == 0 && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0 && (double)(int64_t)d == d) {
        *out = (int64_t)d;
        return true;
    }
    return false;
}

/* An outbound LAppS message, checked against the protocol: the members it is made of. */
struct out_msg {
    uint64_t cid;
    bool ok;                    /* status 1 */
    const lapps_value *payload; /* result (cid 0) or message (cid > 0): an array */
    int64_t code;               /* errors */
    const char *text;           /* error.message, NUL-terminated copy */
    const lapps_value *data;    /* error.data, optional */
};

static const char *
check_out(const lapps_value *m, struct out_msg *o, char *text, size_t cap)
{
    uint64_t status;
    struct members f = {0};
    if (!m || lapps_value_type_of(m) != LAPPS_VALUE_MAP)
        return "a LAppS message is an object";
    find_members(m, &f);
    if (!f.cid || !as_uint(f.cid, &o->cid))
        return "a LAppS message needs \"cid\", a non-negative integer";
    if (!f.status || !as_uint(f.status, &status) || status > 1)
        return "a LAppS message needs \"status\", 0 or 1";
    o->ok = status == 1;
    if (o->ok) {
        o->payload = o->cid ? f.message : f.result;
        if (!o->payload || lapps_value_type_of(o->payload) != LAPPS_VALUE_ARRAY)
            return o->cid ? "a notification (cid > 0, status 1) needs \"message\", an array"
                          : "a response (cid 0, status 1) needs \"result\", an array";
        return NULL;
    }
    const lapps_value *e = f.error;
    if (!e || lapps_value_type_of(e) != LAPPS_VALUE_MAP)
        return "an error (status 0) needs \"error\", an object";
    if (!member_int(e, "code", &o->code))
        return "an error needs \"error.code\", an integer";
    const lapps_value *t = lapps_value_get(e, "message");
    size_t len;
    const uint8_t *s =
        t && lapps_value_type_of(t) == LAPPS_VALUE_TEXT ? lapps_value_get_bytes(t, &len) : NULL;
    if (!s)
        return "an error needs \"error.message\", a string";
    if (len >= cap || memchr(s, 0, len))
        return "\"error.message\" is too long or holds a NUL";
    memcpy(text, s, len);
    text[len] = '\0';
    o->text = text;
    o->data = lapps_value_get(e, "data");
    return NULL;
}

/* Where the request a response answers is: the connection's oldest unanswered one,
 * queued (*link) or being handled now (*link NULL, the result cur_req). */
static lapps_request *
find_request(struct lapps__lua_inst *li, uint64_t id, struct lapps__lua_pending ***link)
{
    for (struct lapps__lua_pending **pp = &li->pending; *pp; pp = &(*pp)->next)
        if ((*pp)->conn_id == id) {
            *link = pp;
            return (*pp)->req;
        }
    *link = NULL;
    return li->cur_req && !li->cur_answered && li->cur_conn_id == id ? li->cur_req : NULL;
}

static void
unlink_request(struct lapps__lua_inst *li, struct lapps__lua_pending **pp)
{
    struct lapps__lua_pending *p = *pp;
    *pp = p->next;
    if (li->pending_tail == &p->next)
        li->pending_tail = pp;
    free(p);
    li->n_pending--;
}

static int
answer(lua_State *L, struct lapps__lua_inst *li, uint64_t id, const struct out_msg *o)
{
    struct lapps__lua_pending **link;
    lapps_request *req = find_request(li, id, &link);
    if (!req)
        return lapps__lua_fail(L, "no request to answer: every request on this connection has its "
                                  "response");
    int rv = o->ok ? lapps_reply_result(req, o->payload)
                   : lapps_reply_error(req, o->code, o->text, o->data);
    /* LAPPS_ERR_AGAIN (a deferred answer, the worker's inbox full) keeps the handle: the
     * request stays the one the next response answers. */
    if (rv == LAPPS_ERR_AGAIN)
        return lapps__lua_fail(L, "the connection's worker is busy: try again later");
    if (link)
        unlink_request(li, link);
    else
        li->cur_answered = true;
    return result(L, rv);
}

/* A notification of an isolated instance, sent by id: encoded here as the worker would. */
static int
notify_by_id(lapps_server *srv, uint64_t id, const struct out_msg *o)
{
    if (o->ok)
        return lapps_notify_id(srv, id, o->cid, o->payload);
    lapps_value *e = lapps_value_build("{s:I, s:s}", "code", (int64_t)o->code, "message", o->text);
    if (e && o->data && lapps_value_set(e, "data", lapps_value_copy(o->data)) != 0)
        e = (lapps_value_free(e), NULL);
    lapps_value *m =
        e ? lapps_value_build("{s:U, s:o, s:i}", "cid", o->cid, "error", e, "status", 0) : NULL;
    if (!m)
        return LAPPS_ERR_NOMEM;
    size_t need = 0;
    lapps_value_to_cbor(m, NULL, 0, &need);
    uint8_t *buf = malloc(need ? need : 1);
    lapps_ssize n = buf ? lapps_value_to_cbor(m, buf, need, NULL) : LAPPS_ERR_NOMEM;
    int rv = n >= 0 ? lapps_send(srv, id, LAPPS_OP_BINARY, buf, (size_t)n) : (int)n;
    free(buf);
    lapps_value_free(m);
    return rv;
}

static int
send_lapps(lua_State *L, struct lapps__lua_inst *li, uint64_t id, int a)
{
    if (li->svc->protocol != LAPPS_PROTO_LAPPS)
        return lapps__lua_fail(
            L, "ws:send(handler, nljson) is for LAppS services; a raw service sends "
               "ws:send(handler, opcode, string)");
    const lapps_value *m = lapps__nljson_get(L, a);
    if (!m)
        return lapps__lua_fail(
            L, "Usage: ws:send(handler, nljson): the message must be an nljson value");
    struct out_msg o = {0};
    char text[1024];
    const char *why = check_out(m, &o, text, sizeof text);
    if (why)
        return lapps__lua_fail(L, why);
    if (o.cid == 0)
        return answer(L, li, id, &o);
    if (!li->inst)
        return result(L, notify_by_id(li->svc->srv, id, &o));
    lapps_conn *c = local_conn(li, id);
    if (!c)
        return lapps__lua_fail(L, "no such connection");
    return result(L, o.ok ? lapps_notify(c, o.cid, o.payload)
                          : lapps_notify_error(c, o.cid, o.code, o.text, o.data));
}

static int
ws_send(lua_State *L)
{
    struct lapps__lua_inst *li = lua_touserdata(L, lua_upvalueindex(1));
    int a = lapps__lua_first_arg(L), top = lua_gettop(L);
    /* Trailing nils are absent arguments: the fast path passes all it was given. */
    while (top >= a && lua_isnil(L, top))
        top--;
    int argc = top - a + 1;
    uint64_t id;
    if (argc != 2 && argc != 3)
        return lapps__lua_fail(
            L, "Usage: ws:send(handler, nljson) or ws:send(handler, opcode, string)");
    if (!lapps__lua_id_at(L, a, &id))
        return lapps__lua_fail(L,
                               "Usage: ws:send(handler, ...): the handler must be a connection id");
    return argc == 3 ? send_raw(L, li, id, a + 1) : send_lapps(L, li, id, a + 1);
}

static int
ws_close(lua_State *L)
{
    struct lapps__lua_inst *li = lua_touserdata(L, lua_upvalueindex(1));
    int a = lapps__lua_first_arg(L), argc = lua_gettop(L) - a + 1;
    uint64_t id;
    if (argc != 2 && argc != 3)
        return lapps__lua_fail(L, "Usage: ws:close(handler, code[, reason])");
    if (!lapps__lua_id_at(L, a, &id))
        return lapps__lua_fail(L, "Usage: ws:close(handler, code[, reason]): the handler must be a "
                                  "connection id");
    if (lua_type(L, a + 1) != LUA_TNUMBER)
        return lapps__lua_fail(L,
                               "Usage: ws:close(handler, code[, reason]): code must be a number");
    lua_Number n = lua_tonumber(L, a + 1);
    bool has_reason = argc == 3 && !lua_isnil(L, a + 2);
    if (has_reason && lua_type(L, a + 2) != LUA_TSTRING)
        return lapps__lua_fail(L,
                               "Usage: ws:close(handler, code[, reason]): reason must be a string");
    const char *reason = has_reason ? lua_tostring(L, a + 2) : NULL;
    if (!(n >= 1000 && n <= 4999) || (lua_Number)(int)n != n)
        return lapps__lua_fail(L, "invalid close code: 1000-1003, 1007-1014 or 3000-4999");
    uint16_t code = (uint16_t)n;
    int rv;
    if (li->inst) {
        lapps_conn *c = local_conn(li, id);
        if (!c)
            return lapps__lua_fail(L, "no such connection");
        rv = lapps_conn_close(c, code, reason);
    } else {
        rv = lapps_close(li->svc->srv, id, code, reason);
    }
    if (rv == LAPPS_ERR_INVAL)
        return lapps__lua_fail(L,
                               "invalid close code (1000-1003, 1007-1014 or 3000-4999) or reason "
                               "(UTF-8, at most 123 bytes)");
    return result(L, rv);
}

/* ws.send for raw services with the JIT on: well-typed raw sends go straight to C
 * through the FFI; everything else (and every error's reason) through the Lua API
 * function. Arguments: the API function, ffi_send_raw's address, the instance, and a
 * table of reasons by error code. */
static const char fast_send_chunk[] =
    "local api_send, fn, li, reasons = ...\n"
    "local ffi = require('ffi')\n"
    "local send = ffi.cast('int (*)(void *, double, int, const char *, size_t)', fn)\n"
    "li = ffi.cast('void *', li) -- a light userdata argument would stop the JIT\n"
    "local type = type\n"
    "return function(self, h, op, msg, extra) -- no varargs: the JIT would stop at them\n"
    "  if extra == nil and type(self) == 'table' and type(h) == 'number' and\n"
    "     type(msg) == 'string' and (op == 1 or op == 2) then\n"
    "    local rv = send(li, h, op, msg, #msg)\n"
    "    if rv == 0 then return true end\n"
    "    return false, reasons[rv] or 'send failed'\n"
    "  end\n"
    "  return api_send(self, h, op, msg, extra)\n"
    "end\n";

static void
push_fast_send(lua_State *L, struct lapps__lua_inst *li)
{
    static const int codes[] = {LAPPS_ERR_NOT_FOUND, LAPPS_ERR_STATE, LAPPS_ERR_LIMIT,
                                LAPPS_ERR_UTF8,      LAPPS_ERR_INVAL, LAPPS_ERR_NOMEM};
    if (luaL_loadbuffer(L, fast_send_chunk, sizeof fast_send_chunk - 1, "=ws.send") != 0)
        lua_error(L);
    lua_pushvalue(L, -2); /* the API function */
    lua_pushlightuserdata(L, (void *)(uintptr_t)ffi_send_raw);
    lua_pushlightuserdata(L, li);
    lua_createtable(L, 8, 0);
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        lua_pushstring(L, codes[i] == LAPPS_ERR_INVAL
                              ? "Usage: ws:send(handler, ...): the handler must be a connection id"
                              : reason(codes[i]));
        lua_rawseti(L, -2, codes[i]);
    }
    lua_call(L, 4, 1);
}

void
lapps__lua_open_ws(lua_State *L, struct lapps__lua_inst *li, bool jit)
{
    lua_createtable(L, 0, 2);
    lua_pushlightuserdata(L, li);
    lua_pushcclosure(L, ws_send, 1);
    /* Without the JIT (an instruction budget) an FFI call costs more than a Lua API
     * call, and a LAppS service's sends go through the protocol layer anyway. */
    if (jit && li->svc->protocol == LAPPS_PROTO_RAW) {
        push_fast_send(L, li);
        lua_remove(L, -2);
    }
    lua_setfield(L, -2, "send");
    lua_pushlightuserdata(L, li);
    lua_pushcclosure(L, ws_close, 1);
    lua_setfield(L, -2, "close");
    lua_setglobal(L, "ws");
}

void
lapps__lua_drop_pending(struct lapps__lua_inst *li, uint64_t conn_id, bool all)
{
    for (struct lapps__lua_pending **pp = &li->pending; *pp;) {
        struct lapps__lua_pending *p = *pp;
        if (!all && p->conn_id != conn_id) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        lapps__lua_release(p->req, "internal error: connection closed");
        free(p);
        li->n_pending--;
    }
    li->pending_tail = &li->pending;
    for (struct lapps__lua_pending *p = li->pending; p; p = p->next)
        li->pending_tail = &p->next;
}
