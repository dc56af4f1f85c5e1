/* liblapps — values: what a LAppS-protocol message carries (the CBOR data model).
 *
 * A lapps_value is a tree of null, booleans, integers (the whole CBOR range, -2^64 to
 * 2^64-1), floats, byte strings, text strings, arrays and maps (keys of any type, in
 * the order received). Nothing CBOR can carry is lost; tags and "undefined" are refused
 * when decoding.
 *
 * Ownership. Values handed to a callback are borrowed until it returns (keep a copy
 * with lapps_value_copy()). Values you build are yours: free the root with
 * lapps_value_free(); adding a value to an array or map moves it there (the added
 * pointer must not be used or freed afterwards, even on error). Functions that send
 * values (lapps_reply_result() and friends) only read them.
 * Reading a value is thread-safe; changing one is not. */
#ifndef LAPPS_VALUE_H
#define LAPPS_VALUE_H

#include <stdarg.h>

#include <lapps/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lapps_value lapps_value;

typedef enum lapps_value_type {
    LAPPS_VALUE_NULL = 0,
    LAPPS_VALUE_BOOL = 1,
    LAPPS_VALUE_INT = 2, /**< any CBOR integer; see lapps_value_get_int() */
    LAPPS_VALUE_FLOAT = 3,
    LAPPS_VALUE_BYTES = 4,
    LAPPS_VALUE_TEXT = 5, /**< UTF-8, checked when decoded */
    LAPPS_VALUE_ARRAY = 6,
    LAPPS_VALUE_MAP = 7,
} lapps_value_type;

/* ---- reading ---- */

/** The type of @p v (LAPPS_VALUE_NULL for a NULL pointer). */
LAPPS_EXPORT lapps_value_type lapps_value_type_of(const lapps_value *v);

/** Reads a boolean. @return 0 or LAPPS_ERR_INVAL (not a boolean). */
LAPPS_EXPORT int lapps_value_get_bool(const lapps_value *v, int *out);

/** Reads an integer that fits int64_t. @return 0, LAPPS_ERR_INVAL (not an integer) or
 *  LAPPS_ERR_TOO_BIG (an integer outside int64_t: read it with the two below). */
LAPPS_EXPORT int lapps_value_get_int(const lapps_value *v, int64_t *out);

/** Reads a non-negative integer up to 2^64-1. @return 0, LAPPS_ERR_INVAL (not an
 *  integer, or negative). */
LAPPS_EXPORT int lapps_value_get_uint(const lapps_value *v, uint64_t *out);

/** Reads any integer as CBOR does: *negative is 0 for the value *magnitude, 1 for the
 *  value -1 - *magnitude. @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_value_get_cbor_int(const lapps_value *v, int *negative, uint64_t *magnitude);

/** Reads a float, or an integer as the nearest double. @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_value_get_double(const lapps_value *v, double *out);

/** The bytes of a text or byte string and their count (text is not NUL-terminated;
 *  use lapps_value_text_is() to compare). @return NULL when @p v is neither. */
LAPPS_EXPORT const uint8_t *lapps_value_get_bytes(const lapps_value *v, size_t *len);

/** 1 when @p v is the text @p s (NUL-terminated), else 0. */
LAPPS_EXPORT int lapps_value_text_is(const lapps_value *v, const char *s);

/** Items of an array, pairs of a map, bytes of a string; 0 for anything else. */
LAPPS_EXPORT size_t lapps_value_size(const lapps_value *v);

/** Item @p i of an array (NULL when out of range or not an array). */
LAPPS_EXPORT const lapps_value *lapps_value_at(const lapps_value *v, size_t i);

/** Key and value of pair @p i of a map (NULL when out of range or not a map). */
LAPPS_EXPORT const lapps_value *lapps_value_key_at(const lapps_value *v, size_t i);
LAPPS_EXPORT const lapps_value *lapps_value_value_at(const lapps_value *v, size_t i);

/** The value of the first pair of a map whose key is the text @p key, or NULL. */
LAPPS_EXPORT const lapps_value *lapps_value_get(const lapps_value *v, const char *key);

/* ---- building ---- */

