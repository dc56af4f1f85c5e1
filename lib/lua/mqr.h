/* mqr.h — the LAppS `mqr` module: named, bounded in-process message queues that any
 * services of the process share (each message is consumed once), with LAppS's call
 * forms:
 *
 *   local q = mqr.create(name[, capacity])   also mqr:create(...); the same queue for the
 *                                            same name, process-wide
 *   q:post(nljson)    true, or false and a reason ("queue full", "stopping", ...)
 *   q:recv()          the next message (nljson); blocks standalone services only
 *   q:try_recv()      the next message, or nil when there is none; never blocks
 *
 * What blocks and what fails instead, and every difference from LAppS, are in mqr.c. */
#ifndef LAPPS_LUA_MQR_H
#define LAPPS_LUA_MQR_H

#include <stddef.h>

#include <lua.h>

/* Messages a queue holds when create() is not given a capacity. */
#define LAPPS__MQR_DEFAULT_CAPACITY 1024
/* The largest capacity create() accepts. */
#define LAPPS__MQR_MAX_CAPACITY (1u << 24)

/* Sets the global table `mqr` (and package.loaded.mqr) and the queues' metatable in
 * @p L. The stack is left as it was. Raises a Lua error when out of memory or when the
 * global `mqr` exists and is not a table (call it protected). Messages are nljson
 * values, so the state needs nljson too (lapps__nljson_open) for them to be read. */
void lapps__lua_open_mqr(lua_State *L);

/* The number of queues alive in the process (for tests: a queue is freed, with its
 * pending messages, when the last handle to it is collected). Thread-safe. */
size_t lapps__mqr_queues(void);

#endif /* LAPPS_LUA_MQR_H */
