/* json.h — JSON text to the value tree and back (lib/proto/value.h), for nljson and
 * whatever else reads or writes JSON text (configuration).
 *
 * Parsing goes through jansson and builds a heap tree (heap = 1). Printing is our own,
 * straight from the value tree, so that it can print what jansson cannot hold: byte
 * strings (as base64 text), integers up to 2^64-1 and down to -2^64, map keys that are
 * not text (as their JSON text). */
#ifndef LAPPS_LUA_JSON_H
#define LAPPS_LUA_JSON_H

#include <stddef.h>

#include "proto/value.h"

/* Where the printer sends its text, a piece at a time: returns 0, or a negative code
 * that stops the printer (lapps__json_print() then returns it). */
typedef int lapps__json_write_fn(void *ctx, const char *p, size_t n);

/* Parses one JSON text (any value at the top, "\u0000" allowed in strings; nesting
 * limited to LAPPS__VALUE_MAX_DEPTH containers, as a CBOR message). Integers beyond
 * int64_t are refused: jansson holds integers as long long (a known limit of the text
 * path; CBOR carries the whole range).
 * @return 0 with *out a heap tree the caller frees with lapps_value_free();
 * LAPPS_ERR_PROTO (not JSON: @p msg says "line L, column C: why"; or too deep);
 * LAPPS_ERR_NOMEM. @p msg (may be NULL, @p msgcap bytes) receives the reason. */
int lapps__json_parse(const char *text, size_t len, struct lapps_value **out, char *msg,
                      size_t msgcap);

/* Same as lapps__json_parse() for the contents of the file @p path (errors that come
 * from opening or reading it give LAPPS_ERR_PROTO too, with their reason in @p msg). */
int lapps__json_parse_file(const char *path, struct lapps_value **out, char *msg, size_t msgcap);

/* The bytes of text that keys inside keys that are not text may print in one call
 * (each level escapes the one inside it again, so the text can double per level). */
#define LAPPS__JSON_KEY_BUDGET (64u << 10)

/* Prints @p v as JSON text: compact when @p indent <= 0, else one item per line
 * indented by @p indent spaces per level, with "key": value (nlohmann's layout).
 * Integers are exact, doubles the shortest text that reads back the same and always
 * look like floats ("5.0"), NaN and infinities print as null, text keeps non-ASCII
 * UTF-8 as is, byte strings print as base64 text (standard alphabet, padded), map keys
 * that are not text as their own JSON text (see lapps__json_print_key()).
 * @return 0, what @p write returned when it failed, or LAPPS_ERR_INVAL (nesting beyond
 * 4 * LAPPS__VALUE_MAX_DEPTH, a node of unknown type, or keys within keys past
 * LAPPS__JSON_KEY_BUDGET). */
int lapps__json_print(const struct lapps_value *v, int indent, lapps__json_write_fn *write,
                      void *ctx);

/* Prints the text a map key stands for as an object key, unquoted and unescaped: a
 * text key as it is, a byte string in base64, any other value as its compact JSON.
 * @return like lapps__json_print(). */
int lapps__json_print_key(const struct lapps_value *key, lapps__json_write_fn *write, void *ctx);

#endif /* LAPPS_LUA_JSON_H */