/** New scalar values; NULL when out of memory. Strings are copied. */
LAPPS_EXPORT lapps_value *lapps_value_null(void);
LAPPS_EXPORT lapps_value *lapps_value_bool(int b);
LAPPS_EXPORT lapps_value *lapps_value_int(int64_t i);
LAPPS_EXPORT lapps_value *lapps_value_uint(uint64_t u);
LAPPS_EXPORT lapps_value *lapps_value_double(double d);
/** Text must be UTF-8 (NULL when it is not); @p len (size_t)-1 means strlen(text). */
LAPPS_EXPORT lapps_value *lapps_value_text(const char *text, size_t len);
LAPPS_EXPORT lapps_value *lapps_value_bytes(const void *data, size_t len);
LAPPS_EXPORT lapps_value *lapps_value_array(void);
LAPPS_EXPORT lapps_value *lapps_value_map(void);

/** Appends @p item (moved) to the array @p arr.
 *  @return 0, LAPPS_ERR_INVAL (arr not an array, item NULL) or LAPPS_ERR_NOMEM; on
 *  error @p item is freed. */
LAPPS_EXPORT int lapps_value_append(lapps_value *arr, lapps_value *item);

/** Adds the pair @p key: @p val (both moved) to the map @p map; duplicate keys are not
 *  checked. @return like lapps_value_append(); on error both are freed. */
LAPPS_EXPORT int lapps_value_put(lapps_value *map, lapps_value *key, lapps_value *val);

/** Adds the pair "key": @p val (moved). @return like lapps_value_put(). */
LAPPS_EXPORT int lapps_value_set(lapps_value *map, const char *key, lapps_value *val);

/** Builds a value from a format, in the spirit of jansson's json_pack:
 *  n null; b bool (int); i int; I int64_t; U uint64_t; f double; s text (NUL-terminated
 *  const char *); s# text (const char *, size_t); y# bytes (const void *, size_t);
 *  o a lapps_value * (moved); O a const lapps_value * (copied); [ ... ] an array;
 *  { k v ... } a map whose keys are formats too (usually s). Spaces, commas and colons
 *  are ignored. Example: lapps_value_build("[i, s, {s: f}]", 1, "two", "pi", 3.14).
 *  @return the value, or NULL (bad format, bad UTF-8, out of memory; 'o' arguments are
 *  freed in every case). */
LAPPS_EXPORT lapps_value *lapps_value_build(const char *fmt, ...);
LAPPS_EXPORT lapps_value *lapps_value_vbuild(const char *fmt, va_list ap);

/** A deep copy that the caller owns, or NULL when out of memory. */
LAPPS_EXPORT lapps_value *lapps_value_copy(const lapps_value *v);

/** Frees a value you own and everything in it (NULL is a no-op). */
LAPPS_EXPORT void lapps_value_free(lapps_value *v);

/** 1 when @p a and @p b hold the same data (floats compare as doubles; map pairs in
 *  order), else 0. */
LAPPS_EXPORT int lapps_value_equal(const lapps_value *a, const lapps_value *b);

/* ---- CBOR ---- */

/** Encodes @p v as CBOR into @p out (at most @p cap bytes; integers and lengths in
 *  their shortest form, floats as double unless a float keeps the value exactly).
 *  @return the length, or LAPPS_ERR_NOSPACE (the length needed is in *need when
 *  @p need is not NULL), LAPPS_ERR_INVAL. */
LAPPS_EXPORT lapps_ssize lapps_value_to_cbor(const lapps_value *v, uint8_t *out, size_t cap,
                                             size_t *need);

/** Decodes one CBOR data item that fills @p data exactly, with the protocol's limits
 *  (nesting ≤ 64; no declared length beyond the bytes that remain).
 *  @return 0 with *out owned by the caller, LAPPS_ERR_PROTO (not well-formed CBOR,
 *  invalid UTF-8 text, trailing bytes, limits), LAPPS_ERR_INVAL (tags or "undefined",
 *  which a value cannot carry) or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_value_from_cbor(const uint8_t *data, size_t len, lapps_value **out);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_VALUE_H */
