/* bcast.c — the `bcast` module: broadcast channels from Lua, with LAppS's call forms.
 *
 *   bcast:create(id)                 a channel; creating one that exists does nothing
 *   bcast:subscribe(id, handler)     the connection receives what is sent on id
 *   bcast:unsubscribe(id, handler)
 *   bcast:send(id, nljson)           a LAppS notification {cid > 0, message: [...]}
 *   bcast:send(id, opcode, string)   new: a text (1) or binary (2) frame, for raw services
 *
 * Each returns true, or false and a reason, and never raises, as in LAppS. It is open in
 * every state (reactive, isolated, standalone); "bcast" in a service's preload list is
 * accepted and changes nothing. Differences from LAppS: subscribing to a channel nobody
 * created is refused ("no such channel"), where LAppS failed in ways that depended on
 * which thread asked; the message's "status" may be omitted (LAppS's time_broadcast
 * sends {cid, message}) but, when present, must be 1. */
#include <lauxlib.h>
#include <string.h>

#include <lapps/bcast.h>

#include "lua/host.h"
#include "lua/nljson.h"

static int
result(lua_State *L, int rv, const char *not_found)
{
    switch (rv) {
    case 0:
        lua_pushboolean(L, 1);
        return 1;
    case LAPPS_ERR_NOT_FOUND:
        return lapps__lua_fail(L, not_found);
    case LAPPS_ERR_STATE:
        return lapps__lua_fail(L, "the server is stopping");
    case LAPPS_ERR_AGAIN:
        return lapps__lua_fail(L, "a worker is busy: try again later");
    default:
        return lapps__lua_fail(L, lapps_strerror(rv));
    }
}

static lapps_server *
server(lua_State *L)
{
    struct lapps__lua_inst *li = lua_touserdata(L, lua_upvalueindex(1));
    return li->svc->srv;
}

static int
bcast_create(lua_State *L)
{
    int a = lapps__lua_first_arg(L);
    uint64_t id;
    if (lua_gettop(L) != a || !lapps__lua_id_at(L, a, &id))
        return lapps__lua_fail(L, "Usage: bcast:create(id): the channel id must be a "
                                  "non-negative integer");
    return result(L, lapps_bcast_create(server(L), id), "");
}

static int
membership(lua_State *L, bool subscribe)
{
    int a = lapps__lua_first_arg(L);
    uint64_t id, h;
    if (lua_gettop(L) != a + 1 || !lapps__lua_id_at(L, a, &id))
        return lapps__lua_fail(L, subscribe ? "Usage: bcast:subscribe(id, handler): "
                                              "the channel id must be a non-negative integer"
                                            : "Usage: bcast:unsubscribe(id, handler): "
                                              "the channel id must be a non-negative integer");
    if (!lapps__lua_id_at(L, a + 1, &h))
        return lapps__lua_fail(L, "the handler must be a connection id");
    lapps_server *srv = server(L);
    int rv = subscribe ? lapps_bcast_subscribe(srv, id, h) : lapps_bcast_unsubscribe(srv, id, h);
    return result(L, rv,
                  subscribe ? "no such channel (bcast:create it first) or connection"
                            : "no such channel, connection or subscription");
}

static int
bcast_subscribe(lua_State *L)
{
    return membership(L, true);
}

static int
bcast_unsubscribe(lua_State *L)
{
    return membership(L, false);
}

/* The LAppS form: an nljson object {cid > 0, message: array[, status: 1]}. */
static int
send_lapps(lua_State *L, lapps_server *srv, uint64_t id, int idx)
{
    const lapps_value *m = lapps__nljson_get(L, idx);
    if (!m || lapps_value_type_of(m) != LAPPS_VALUE_MAP)
        return lapps__lua_fail(L, "Usage: bcast:send(id, nljson): the message must be an nljson "
                                  "object");
    uint64_t cid, status;
    const lapps_value *c = lapps_value_get(m, "cid"), *s = lapps_value_get(m, "status");
    const lapps_value *msg = lapps_value_get(m, "message");
    double d;
    if (c && lapps_value_get_uint(c, &cid) != 0) {
        if (lapps_value_get_double(c, &d) != 0 || !(d >= 1 && d < 9007199254740992.0) ||
            (double)(uint64_t)d != d)
            c = NULL;
        else
            cid = (uint64_t)d;
    }
    if (!c || cid == 0)
        return lapps__lua_fail(L, "a broadcast needs \"cid\", a positive integer");
    if (s && !(lapps_value_get_uint(s, &status) == 0 && status == 1) &&
        !(lapps_value_get_double(s, &d) == 0 && d == 1))
        return lapps__lua_fail(L, "a broadcast is a notification: \"status\", if present, is 1");
    if (!msg || lapps_value_type_of(msg) != LAPPS_VALUE_ARRAY)
        return lapps__lua_fail(L, "a broadcast needs \"message\", an array");
    return result(L, lapps_bcast_notify(srv, id, cid, msg), "no such channel");
}

static int
bcast_send(lua_State *L)
{
    int a = lapps__lua_first_arg(L), argc = lua_gettop(L) - a + 1;
    uint64_t id;
    if ((argc != 2 && argc != 3) || !lapps__lua_id_at(L, a, &id))
        return lapps__lua_fail(L, "Usage: bcast:send(id, nljson) or bcast:send(id, opcode, "
                                  "string): the channel id must be a non-negative integer");
    lapps_server *srv = server(L);
    if (argc == 2)
        return send_lapps(L, srv, id, a + 1);
    lua_Number op = lua_type(L, a + 1) == LUA_TNUMBER ? lua_tonumber(L, a + 1) : 0;
    if ((op != 1 && op != 2) || lua_type(L, a + 2) != LUA_TSTRING)
        return lapps__lua_fail(L, "Usage: bcast:send(id, opcode, string): opcode 1 (text) or "
                                  "2 (binary), and a string");
    size_t len;
    const char *data = lua_tolstring(L, a + 2, &len);
    int rv = lapps_bcast_send(srv, id, op == 1 ? LAPPS_OP_TEXT : LAPPS_OP_BINARY, data, len);
    if (rv == LAPPS_ERR_INVAL)
        return lapps__lua_fail(L, "a text message must be valid UTF-8");
    return result(L, rv, "no such channel");
}

void
lapps__lua_open_bcast(lua_State *L, struct lapps__lua_inst *li)
{
    static const luaL_Reg funcs[] = {{"create", bcast_create},
                                     {"subscribe", bcast_subscribe},
                                     {"unsubscribe", bcast_unsubscribe},
                                     {"send", bcast_send},
                                     {NULL, NULL}};
    lua_createtable(L, 0, 4);
    for (const luaL_Reg *f = funcs; f->name; f++) {
        lua_pushlightuserdata(L, li);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    lua_setglobal(L, "bcast");
}
