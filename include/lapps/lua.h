/* liblapps — services written in Lua (LuaJIT), with the LAppS Lua API.
 *
 * A service is a Lua module: a file <name>.lua in one of the directories on
 * package.path that returns a table with onStart(), onMessage(handler, opcode_or_type,
 * message), onDisconnect(handler) and onShutdown() — or, for a standalone service,
 * init() and run(). The table is also set as the global
 * <name>, as LAppS did. Each instance of the service has its own lua_State, created on
 * the thread that runs it, so Lua code never needs a lock.
 *
 * Globals every service has: the standard libraries, `ws` (send, close), `nljson` (the
 * LAppS value module) and `print` (to the server's log at level INFO). Modules loaded
 * by name through `preload`: "time" (time.now()), "murmur" (murmur.hashstr/hashnum),
 * "nap" (nap:new():sleep/usleep/nsleep; it blocks, so for isolated and standalone
 * services, whose sleeps end early when the server stops), "cws" (a ws:// and wss://
 * client: cws:new(uri, callbacks[, options]), cws:send, cws:eventLoop, sock:close; for
 * standalone services), "mqr" (mqr.create(name[, capacity]) and q:post/recv/try_recv:
 * bounded named queues between services; recv and a post to a full queue wait only in
 * standalone services, and end when the server stops) and "pam_auth"
 * (pam_auth:login(service, user, password); it blocks);
 * a name liblapps does not know is logged as a warning and ignored, as LAppS did. */
#ifndef LAPPS_LUA_H
#define LAPPS_LUA_H

#include <lapps/common.h>
#include <lapps/server.h>
#include <lapps/task.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What lapps_lua_service_register() needs to know. Zero every field you do not set
 *  (`lapps_lua_service desc = {sizeof desc}`). */
typedef struct lapps_lua_service {
    /** sizeof(lapps_lua_service), so later versions can add fields. */
    size_t size;
    /** The module name: `require(name)` loads it, and the table it returns becomes the
     *  global of that name. Letters, digits and '_' only. */
    const char *name;
    /** The request target clients connect to ("/echo"). */
    const char *target;
    /** Directories added to package.path, searched in this order for "<dir>/?.lua". The
     *  first is normally the service's own; LAppS put every configured service's
     *  directory on the path, and lappsd does the same. NULL-terminated; may be NULL. */
    const char *const *path;
    /** LAPPS_PROTO_RAW: onMessage(handler, opcode, string) with opcode 1 (text) or 2
     *  (binary). LAPPS_PROTO_LAPPS: onMessage(handler, type, nljson) with type 1 (client
     *  notification), 2 (one with params), 3 (request), 4 (one with params). */
    lapps_protocol protocol;
    /** As lapps_service_set_instances(): 0 means one per worker. Isolated services:
     *  the number of Lua threads (0: one). */
    unsigned instances;
    /** Non-zero: the instances run on threads of their own instead of on the workers,
     *  for LAppS services that block (sleep, file I/O, PAM). Messages reach them through
     *  a bounded queue, one hop each way. */
    int isolated;
    /** Extra modules by name, NULL-terminated; may be NULL. */
    const char *const *preload;
    /** Lua VM instructions one callback may run before it is interrupted (0: no limit).
     *  An interrupted callback counts as a Lua error. A budget turns the JIT off in the
     *  service's states: LuaJIT cannot count instructions inside compiled code. */
    uint64_t instruction_budget;
    /** As lapps_service_set_max_message_size(); 0: the server's. */
    size_t max_message_size;
    /** Non-zero: a standalone service (lapps/task.h) — no target, no connections; the
     *  module has init() and run(), called on a thread of its own per instance, with
     *  the globals must_stop() (true once the server stops: run() should return) and
     *  instance_id (a string, "0", "1", ...). */
    int standalone;
} lapps_lua_service;

/** Registers a Lua service, before lapps_server_start(). The module is loaded once here,
 *  in a scratch state on the caller's thread, so a missing file, a syntax error, a
 *  module that raises an error or one without all four callbacks fails now.
 *  @param err if not NULL, receives a message naming what is wrong (errlen bytes at
 *  most, NUL-terminated).
 *  @return 0, LAPPS_ERR_INVAL (bad description or module, or a target
 *  already taken; see @p err), LAPPS_ERR_STATE (the server has started) or
 *  LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_lua_service_register(lapps_server *srv, const lapps_lua_service *desc,
                                            char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_LUA_H */
