/* base64.h — RFC 4648 base64 (standard alphabet, padded), and SHA-1 through libcrypto:
 * what the WebSocket handshake needs. */
#ifndef LAPPS_UTIL_BASE64_H
#define LAPPS_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include <lapps/common.h>

/* Encodes n bytes into out (4 * ((n + 2) / 3) characters, then a NUL). Returns the
 * number of characters written, not counting the NUL. */
size_t lapps__base64_encode(const uint8_t *in, size_t n, char *out);

/* Decodes a padded base64 text strictly (no whitespace, canonical padding bits) into
 * out[0..cap). Returns the number of bytes, or LAPPS_ERR_INVAL for a malformed text or
 * LAPPS_ERR_NOSPACE when out is too small. */
lapps_ssize lapps__base64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

/* SHA-1 of the concatenation a + b (20 bytes into out). Returns 0, or LAPPS_ERR_NOMEM
 * when OpenSSL could not allocate what it needed. */
int lapps__sha1_2(const void *a, size_t na, const void *b, size_t nb, uint8_t out[20]);

#endif /* LAPPS_UTIL_BASE64_H */
