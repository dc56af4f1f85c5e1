/* nljson.h — the LAppS `nljson` module: JSON/CBOR values for Lua, held in liblapps'
 * value tree (lib/proto/value.h), which keeps byte strings and 64-bit integers that
 * a JSON library cannot.
 *
 * An nljson userdata names a node of a tree: the root it keeps alive (reference
 * counted) plus the path from the root (keys and indexes). Every access resolves the
 * path again, so a child taken from a value stays safe however the tree changes
 * afterwards (LAppS handed out raw pointers into the tree, which dangled). */
#ifndef LAPPS_LUA_NLJSON_H
#define LAPPS_LUA_NLJSON_H

#include <lua.h>

#include "proto/value.h"

/* Registers the `nljson` metatable and sets the global table `nljson`. Raises a Lua
 * error on failure (call it protected). */
void lapps__nljson_open(lua_State *L);

/* Pushes a new nljson root holding a deep copy of @p v. Raises a Lua error when out of
 * memory (call it protected). */
void lapps__nljson_push_copy(lua_State *L, const struct lapps_value *v);

/* The node the nljson userdata at @p idx names, or NULL when the value there is not
 * nljson or its path no longer leads anywhere. Borrowed until the tree changes. */
const struct lapps_value *lapps__nljson_get(lua_State *L, int idx);

#endif /* LAPPS_LUA_NLJSON_H */
