/* client.c — one client connection's framing (see client.h): the frame codec in client
 * mode (it refuses masked server frames), messages reassembled under max_message, pings
 * answered, the close handshake, and masked output.
 *
 * Masks come from getrandom() (RFC 6455 §5.3: unpredictable, from a strong source), 256
 * bytes at a time, so a busy connection does not make one system call per frame.
 *
 * Memory: the input buffer keeps at most one read plus an incomplete frame header or
 * control frame (the codec hands out data payload as it arrives); the message buffer
 * grows only for a message that arrives in more than one piece, up to max_message, and
 * is given back when it held more than 64 KiB; the output buffer is bounded by
 * max_output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <lapps/error.h>

#include "util/utf8.h"
#include "ws/client.h"
#include "ws/close.h"

#define KEEP_MSG_BUFFER (64u << 10)

static int
refill_masks(struct lapps__wsc *c)
{
    size_t got = 0;
    while (got < sizeof c->masks) {
        ssize_t n = getrandom(c->masks + got, sizeof c->masks - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    c->mask_i = 0;
    return 0;
}

int
lapps__wsc_init(struct lapps__wsc *c)
{
    if (!c->max_message)
        c->max_message = LAPPS__WSC_DEFAULT_MAX_MESSAGE;
    if (!c->max_output)
        c->max_output = LAPPS__WSC_DEFAULT_MAX_OUTPUT;
    c->fp.client = true;
    c->fp.max_message = c->max_message;
    c->state = LAPPS__WSC_OPEN;
    return refill_masks(c);
}

void
lapps__wsc_free(struct lapps__wsc *c)
{
    free(c->in);
    free(c->msg);
    free(c->out);
    c->in = c->msg = c->out = NULL;
    c->in_cap = c->msg_cap = c->out_cap = 0;
}

/* Grows *buf to hold at least @p need bytes (doubling, so appends are amortised O(1)). */
static int
reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    uint8_t *p = realloc(*buf, n);
    if (!p)
        return LAPPS_ERR_NOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

uint8_t *
lapps__wsc_in_space(struct lapps__wsc *c, size_t want, size_t *cap)
{
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (reserve(&c->in, &c->in_cap, c->in_len + want) != 0)
        return NULL;
    *cap = c->in_cap - c->in_len;
    return c->in + c->in_len;
}

void
lapps__wsc_in_commit(struct lapps__wsc *c, size_t n)
{
    c->in_len += n;
}

const uint8_t *
lapps__wsc_in_data(const struct lapps__wsc *c, size_t *len)
{
    *len = c->in_len - c->in_off;
    return c->in + c->in_off;
}

void
lapps__wsc_in_drop(struct lapps__wsc *c, size_t n)
{
    c->in_off += n;
}

/* Appends one masked frame to the output. The whole frame is reserved before anything is
 * written, so a failure leaves the output as it was. */
static int
put_frame(struct lapps__wsc *c, uint8_t opcode, const void *data, size_t len)
{
    size_t pending = c->out_len - c->out_off;
    /* Control frames (a pong, our close) are tiny and must not be lost to the limit. */
    if (opcode < LAPPS__OP_CLOSE && (len > c->max_output || pending + len > c->max_output))
        return LAPPS_ERR_LIMIT;
    if ((size_t)c->mask_i + 4 > sizeof c->masks) {
        int rv = refill_masks(c);
        if (rv != 0)
            return rv;
    }
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (reserve(&c->out, &c->out_cap, c->out_len + LAPPS__FRAME_MAX_HEADER + len) != 0)
        return LAPPS_ERR_NOMEM;
    const uint8_t *mask = c->masks + c->mask_i;
    c->mask_i += 4;
    uint8_t *o = c->out + c->out_len;
    size_t h = lapps__frame_header(o, opcode, true, len, mask);
    if (len) {
        uint32_t key;
        memcpy(&key, mask, 4);
        memcpy(o + h, data, len);
        lapps__mask(o + h, len, key);
    }
    c->out_len += h + len;
    return 0;
}

int
lapps__wsc_send(struct lapps__wsc *c, uint8_t opcode, const void *data, size_t len)
{
    if (opcode != LAPPS__OP_TEXT && opcode != LAPPS__OP_BINARY)
        return LAPPS_ERR_INVAL;
    if (c->state != LAPPS__WSC_OPEN)
        return LAPPS_ERR_STATE;
    if (opcode == LAPPS__OP_TEXT) {
        /* The server would close with 1007: say so here, where the caller can act. */
        uint32_t st = LAPPS__UTF8_ACCEPT;
        if (lapps__utf8_validate(&st, data, len) != 0 || !lapps__utf8_complete(st))
            return LAPPS_ERR_INVAL;
    }
    return put_frame(c, opcode, data, len);
}

int
lapps__wsc_close(struct lapps__wsc *c, uint16_t code, const char *reason, size_t reason_len)
{
    if (c->state != LAPPS__WSC_OPEN)
        return LAPPS_ERR_STATE;
    if (code != LAPPS__CLOSE_NO_STATUS && !lapps__close_code_valid(code))
        return LAPPS_ERR_INVAL;
    uint32_t st = LAPPS__UTF8_ACCEPT;
    if (lapps__utf8_validate(&st, (const uint8_t *)reason, reason_len) != 0 ||
        !lapps__utf8_complete(st))
        return LAPPS_ERR_INVAL;
    uint8_t payload[125];
    size_t n = lapps__close_payload(payload, code, reason, reason_len);
    int rv = put_frame(c, LAPPS__OP_CLOSE, payload, n);
    if (rv == 0)
        c->state = LAPPS__WSC_CLOSING;
    return rv;
}

