/* frame.h — the RFC 6455 §5 frame codec: an incremental parser for the frames a peer
 * sends, and the header encoder for the frames we send. No I/O, no allocation.
 *
 * The parser works on the caller's buffer and unmasks payload in place. It reports one
 * event per call and says how many bytes it consumed; bytes it did not consume (an
 * incomplete frame header, or a control frame whose payload has not fully arrived —
 * at most 131 bytes) must be kept by the caller and passed again, followed by what
 * arrives next. Data payload is handed out as it arrives, in pieces (zero-copy views),
 * and text is UTF-8-validated piece by piece, so a bad byte is caught as soon as it is
 * received, even inside a frame that is still incomplete. */
#ifndef LAPPS_WS_FRAME_H
#define LAPPS_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lapps/common.h>
#include <lapps/error.h>

#include "util/mask-utf8.h"
#include "util/mask.h"
#include "util/utf8.h"

enum lapps__opcode {
    LAPPS__OP_CONT = 0x0,
    LAPPS__OP_TEXT = 0x1,
    LAPPS__OP_BINARY = 0x2,
    LAPPS__OP_CLOSE = 0x8,
    LAPPS__OP_PING = 0x9,
    LAPPS__OP_PONG = 0xA,
};

/* Close codes the codec reports (RFC 6455 §7.4.1). */
enum lapps__close_code {
    LAPPS__CLOSE_NORMAL = 1000,
    LAPPS__CLOSE_GOING_AWAY = 1001,
    LAPPS__CLOSE_PROTOCOL = 1002,
    LAPPS__CLOSE_UNSUPPORTED = 1003,
    LAPPS__CLOSE_NO_STATUS = 1005, /* never sent: an empty close payload */
    LAPPS__CLOSE_ABNORMAL = 1006,  /* never sent: the connection dropped */
    LAPPS__CLOSE_INVALID_DATA = 1007,
    LAPPS__CLOSE_POLICY = 1008,
    LAPPS__CLOSE_TOO_BIG = 1009,
    LAPPS__CLOSE_INTERNAL = 1011,
};

#define LAPPS__FRAME_MAX_HEADER  14u  /* 2 + 8 (64-bit length) + 4 (mask) */
#define LAPPS__FRAME_MAX_CONTROL 125u /* control payload limit */

struct lapps__frame_parser {
    /* Settings: a zero-filled parser is a server-side parser without a message limit. */
    uint64_t max_message; /* largest message in bytes (over all fragments); 0: no limit */
    bool client;          /* true: parse a server's frames (unmasked) instead of a client's */

    /* Private state. */
    uint64_t remaining;  /* payload bytes still to come in the current data frame */
    uint64_t msg_len;    /* payload bytes of the current message so far */
    uint32_t key;        /* masking key, rotated for the next payload byte */
    uint32_t utf8;       /* UTF-8 validator state of the current text message */
    uint8_t msg_op;      /* LAPPS__OP_TEXT/BINARY while a message is open, else 0 */
    uint8_t in_frame;    /* 1 while a data frame's payload is being delivered */
    uint8_t fin;         /* the current data frame ends its message */
    uint8_t piece_first; /* the next piece is the first of its message */
    uint16_t close_code; /* after an error: the close code to send */
};

enum lapps__frame_event_kind {
    LAPPS__FRAME_NONE = 0, /* bytes consumed, nothing to report yet */
    LAPPS__FRAME_DATA,     /* a piece of a text or binary message */
    LAPPS__FRAME_CONTROL,  /* a whole close, ping or pong frame */
};

struct lapps__frame_event {
    uint8_t kind;          /* enum lapps__frame_event_kind */
    uint8_t opcode;        /* DATA: the message's opcode (TEXT/BINARY), also for continuation
                              frames; CONTROL: CLOSE/PING/PONG */
    bool first;            /* DATA: the first piece of the message */
    bool last;             /* DATA: the last piece of the message */
    bool frame_end;        /* DATA: this piece ends a frame */
    uint8_t *data;         /* the piece (DATA) or the whole payload (CONTROL), unmasked, in the */
    size_t len;            /* caller's buffer */
    uint16_t close_code;   /* CLOSE: the peer's code, 1005 when its payload was empty */
    const uint8_t *reason; /* CLOSE: the peer's reason (valid UTF-8), may be empty */
    size_t reason_len;
};

