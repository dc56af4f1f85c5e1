/* client.h — the client side of RFC 6455, the protocol core of the `cws` Lua module:
 * ws:// and wss:// URIs, the opening handshake (our request, and a strict check of the
 * server's 101 response), and one connection's framing (masked frames out, unmasked
 * server frames in, fragmented messages reassembled under a size limit, pings answered,
 * the close handshake). No I/O and no Lua: the caller moves bytes between the socket and
 * the buffers kept here (lib/net/client.c does, for cws).
 *
 * Everything the server sends is hostile: the response is bounded (LAPPS__WSC_MAX_RESPONSE),
 * the input buffer holds at most one read plus an incomplete frame header or control
 * frame, and a message is refused (1009) once its declared or running size passes
 * max_message, before its payload is buffered. */
#ifndef LAPPS_WS_CLIENT_H
#define LAPPS_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lapps/common.h>

#include "ws/frame.h"

/* ---- URIs ---- */

#define LAPPS__WS_URI_MAX_HOST   253u  /* a DNS name's longest text form */
#define LAPPS__WS_URI_MAX_TARGET 4096u /* path and query */

/* A parsed ws:// or wss:// URI (RFC 6455 §3). */
struct lapps__ws_uri {
    bool tls;                                     /* wss:// */
    bool ip6;                                     /* host was a bracketed IPv6 literal */
    char host[LAPPS__WS_URI_MAX_HOST + 1];        /* a name or an address, without brackets */
    char port[6];                                 /* decimal: the URI's, or 80 / 443 */
    char host_header[LAPPS__WS_URI_MAX_HOST + 9]; /* "host[:port]", brackets kept */
    char target[LAPPS__WS_URI_MAX_TARGET + 1];    /* "/path?query"; "/" when absent */
};

/* Parses a NUL-terminated URI: scheme "ws" or "wss" (case-insensitive), "://", a host
 * (a name of letters, digits, '-', '.', '_', or an IPv4 address, or an IPv6 address in
 * brackets), an optional ":port" (1..65535), and an optional path and query of visible
 * ASCII. Refused (LAPPS_ERR_INVAL): other schemes, userinfo ("user@"), a fragment ('#',
 * RFC 6455 §3 forbids it), an empty host, a bad port, parts longer than the limits above.
 * Returns 0 with *out filled. */
int lapps__ws_uri_parse(const char *uri, struct lapps__ws_uri *out);

/* ---- the opening handshake ---- */

#define LAPPS__WSC_MAX_RESPONSE 8192u /* the longest 101 response we read */
#define LAPPS__WSC_MAX_HEADERS  64u   /* header lines in it */

/* A new Sec-WebSocket-Key: 16 bytes from getrandom() in base64 (24 characters + NUL),
 * and the Sec-WebSocket-Accept the server must answer with (28 + NUL). Returns 0,
 * -errno when the kernel gave no randomness, or LAPPS_ERR_NOMEM (SHA-1 could not run). */
int lapps__wsc_key(char key[25], char accept[29]);

/* Writes the upgrade request for @p uri with @p key into out[0..cap): GET target
 * HTTP/1.1, Host, Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version: 13 and
 * a User-Agent. Returns its length, or LAPPS_ERR_NOSPACE. */
lapps_ssize lapps__wsc_request(char *out, size_t cap, const struct lapps__ws_uri *uri,
                               const char *key);

/* Checks the server's response in buf[0..len) (all bytes received so far). Returns:
 *   > 0  the response is complete and a valid 101 for @p accept: its length (the bytes
 *        after it are the first frames);
 *   LAPPS_ERR_AGAIN  the response has not ended yet (and is below the limit);
 *   LAPPS_ERR_HEADER_TOO_BIG  LAPPS__WSC_MAX_RESPONSE bytes without its end, or more
 *        than LAPPS__WSC_MAX_HEADERS header lines;
 *   LAPPS_ERR_HANDSHAKE  anything else: a malformed status line or header line (bare LF,
 *        obs-fold, control characters, no colon, a name that is not a token), a status
 *        other than 101, Upgrade without "websocket" or Connection without "upgrade",
 *        a Sec-WebSocket-Accept missing, repeated or wrong, or an extension or
 *        subprotocol the client never offered.
 * On an error, @p why (why_len bytes, NUL-terminated) says what was wrong; for a status
 * other than 101 it quotes the status line (non-printable bytes replaced by '?').
 * A status line is judged as soon as it ends, so an early refusal needs no more bytes. */
lapps_ssize lapps__wsc_response(const char *buf, size_t len, const char *accept, char *why,
                                size_t why_len);

/* ---- a connection's framing ---- */

#define LAPPS__WSC_DEFAULT_MAX_MESSAGE (16u << 20) /* LAppS's client limit */
#define LAPPS__WSC_DEFAULT_MAX_OUTPUT  (64u << 20)

enum lapps__wsc_state {
    LAPPS__WSC_OPEN = 0, /* messages flow both ways */
    LAPPS__WSC_CLOSING,  /* we sent a close and wait for the server's */
    LAPPS__WSC_CLOSED,   /* the close handshake ended, or the connection failed: only
                            the output left to send */
};