const uint8_t *
lapps__wsc_output(const struct lapps__wsc *c, size_t *len)
{
    *len = c->out_len - c->out_off;
    return c->out + c->out_off;
}

void
lapps__wsc_output_done(struct lapps__wsc *c, size_t n)
{
    c->out_off += n;
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
}

/* The server broke the protocol: answer with @p code and stop reading. */
static int
fail(struct lapps__wsc *c, uint16_t code, struct lapps__wsc_event *ev)
{
    int rv = 0;
    if (c->state == LAPPS__WSC_OPEN) {
        uint8_t payload[125];
        size_t n = lapps__close_payload(payload, code, NULL, 0);
        rv = put_frame(c, LAPPS__OP_CLOSE, payload, n);
    }
    c->state = LAPPS__WSC_CLOSED;
    if (rv != 0)
        return rv;
    memset(ev, 0, sizeof *ev);
    ev->kind = LAPPS__WSC_FAIL;
    ev->code = code;
    return 1;
}

/* Ends the message being assembled, or gives its buffer back when it grew large. */
static void
msg_reset(struct lapps__wsc *c)
{
    c->msg_len = 0;
    c->msg_done = false;
    if (c->msg_cap > KEEP_MSG_BUFFER) {
        free(c->msg);
        c->msg = NULL;
        c->msg_cap = 0;
    }
}

static int
control(struct lapps__wsc *c, const struct lapps__frame_event *fe, struct lapps__wsc_event *ev)
{
    switch (fe->opcode) {
    case LAPPS__OP_PING:
        /* RFC 6455 §5.5.3: answer with the same payload; not once we sent a close. */
        if (c->state == LAPPS__WSC_OPEN)
            return put_frame(c, LAPPS__OP_PONG, fe->data, fe->len);
        return 0;
    case LAPPS__OP_PONG:
        return 0;
    default: /* LAPPS__OP_CLOSE, its payload already checked by the codec */
        if (c->state == LAPPS__WSC_OPEN) {
            /* Echo the code (an empty close is answered with 1000, as DESIGN.md §5 says). */
            uint8_t payload[125];
            uint16_t code =
                fe->close_code == LAPPS__CLOSE_NO_STATUS ? LAPPS__CLOSE_NORMAL : fe->close_code;
            size_t n = lapps__close_payload(payload, code, NULL, 0);
            int rv = put_frame(c, LAPPS__OP_CLOSE, payload, n);
            if (rv != 0)
                return rv;
        }
        c->state = LAPPS__WSC_CLOSED;
        memset(ev, 0, sizeof *ev);
        ev->kind = LAPPS__WSC_CLOSE;
        ev->data = fe->data;
        ev->len = fe->len;
        ev->code = fe->close_code;
        ev->reason = fe->reason;
        ev->reason_len = fe->reason_len;
        return 1;
    }
}

/* A piece of a data message: a whole message in one piece is handed out in place; the
 * others are gathered in msg. */
static int
data(struct lapps__wsc *c, const struct lapps__frame_event *fe, struct lapps__wsc_event *ev)
{
    if (c->state != LAPPS__WSC_OPEN)
        return 0; /* after our close: dropped */
    if (fe->first && fe->last) {
        memset(ev, 0, sizeof *ev);
        ev->kind = LAPPS__WSC_MESSAGE;
        ev->opcode = fe->opcode;
        ev->data = fe->data;
        ev->len = fe->len;
        return 1;
    }
    if (fe->first) {
        c->msg_len = 0;
        c->msg_op = fe->opcode;
    }
    /* The codec checked the running total against max_message before this piece. */
    if (fe->len) {
        if (reserve(&c->msg, &c->msg_cap, c->msg_len + fe->len) != 0)
            return LAPPS_ERR_NOMEM;
        memcpy(c->msg + c->msg_len, fe->data, fe->len);
        c->msg_len += fe->len;
    }
    if (!fe->last)
        return 0;
    c->msg_done = true;
    memset(ev, 0, sizeof *ev);
    ev->kind = LAPPS__WSC_MESSAGE;
    ev->opcode = c->msg_op;
    ev->data = c->msg_len ? c->msg : (const uint8_t *)"";
    ev->len = c->msg_len;
    return 1;
}

int
lapps__wsc_next(struct lapps__wsc *c, struct lapps__wsc_event *ev)
{
    if (c->msg_done)
        msg_reset(c);
    while (c->state != LAPPS__WSC_CLOSED && c->in_off < c->in_len) {
        struct lapps__frame_event fe;
        lapps_ssize n = lapps__frame_parse(&c->fp, c->in + c->in_off, c->in_len - c->in_off, &fe);
        if (n == LAPPS_ERR_AGAIN)
            return 0;
        if (n < 0)
            return fail(c, c->fp.close_code, ev);
        c->in_off += (size_t)n;
        int rv = 0;
        if (fe.kind == LAPPS__FRAME_DATA)
            rv = data(c, &fe, ev);
        else if (fe.kind == LAPPS__FRAME_CONTROL)
            rv = control(c, &fe, ev);
        if (rv != 0)
            return rv;
    }
    return 0;
}
