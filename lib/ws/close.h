/* close.h — RFC 6455 §5.5.1 and §7.4 close frames: which codes a peer may send, how a
 * received close payload is checked, and how ours is built. */
#ifndef LAPPS_WS_CLOSE_H
#define LAPPS_WS_CLOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether a close frame on the wire may carry this code: 1000–1003 and 1007–1014
 * (RFC 6455 and the IANA registry), and 3000–4999 (registered and private use). Codes
 * 1004–1006 and 1015 are reserved for local use and never appear on the wire. */
bool lapps__close_code_valid(unsigned code);

/* Checks a received close payload: empty (code 1005, no reason), or a valid code plus a
 * UTF-8 reason. Returns 0 with *code and the reason view filled, LAPPS_ERR_PROTO (a
 * 1-byte payload or a code that may not be sent: answer 1002) or LAPPS_ERR_UTF8 (answer
 * 1007). */
int lapps__close_parse(const uint8_t *payload, size_t len, uint16_t *code, const uint8_t **reason,
                       size_t *reason_len);

/* Builds our close payload: the code and as much of the reason as fits in 123 bytes,
 * cut on a UTF-8 character boundary. Returns the payload length (0 for code 1005:
 * an empty close). The reason must be valid UTF-8 (the caller checks it). */
size_t lapps__close_payload(uint8_t out[125], uint16_t code, const char *reason, size_t reason_len);

#endif /* LAPPS_WS_CLOSE_H */