/* Parses from buf[0..len). Returns the number of bytes consumed (> 0 for every call
 * that makes progress) with *ev filled, or:
 *   LAPPS_ERR_AGAIN    nothing can be done with these bytes: keep them, call again
 *                      with more appended;
 *   LAPPS_ERR_PROTO, LAPPS_ERR_UTF8, LAPPS_ERR_TOO_BIG
 *                      the peer broke the protocol: p->close_code holds the code to
 *                      close with (1002, 1007, 1009). The parser must not be used again.
 * An empty data frame gives a DATA event with len 0, so empty messages are seen. */
lapps_ssize lapps__frame_parse(struct lapps__frame_parser *p, uint8_t *buf, size_t len,
                               struct lapps__frame_event *ev);
/* lapps__frame_parse() without its whole-frame fast path, for a caller that has just
 * tried lapps__frame_whole() itself (the server's read loop): same contract. */
lapps_ssize lapps__frame_parse_general(struct lapps__frame_parser *p, uint8_t *buf, size_t len,
                                       struct lapps__frame_event *ev);

/* Whether a message is in progress (a fragmented message not yet finished). */
static inline bool
lapps__frame_in_message(const struct lapps__frame_parser *p)
{
    return p->msg_op != 0;
}

/* Writes a frame header into out and returns its length (2, 4, 6, 8, 10 or 14 bytes).
 * mask is NULL for server frames (unmasked); a client passes its 4 masking bytes (and
 * masks the payload itself with lapps__mask()). Inline: it runs once per message sent. */
static inline size_t
lapps__frame_header(uint8_t out[LAPPS__FRAME_MAX_HEADER], uint8_t opcode, bool fin, uint64_t len,
                    const uint8_t *mask)
{
    size_t n = 2;
    uint8_t mbit = mask ? 0x80 : 0;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = mbit | (uint8_t)len;
    } else if (len <= 0xFFFF) {
        out[1] = mbit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = mbit | 127;
        uint64_t be = __builtin_bswap64(len);
        memcpy(out + 2, &be, 8);
        n = 10;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

lapps_ssize lapps__frame_fail(struct lapps__frame_parser *p, uint16_t code);

/* The most frequent frame: a client's whole text or binary message in one masked frame
 * of under 64 KiB, complete in the buffer, outside a fragmented message. Its first two
 * bytes select it, and every check of the general path holds for it by construction;
 * the parser's state does not change. Returns 0 when the frame is not of that kind. */
static inline lapps_ssize
lapps__frame_whole(struct lapps__frame_parser *p, uint8_t *buf, size_t len,
                   struct lapps__frame_event *ev)
{
    unsigned b0 = buf[0], b1 = buf[1];
    if ((b0 != 0x81 && b0 != 0x82) || b1 < 0x80 || b1 == 0xFF)
        return 0;
    size_t plen = b1 & 0x7F, hlen = 6;
    if (plen == 126) {
        if (len < 8)
            return 0;
        plen = (size_t)buf[2] << 8 | buf[3];
        hlen = 8;
        if (plen < 126)
            return 0; /* the general path refuses it */
    }
    if (len - hlen < plen || (p->max_message && plen > p->max_message))
        return 0;
    uint32_t key;
    memcpy(&key, buf + hlen - 4, 4);
    uint8_t *pl = buf + hlen;
    if (b0 == 0x81) {
        uint32_t st = LAPPS__UTF8_ACCEPT;
        if (lapps__mask_utf8(pl, plen, &key, &st) != 0 || !lapps__utf8_complete(st))
            return lapps__frame_fail(p, LAPPS__CLOSE_INVALID_DATA);
    } else {
        lapps__mask(pl, plen, key);
    }
    ev->kind = LAPPS__FRAME_DATA;
    ev->opcode = (uint8_t)(b0 & 0x0F);
    ev->first = ev->last = ev->frame_end = true;
    ev->data = pl;
    ev->len = plen;
    return (lapps_ssize)(hlen + plen);
}

#endif /* LAPPS_WS_FRAME_H */
