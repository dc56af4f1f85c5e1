/* fuzz-handshake.c — libFuzzer target for the opening-handshake parser (lib/ws/handshake.c)
 * and the responses built from what it accepts (lib/ws/handshake-response.c).
 *
 * Input: byte 0 picks max_size (below 0x80: the default, else a small limit so the 431
 * path is reached), byte 1 seeds the sizes of the chunks the request arrives in, and the
 * rest is the request. The request is parsed whole and again chunk by chunk, each time
 * from an allocation of exactly the bytes received (so AddressSanitizer catches a read
 * past them); both runs must agree. Then the invariants of the contract are checked:
 * views inside the buffer, a 101 can be built from any accepted request, and an error is
 * always one of 400, 426, 431. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "ws/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static struct lapps__hs_request ref, req;

static void
check_view(struct lapps__str v, const char *buf, size_t n)
{
    if (!v.p) {
        CHECK(v.len == 0);
        return;
    }
    CHECK(v.p >= buf && v.len <= n && (size_t)(v.p - buf) <= n - v.len);
}

static void
check_views(const struct lapps__hs_request *r, const char *buf, size_t n)
{
    check_view(r->method, buf, n);
    check_view(r->target, buf, n);
    check_view(r->path, buf, n);
    check_view(r->query, buf, n);
    check_view(r->host, buf, n);
    check_view(r->key, buf, n);
    check_view(r->origin, buf, n);
    check_view(r->protocol, buf, n);
    CHECK(r->n_headers <= LAPPS__HS_MAX_HEADERS);
    CHECK(r->n_protocol_headers <= r->n_headers);
    for (unsigned i = 0; i < r->n_headers; i++) {
        check_view(r->headers[i].name, buf, n);
        check_view(r->headers[i].value, buf, n);
        CHECK(r->headers[i].name.len > 0);
    }
}

static void
same_view(struct lapps__str a, const char *abuf, struct lapps__str b, const char *bbuf)
{
    CHECK(a.len == b.len && (a.p == NULL) == (b.p == NULL));
    if (a.p)
        CHECK(a.p - abuf == b.p - bbuf);
}

static void
same_request(const char *abuf, const char *bbuf)
{
    same_view(ref.method, abuf, req.method, bbuf);
    same_view(ref.target, abuf, req.target, bbuf);
    same_view(ref.path, abuf, req.path, bbuf);
    same_view(ref.query, abuf, req.query, bbuf);
    same_view(ref.host, abuf, req.host, bbuf);
    same_view(ref.key, abuf, req.key, bbuf);
    same_view(ref.origin, abuf, req.origin, bbuf);
    same_view(ref.protocol, abuf, req.protocol, bbuf);
    CHECK(ref.n_headers == req.n_headers && ref.n_protocol_headers == req.n_protocol_headers);
    for (unsigned i = 0; i < ref.n_headers; i++) {
        same_view(ref.headers[i].name, abuf, req.headers[i].name, bbuf);
        same_view(ref.headers[i].value, abuf, req.headers[i].value, bbuf);
    }
}

/* What every accepted request must satisfy. */
static void
check_accepted(const char *buf, size_t rv)
{
    check_views(&ref, buf, rv);
    CHECK(ref.method.len == 3 && memcmp(ref.method.p, "GET", 3) == 0);
    CHECK(ref.target.len >= 1 && ref.target.p[0] == '/');
    CHECK(ref.path.p == ref.target.p && ref.path.len <= ref.target.len);
    CHECK(ref.host.len > 0);
    CHECK(ref.key.len == 24);
    CHECK(lapps__hs_find(&ref, "host") != NULL);
    CHECK(lapps__hs_find(&ref, "SEC-WEBSOCKET-KEY") != NULL);
    CHECK(memcmp(buf + rv - 4, "\r\n\r\n", 4) == 0);

    static const char *const supported[] = {"chat", "superchat", "lapps"};
    struct lapps__str proto;
    bool chosen = lapps__hs_select_protocol(&ref, supported, 3, "alias", &proto);
    CHECK(chosen == (proto.p != NULL));
    if (chosen)
        CHECK(proto.p == supported[0] || proto.p == supported[1] || proto.p == supported[2] ||
              !strcmp(proto.p, "alias"));
    CHECK(chosen || ref.n_protocol_headers == 0 ||
          !lapps__hs_select_protocol(&ref, NULL, 0, NULL, &proto));

    static const struct lapps__hs_extra extra[] = {{"X-Server", "lapps"}};
    char out[512];
    lapps_ssize n =
        lapps__hs_response_101(out, sizeof out, &ref.key, chosen ? proto.p : NULL, extra, 1);
    CHECK(n > 0 && (size_t)n <= sizeof out);
    CHECK(memcmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    CHECK(memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
    /* One CRLF per line and none elsewhere: the request cannot inject into the 101. */
    size_t crlf = 0;
    for (lapps_ssize i = 0; i < n; i++)
        if (out[i] == '\r' || out[i] == '\n')
            crlf++;
    CHECK(crlf == (size_t)(chosen ? 7 : 6) * 2);
}

static void
check_refused(lapps_ssize rv)
{
    CHECK(rv == LAPPS_ERR_HANDSHAKE || rv == LAPPS_ERR_VERSION || rv == LAPPS_ERR_HEADER_TOO_BIG);
    int status = lapps__hs_error_status((int)rv);
    CHECK(status == 400 || status == 426 || status == 431);
    char out[512];
    CHECK(lapps__hs_response_error(out, sizeof out, status) > 0);
}

static char *
copy(const uint8_t *src, size_t n)
{
    /* Exactly n bytes, so ASan flags any read past them (one byte when n is 0, as
     * malloc(0) may return NULL). */
    char *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    if (n)
        memcpy(p, src, n);
    return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max_size = data[0] < 0x80 ? 0 : (size_t)(data[0] - 0x7F) * 16;
    size_t limit = max_size ? max_size : LAPPS__HS_DEFAULT_MAX_SIZE;
    uint32_t rng = 0x9E3779B9u ^ data[1];
    size_t span = (size_t)1 << (data[1] & 7); /* chunks of 1 .. 2^k bytes */
    const uint8_t *text = data + 2;
    size_t n = size - 2;

    /* whole */
    struct lapps__hs_parser p = {.max_size = max_size};
    char *whole = copy(text, n);
    lapps_ssize want = lapps__hs_parse(&p, whole, n, &ref);
    if (want > 0) {
        CHECK((size_t)want <= n && (size_t)want <= limit);
        check_accepted(whole, (size_t)want);
    } else if (want == LAPPS_ERR_AGAIN) {
        CHECK(n < limit);
    } else {
        check_refused(want);
    }
    CHECK(lapps__hs_parse(&p, whole, n, &ref) == want);

    /* in chunks, each prefix in its own allocation */
    struct lapps__hs_parser q = {.max_size = max_size};
    char *prev = NULL;
    size_t len = 0;
    lapps_ssize got = LAPPS_ERR_AGAIN;
    do {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        len += 1 + rng % span;
        if (len > n)
            len = n;
        char *cur = copy(text, len);
        free(prev);
        prev = cur;
        got = lapps__hs_parse(&q, cur, len, &req);
        if (got != LAPPS_ERR_AGAIN)
            CHECK(got == want);
    } while (len < n);
    CHECK(got == want);
    if (want > 0)
        same_request(whole, prev);
    free(prev);
    free(whole);
    return 0;
}
