/* client.h — one outgoing WebSocket connection (ws:// or wss://) with its socket, for the
 * cws Lua module: connect, TLS, the opening handshake, reading and writing without ever
 * blocking after the connect, and the end of the connection, reported once.
 *
 * The caller owns the loop: it polls lapps__cws_fd() for lapps__cws_poll_events() (with a
 * timeout no later than lapps__cws_deadline(), and 0 while lapps__cws_ready()), calls
 * lapps__cws_io() with what poll returned, then takes events with lapps__cws_next() until
 * it returns 0. After the LAPPS__CWS_END event the connection only awaits
 * lapps__cws_free(). One thread at a time per connection. */
#ifndef LAPPS_NET_CLIENT_H
#define LAPPS_NET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAPPS__CWS_DEFAULT_TIMEOUT_MS 10000

struct lapps__cws_opts {
    bool no_verify;       /* wss://: accept any certificate for any name (LAppS's behaviour) */
    const char *ca_file;  /* wss://: trust this PEM file instead of the system CA store */
    int timeout_ms;       /* each of connect, opening handshake, closing; 0: the default */
    uint64_t max_message; /* largest message received; 0: 16 MiB */
    size_t max_output;    /* bytes queued to send at most; 0: 64 MiB */
};

enum lapps__cws_event_kind {
    LAPPS__CWS_OPEN = 1, /* the server accepted the upgrade */
    LAPPS__CWS_MESSAGE,  /* a text (valid UTF-8) or binary message */
    LAPPS__CWS_END,      /* the connection is over: the last event */
};

struct lapps__cws_event {
    int kind;
    uint8_t opcode;        /* MESSAGE: 1 text or 2 binary */
    const uint8_t *data;   /* MESSAGE: the message; END: the server's raw close payload */
    size_t len;            /* (borrowed: valid until the next lapps__cws_* call) */
    bool opened;           /* END: whether OPEN had been reported */
    bool clean;            /* END: the close handshake completed */
    uint16_t code;         /* END: the server's close code (1005: it sent none), the code we
                              failed the connection with (1002, 1007, 1009), or 1006 */
    const uint8_t *reason; /* END: the server's close reason (UTF-8), may be empty */
    size_t reason_len;
    const char *error; /* END: why it ended abnormally; NULL after a clean close */
};

struct lapps__cws;

/* Parses @p uri, resolves its host (getaddrinfo: names, IPv4, IPv6 in brackets), connects
 * to the first address that answers within the timeout, and queues the upgrade request.
 * Name resolution itself is not bounded by the timeout (it is the system resolver's).
 * Returns 0, or LAPPS_ERR_INVAL (bad URI), LAPPS_ERR_TLS (bad CA file), -errno of the
 * last connect (ETIMEDOUT at the timeout), LAPPS_ERR_NOMEM; @p why says what failed. */
int lapps__cws_open(struct lapps__cws **out, const char *uri, const struct lapps__cws_opts *o,
                    char *why, size_t why_len);
/* Closes the socket at once (no close frame) and frees; NULL is a no-op. */
void lapps__cws_free(struct lapps__cws *c);

int lapps__cws_fd(const struct lapps__cws *c);
short lapps__cws_poll_events(const struct lapps__cws *c);
/* Milliseconds (CLOCK_MONOTONIC) when the current phase times out, or -1. */
int64_t lapps__cws_deadline(const struct lapps__cws *c);
/* Bytes wait in the TLS session: call lapps__cws_io() without waiting for poll. */
bool lapps__cws_ready(const struct lapps__cws *c);
/* Whether LAPPS__CWS_END was handed out. */
bool lapps__cws_done(const struct lapps__cws *c);

/* Reads what the socket has (up to 256 KiB a call, so one busy connection cannot starve
 * the others), sends what is queued, and checks the deadline. */
void lapps__cws_io(struct lapps__cws *c, short revents);

/* Sends what is queued, as far as the socket takes it now (lapps__cws_send() does too). */
void lapps__cws_flush(struct lapps__cws *c);

/* The next event: 1 with *ev filled, or 0. */
int lapps__cws_next(struct lapps__cws *c, struct lapps__cws_event *ev);

/* Queues a message (copied) and sends what the socket takes; before OPEN it waits for
 * the handshake. Returns 0,
 * LAPPS_ERR_INVAL (opcode, or text not UTF-8), LAPPS_ERR_STATE (closing or over),
 * LAPPS_ERR_LIMIT (max_output), LAPPS_ERR_NOMEM. */
int lapps__cws_send(struct lapps__cws *c, uint8_t opcode, const void *data, size_t len);

/* Starts the close handshake with @p code and @p reason (see lapps__wsc_close()); END
 * follows when the server answers, or at the timeout. Before OPEN the connection is
 * dropped at once and returns 1: no event follows. While closing already: 0, nothing
 * more. Returns 0, 1, LAPPS_ERR_INVAL (code or reason) or LAPPS_ERR_NOMEM. */
int lapps__cws_close(struct lapps__cws *c, uint16_t code, const char *reason, size_t reason_len);

#endif /* LAPPS_NET_CLIENT_H */
