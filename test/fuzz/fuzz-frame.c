/* fuzz-frame.c — libFuzzer target for the frame parser.
 *
 * The first two input bytes choose the settings (message limit, client or server side)
 * and the chunk size; the rest is wire data. The data is parsed twice, whole and in
 * chunks (keeping what the parser leaves unconsumed, as the contract says), and both
 * runs must report the same messages, control frames and error. Every view the parser
 * hands out must lie inside the buffer it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "ws/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
    uint64_t h;
    uint64_t events;
    int err;
    uint16_t close_code;
};

static void
mix(struct digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 1099511628211ull;
}

static void
run(const uint8_t *data, size_t size, size_t chunk, uint64_t limit, bool client, struct digest *d)
{
    struct lapps__frame_parser p = {.max_message = limit, .client = client};
    uint8_t carry[LAPPS__FRAME_MAX_HEADER + LAPPS__FRAME_MAX_CONTROL];
    size_t carry_n = 0;
    memset(d, 0, sizeof *d);
    d->h = 14695981039346656037ull;
    for (size_t at = 0; at < size;) {
        size_t n = size - at < chunk ? size - at : chunk;
        size_t total = carry_n + n;
        uint8_t *buf = malloc(total);
        memcpy(buf, carry, carry_n);
        memcpy(buf + carry_n, data + at, n);
        at += n;
        size_t off = 0;
        for (;;) {
            struct lapps__frame_event ev;
            lapps_ssize r = lapps__frame_parse(&p, buf + off, total - off, &ev);
            if (r == LAPPS_ERR_AGAIN)
                break;
            if (r < 0) {
                d->err = (int)r;
                d->close_code = p.close_code;
                if (p.close_code != 1002 && p.close_code != 1007 && p.close_code != 1009)
                    abort();
                free(buf);
                return;
            }
            if (r == 0 || (size_t)r > total - off)
                abort();
            if (ev.kind != LAPPS__FRAME_NONE) {
                if (ev.data < buf + off || ev.data + ev.len > buf + off + (size_t)r)
                    abort();
                d->events++;
                /* Data is mixed byte by byte so piece boundaries do not matter. */
                mix(d, ev.data, ev.len);
                if (ev.kind == LAPPS__FRAME_CONTROL || ev.last) {
                    uint8_t tag[2] = {ev.kind, ev.opcode};
                    mix(d, tag, 2);
                }
            }
            off += (size_t)r;
        }
        carry_n = total - off;
        if (carry_n > sizeof carry)
            abort();
        memcpy(carry, buf + off, carry_n);
        free(buf);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint64_t limits[4] = {0, 16, 1000, 1 << 20};
    uint64_t limit = limits[data[0] & 3];
    bool client = data[0] & 4;
    size_t chunk = (size_t)data[1] + 1;
    struct digest whole, split;
    run(data + 2, size - 2, size, limit, client, &whole);
    run(data + 2, size - 2, chunk, limit, client, &split);
    /* Events are not compared by count: data pieces depend on the chunking. */
    if (whole.err != split.err || whole.close_code != split.close_code)
        abort();
    if (!whole.err && whole.h != split.h)
        abort();
    return 0;
}