struct lapps__wsc {
    /* Settings, before the first use; 0 means the default above. */
    uint64_t max_message;
    size_t max_output;

    /* Private. */
    struct lapps__frame_parser fp;
    uint8_t state;   /* enum lapps__wsc_state */
    bool msg_done;   /* msg holds a message already handed out: empty it first */
    uint8_t msg_op;  /* the opcode of the message being assembled */
    uint16_t mask_i; /* next unused byte of masks */
    uint8_t *in;     /* received, not yet parsed: in[in_off..in_len) */
    size_t in_off, in_len, in_cap;
    uint8_t *msg; /* a fragmented (or piecewise arriving) message, assembled */
    size_t msg_len, msg_cap;
    uint8_t *out; /* to send: out[out_off..out_len) */
    size_t out_off, out_len, out_cap;
    uint8_t masks[256]; /* random bytes for frame masks, refilled by getrandom() */
};

enum lapps__wsc_event_kind {
    LAPPS__WSC_MESSAGE = 1, /* a whole text or binary message */
    LAPPS__WSC_CLOSE,       /* the server's close frame: answered, the connection is CLOSED
                               (or it answered ours) */
    LAPPS__WSC_FAIL,        /* the server broke the protocol: our close with `code` is queued
                               and the connection is CLOSED */
};

struct lapps__wsc_event {
    int kind;              /* enum lapps__wsc_event_kind */
    uint8_t opcode;        /* MESSAGE: 1 text (valid UTF-8) or 2 binary */
    const uint8_t *data;   /* MESSAGE: the payload; CLOSE: the raw close payload */
    size_t len;            /* (borrowed: valid until the next lapps__wsc_* call) */
    uint16_t code;         /* CLOSE: the server's code (1005: none); FAIL: the code we sent */
    const uint8_t *reason; /* CLOSE: the server's reason, valid UTF-8, may be empty */
    size_t reason_len;
};

/* Prepares @p c (zero-filled, settings set). Returns 0, or -errno when getrandom()
 * failed. Frees nothing: pair with lapps__wsc_free(). */
int lapps__wsc_init(struct lapps__wsc *c);
void lapps__wsc_free(struct lapps__wsc *c);

/* Room for at least @p want received bytes at the end of the input buffer (moving what
 * is kept to its start first). Returns the space and its size in *cap, or NULL when out of
 * memory. Any view handed out by lapps__wsc_next() ends here. Commit what was read
 * with lapps__wsc_in_commit(). */
uint8_t *lapps__wsc_in_space(struct lapps__wsc *c, size_t want, size_t *cap);
void lapps__wsc_in_commit(struct lapps__wsc *c, size_t n);
/* The unparsed input and dropping its first n bytes: the handshake uses these to find and
 * drop the 101 response before the first frame. */
const uint8_t *lapps__wsc_in_data(const struct lapps__wsc *c, size_t *len);
void lapps__wsc_in_drop(struct lapps__wsc *c, size_t n);

/* The next event from the bytes received. Returns 1 with *ev filled, 0 when more bytes
 * are needed (or the connection is CLOSED: nothing more is parsed), or LAPPS_ERR_NOMEM /
 * -errno (getrandom) — then the connection is unusable. Pings are answered by queuing a
 * pong, pongs are ignored, and neither makes an event. Messages received while CLOSING
 * are dropped (the WebSocket API does so after close()). */
int lapps__wsc_next(struct lapps__wsc *c, struct lapps__wsc_event *ev);

/* Queues a message (opcode 1 text or 2 binary; text must be valid UTF-8) as one masked
 * frame. The data is copied. Returns 0, LAPPS_ERR_INVAL (opcode, or text not UTF-8),
 * LAPPS_ERR_STATE (closing or closed), LAPPS_ERR_LIMIT (the output would pass
 * max_output), LAPPS_ERR_NOMEM or -errno (getrandom). */
int lapps__wsc_send(struct lapps__wsc *c, uint8_t opcode, const void *data, size_t len);

/* Starts the close handshake: queues a close frame with @p code (1000–1003, 1007–1014,
 * 3000–4999; 1005 sends an empty close) and the first bytes of @p reason (valid UTF-8)
 * that fit. Returns 0, LAPPS_ERR_INVAL (code or reason), LAPPS_ERR_STATE (not OPEN),
 * LAPPS_ERR_NOMEM or -errno (getrandom). */
int lapps__wsc_close(struct lapps__wsc *c, uint16_t code, const char *reason, size_t reason_len);

/* The bytes waiting to be sent, and how many were sent. */
const uint8_t *lapps__wsc_output(const struct lapps__wsc *c, size_t *len);
void lapps__wsc_output_done(struct lapps__wsc *c, size_t n);

static inline enum lapps__wsc_state
lapps__wsc_state(const struct lapps__wsc *c)
{
    return (enum lapps__wsc_state)c->state;
}

#endif /* LAPPS_WS_CLIENT_H */
