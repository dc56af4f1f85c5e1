/* isolated.h — Lua services whose instances run on threads of their own
 * ("isolated": true), for LAppS apps that block. */
#ifndef LAPPS_LUA_ISOLATED_H
#define LAPPS_LUA_ISOLATED_H

#include "lua/host.h"

struct lapps__lua_iso;

/* Sets up @p s (the service being registered) so that every worker forwards its
 * connections' events to svc->instances threads (at least one), each with its own
 * lua_State. The threads start with the first worker and stop with the last. */
int lapps__lua_iso_setup(struct lapps__lua_svc *svc, lapps_service *s);

/* Frees what lapps__lua_iso_setup() made (the threads have stopped by then). */
void lapps__lua_iso_free(struct lapps__lua_iso *iso);

#endif /* LAPPS_LUA_ISOLATED_H */
