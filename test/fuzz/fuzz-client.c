/* fuzz-client.c — libFuzzer target for the WebSocket client (lib/ws/client*.c), which
 * reads what a server sends: the 101 response, then frames. A hostile server must not
 * crash it, make it read outside its buffers, or hand out anything but whole text
 * (valid UTF-8) and binary messages within the limit.
 *
 * The first input byte chooses the chunk size the bytes arrive in and the message
 * limit; the rest is the server's byte stream: the response is checked as it grows (as
 * cws does), then whatever follows it is framing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "util/utf8.h"
#include "ws/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The accept value of the key "dGhlIHNhbXBsZSBub25jZQ==" (RFC 6455 §1.3). */
static const char accept_value[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

static void
check_event(const struct lapps__wsc_event *ev, uint64_t limit)
{
    if (ev->kind == LAPPS__WSC_MESSAGE) {
        if (ev->opcode != 1 && ev->opcode != 2)
            abort();
        if (ev->len > limit || (ev->len && !ev->data))
            abort();
        uint32_t st = LAPPS__UTF8_ACCEPT;
        if (ev->opcode == 1 &&
            (lapps__utf8_validate(&st, ev->data, ev->len) != 0 || !lapps__utf8_complete(st)))
            abort();
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < ev->len; i++) /* every byte handed out is readable */
            sink ^= ev->data[i];
        (void)sink;
    } else if (ev->kind == LAPPS__WSC_CLOSE) {
        uint32_t st = LAPPS__UTF8_ACCEPT;
        if (ev->reason_len && (lapps__utf8_validate(&st, ev->reason, ev->reason_len) != 0 ||
                               !lapps__utf8_complete(st)))
            abort();
    } else if (ev->kind != LAPPS__WSC_FAIL) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] & 0x1F) + 1;
    uint64_t limit = (data[0] & 0x20) ? 64 : 1u << 16;
    data++;
    size--;

    struct lapps__wsc c = {.max_message = limit, .max_output = 1u << 16};
    if (lapps__wsc_init(&c) != 0)
        return 0;
    bool upgraded = false;
    char why[128];
    for (size_t off = 0; off < size && lapps__wsc_state(&c) != LAPPS__WSC_CLOSED;) {
        size_t n = size - off < chunk ? size - off : chunk, cap;
        uint8_t *in = lapps__wsc_in_space(&c, n, &cap);
        if (!in || cap < n)
            break;
        memcpy(in, data + off, n);
        lapps__wsc_in_commit(&c, n);
        off += n;
        if (!upgraded) {
            size_t have;
            const uint8_t *buf = lapps__wsc_in_data(&c, &have);
            lapps_ssize r =
                lapps__wsc_response((const char *)buf, have, accept_value, why, sizeof why);
            if (r == LAPPS_ERR_AGAIN)
                continue;
            if (r < 0)
                break;
            if ((size_t)r > have)
                abort();
            lapps__wsc_in_drop(&c, (size_t)r);
            upgraded = true;
        }
        struct lapps__wsc_event ev;
        int rv;
        while ((rv = lapps__wsc_next(&c, &ev)) == 1) {
            check_event(&ev, limit);
            if (ev.kind == LAPPS__WSC_MESSAGE && lapps__wsc_state(&c) == LAPPS__WSC_OPEN)
                lapps__wsc_send(&c, ev.opcode, ev.data, ev.len); /* echo it, as a client might */
        }
        if (rv < 0)
            break;
        size_t out;
        lapps__wsc_output(&c, &out);
        lapps__wsc_output_done(&c, out);
    }
    lapps__wsc_free(&c);
    return 0;
}
