/* frame.c — the RFC 6455 §5 frame parser and header encoder (see frame.h).
 *
 * Every header check runs as soon as the bytes it needs are present, before the state
 * changes and before any payload is touched, so a call that returns LAPPS_ERR_AGAIN
 * leaves both the parser and the buffer as they were. */
#include <string.h>

#include <lapps/error.h>

#include "util/mask-utf8.h"
#include "util/mask.h"
#include "util/utf8.h"
#include "ws/close.h"
#include "ws/frame.h"

lapps_ssize
lapps__frame_fail(struct lapps__frame_parser *p, uint16_t code)
{
    p->close_code = code;
    switch (code) {
    case LAPPS__CLOSE_INVALID_DATA:
        return LAPPS_ERR_UTF8;
    case LAPPS__CLOSE_TOO_BIG:
        return LAPPS_ERR_TOO_BIG;
    default:
        return LAPPS_ERR_PROTO;
    }
}

static inline uint64_t
load_be64(const uint8_t *b)
{
    uint64_t v;
    memcpy(&v, b, 8);
    return __builtin_bswap64(v);
}

/* Hands out the next piece of the current data frame's payload: what is present of it
 * in pl[0..avail). `consumed` counts the header bytes this call already took. */
static __attribute__((noinline)) lapps_ssize
deliver(struct lapps__frame_parser *p, uint8_t *pl, size_t avail, struct lapps__frame_event *ev,
        size_t consumed)
{
    size_t n = p->remaining < avail ? (size_t)p->remaining : avail;
    if (n == 0 && p->remaining != 0) {
        if (consumed == 0)
            return LAPPS_ERR_AGAIN;
        ev->kind = LAPPS__FRAME_NONE;
        return (lapps_ssize)consumed;
    }
    p->remaining -= n;
    bool frame_end = p->remaining == 0;
    bool last = frame_end && p->fin;
    if (p->msg_op == LAPPS__OP_TEXT) {
        /* A server unmasks and validates text in one pass; a client's frames are not
         * masked. */
        int rv = p->client ? lapps__utf8_validate(&p->utf8, pl, n)
                           : lapps__mask_utf8(pl, n, &p->key, &p->utf8);
        if (rv != 0)
            return lapps__frame_fail(p, LAPPS__CLOSE_INVALID_DATA);
        if (last && !lapps__utf8_complete(p->utf8))
            return lapps__frame_fail(p, LAPPS__CLOSE_INVALID_DATA);
    } else if (!p->client) {
        p->key = lapps__mask(pl, n, p->key);
    }
    ev->kind = LAPPS__FRAME_DATA;
    ev->opcode = p->msg_op;
    ev->first = p->piece_first;
    ev->last = last;
    ev->frame_end = frame_end;
    ev->data = pl;
    ev->len = n;
    p->piece_first = 0;
    if (frame_end) {
        p->in_frame = 0;
        if (last)
            p->msg_op = 0;
    }
    return (lapps_ssize)(consumed + n);
}

static lapps_ssize
control(struct lapps__frame_parser *p, uint8_t *pl, size_t plen, unsigned op, uint32_t key,
        struct lapps__frame_event *ev)
{
    if (!p->client)
        lapps__mask(pl, plen, key);
    ev->kind = LAPPS__FRAME_CONTROL;
    ev->opcode = (uint8_t)op;
    ev->data = pl;
    ev->len = plen;
    if (op == LAPPS__OP_CLOSE) {
        int rv = lapps__close_parse(pl, plen, &ev->close_code, &ev->reason, &ev->reason_len);
        if (rv == LAPPS_ERR_UTF8)
            return lapps__frame_fail(p, LAPPS__CLOSE_INVALID_DATA);
        if (rv != 0)
            return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    }
    return 0;
}

/* Every other frame header. Kept out of line so that the common path above runs
 * without this function's register saves. */
static __attribute__((noinline)) lapps_ssize
parse_header(struct lapps__frame_parser *p, uint8_t *buf, size_t len, struct lapps__frame_event *ev)
{
    if (len == 0)
        return LAPPS_ERR_AGAIN;

    unsigned b0 = buf[0];
    unsigned op = b0 & 0x0F;
    bool fin = b0 & 0x80;
    if (b0 & 0x70) /* RSV1-3: no extension was negotiated */
        return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    if (op >= LAPPS__OP_CLOSE) {
        if (op > LAPPS__OP_PONG || !fin)
            return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    } else if (op > LAPPS__OP_BINARY) {
        return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    } else if ((op == LAPPS__OP_CONT) != (p->msg_op != 0)) {
        /* A continuation outside a message, or a new message inside one. */
        return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    }
    if (len < 2)
        return LAPPS_ERR_AGAIN;

    unsigned b1 = buf[1];
    bool masked = b1 & 0x80;
    if (masked == p->client)
        return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    uint64_t plen = b1 & 0x7F;
    size_t hlen = 2;
    if (op >= LAPPS__OP_CLOSE && plen > LAPPS__FRAME_MAX_CONTROL)
        return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    if (plen == 126) {
        if (len < 4)
            return LAPPS_ERR_AGAIN;
        plen = (uint64_t)buf[2] << 8 | buf[3];
        hlen = 4;
        if (plen < 126) /* RFC 6455 §5.2: the minimal length encoding MUST be used */
            return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    } else if (plen == 127) {
        if (len < 10)
            return LAPPS_ERR_AGAIN;
        plen = load_be64(buf + 2);
        hlen = 10;
        if (plen >> 63 || plen <= 0xFFFF)
            return lapps__frame_fail(p, LAPPS__CLOSE_PROTOCOL);
    }
    uint32_t key = 0;
    if (masked) {
        if (len < hlen + 4)
            return LAPPS_ERR_AGAIN;
        memcpy(&key, buf + hlen, 4);
        hlen += 4;
    }

    if (op >= LAPPS__OP_CLOSE) {
        /* Control frames are handed out whole; the caller keeps a partial one. */
        if (len - hlen < plen)
            return LAPPS_ERR_AGAIN;
        lapps_ssize rv = control(p, buf + hlen, (size_t)plen, op, key, ev);
        return rv < 0 ? rv : (lapps_ssize)(hlen + plen);
    }

    uint64_t so_far = op == LAPPS__OP_CONT ? p->msg_len : 0;
    if (p->max_message && plen > p->max_message - so_far)
        return lapps__frame_fail(p, LAPPS__CLOSE_TOO_BIG);
    if (op != LAPPS__OP_CONT) {
        p->msg_op = (uint8_t)op;
        p->utf8 = LAPPS__UTF8_ACCEPT;
        p->piece_first = 1;
    }
    p->msg_len = so_far + plen;
    p->remaining = plen;
    p->key = key;
    p->fin = fin;
    p->in_frame = 1;
    return deliver(p, buf + hlen, len - hlen, ev, hlen);
}

lapps_ssize
lapps__frame_parse_general(struct lapps__frame_parser *p, uint8_t *buf, size_t len,
                           struct lapps__frame_event *ev)
{
    return p->in_frame ? deliver(p, buf, len, ev, 0) : parse_header(p, buf, len, ev);
}

lapps_ssize
lapps__frame_parse(struct lapps__frame_parser *p, uint8_t *buf, size_t len,
                   struct lapps__frame_event *ev)
{
    if (!p->in_frame && len >= 6 && !p->msg_op && !p->client) {
        lapps_ssize rv = lapps__frame_whole(p, buf, len, ev);
        if (rv != 0)
            return rv;
    }
    return lapps__frame_parse_general(p, buf, len, ev);
}
