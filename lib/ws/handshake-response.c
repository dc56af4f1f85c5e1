/* handshake-response.c — the server's side of the opening handshake: the 101 that
 * switches to WebSocket and the complete error responses of DESIGN.md §4.
 *
 * Everything a service supplies (subprotocol, extra headers) is validated before a byte
 * is written, so a name or value cannot inject a header or end the response early. Output
 * goes through a bounded writer that counts what it would need and never stores past
 * the capacity. */
#include <stdbool.h>
#include <string.h>

#include <lapps/error.h>

#include "ws/handshake.h"

struct out {
    char *p;
    size_t cap;
    size_t len; /* bytes the response needs so far; > cap once something did not fit */
};

static void
put(struct out *o, const char *s, size_t n)
{
    if (n && o->len <= o->cap && n <= o->cap - o->len)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void
puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void
put_uint(struct out *o, size_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + i, sizeof tmp - i);
}

static lapps_ssize
finish(const struct out *o)
{
    return o->len > o->cap ? LAPPS_ERR_NOSPACE : (lapps_ssize)o->len;
}

/* RFC 7230 §3.2.6 token. */
static bool
is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned c = (unsigned char)*s;
        bool ok = (c - 'a' < 26u) || (c - 'A' < 26u) || (c - '0' < 10u) ||
                  (c && memchr(extra, (int)c, sizeof extra - 1));
        if (!ok)
            return false;
    }
    return true;
}

/* An extra header's value: visible ASCII, SP and HTAB. CR or LF would start a new header
 * or end the response (header injection); other control characters have no place in
 * HTTP; obs-text (bytes >= 0x80) is legal but its charset is undefined (RFC 7230 §3.2.4),
 * so a service that needs more than ASCII encodes it. */
static bool
is_field_value(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c >= 0x7F)
            return false;
    }
    return true;
}

static bool
ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        unsigned x = (unsigned char)*a, y = (unsigned char)*b;
        if ((x - 'A' < 26u ? x + 32 : x) != (y - 'A' < 26u ? y + 32 : y))
            return false;
    }
    return *a == *b;
}

static bool
iprefix(const char *s, const char *lit)
{
    for (; *lit; s++, lit++) {
        unsigned x = (unsigned char)*s;
        if (!x || (x - 'A' < 26u ? x + 32 : x) != (unsigned char)*lit)
            return false;
    }
    return true;
}

/* Headers a service may not add: those the 101 writes itself (a second copy would
 * contradict it), every Sec-WebSocket-* (the handshake's own, RFC 6455 §11.3), and the
 * hop-by-hop and framing headers, which would change how the client or a proxy reads
 * the bytes after the response (a 101 has no body). */
static bool
is_reserved(const char *name)
{
    static const char *const names[] = {
        "upgrade", "connection", "content-length", "transfer-encoding",
        "trailer", "te",         "keep-alive",     "proxy-connection",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ieq(name, names[i]))
            return true;
    return iprefix(name, "sec-websocket-");
}

bool
lapps__hs_extra_valid(const char *name, const char *value)
{
    return name && value && is_token(name) && !is_reserved(name) && is_field_value(value);
}

/* Writes the 101 through o; accept is NULL when only the length is wanted. */
static void
put_101(struct out *o, const char *accept, const char *protocol,
        const struct lapps__hs_extra *extra, size_t n_extra)
{
    puts_(o, "HTTP/1.1 101 Switching Protocols\r\n"
             "Upgrade: websocket\r\n"
             "Connection: Upgrade\r\n"
             "Sec-WebSocket-Accept: ");
    if (accept)
        put(o, accept, 28);
    else
        o->len += 28;
    puts_(o, "\r\n");
    if (protocol) {
        puts_(o, "Sec-WebSocket-Protocol: ");
        puts_(o, protocol);
        puts_(o, "\r\n");
    }
    for (size_t i = 0; i < n_extra; i++) {
        puts_(o, extra[i].name);
        puts_(o, ": ");
        puts_(o, extra[i].value);
        puts_(o, "\r\n");
    }
    puts_(o, "\r\n");
}

size_t
lapps__hs_response_101_len(const char *protocol, const struct lapps__hs_extra *extra,
                           size_t n_extra)
{
    struct out o = {NULL, 0, 0};
    put_101(&o, NULL, protocol, extra, n_extra);
    return o.len;
}

bool
lapps__hs_protocol_valid(const char *protocol)
{
    return protocol && is_token(protocol);
}

lapps_ssize
lapps__hs_response_101(char *out, size_t cap, const struct lapps__str *key, const char *protocol,
                       const struct lapps__hs_extra *extra, size_t n_extra)
{
    if (protocol && !is_token(protocol))
        return LAPPS_ERR_INVAL;
    for (size_t i = 0; i < n_extra; i++)
        if (!lapps__hs_extra_valid(extra[i].name, extra[i].value))
            return LAPPS_ERR_INVAL;

    char accept[29];
    int rv = lapps__hs_accept_key(key, accept);
    if (rv != 0)
        return rv;

    struct out o = {out, cap, 0};
    put_101(&o, accept, protocol, extra, n_extra);
    return finish(&o);
}

struct error_page {
    int status;
    const char *reason;
    const char *headers; /* extra header lines, each ending in CRLF */
    const char *body;
};

static const struct error_page pages[] = {
    {400, "Bad Request", "Connection: close\r\n", "Not a valid WebSocket handshake.\n"},
    {403, "Forbidden", "Connection: close\r\n", "Forbidden.\n"},
    {404, "Not Found", "Connection: close\r\n", "No WebSocket service at this address.\n"},
    {426, "Upgrade Required",
     "Connection: close, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
     "This server speaks WebSocket version 13 only.\n"},
    {431, "Request Header Fields Too Large", "Connection: close\r\n",
     "The handshake request is too large.\n"},
    {500, "Internal Server Error", "Connection: close\r\n",
     "The server could not complete the handshake.\n"},
    {503, "Service Unavailable", "Connection: close\r\n", "The server is full; try again later.\n"},
};

lapps_ssize
lapps__hs_response_error(char *out, size_t cap, int status)
{
    const struct error_page *pg = NULL;
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (pages[i].status == status)
            pg = &pages[i];
    if (!pg)
        return LAPPS_ERR_INVAL;

    size_t body = strlen(pg->body);
    struct out o = {out, cap, 0};
    puts_(&o, "HTTP/1.1 ");
    put_uint(&o, (size_t)status);
    puts_(&o, " ");
    puts_(&o, pg->reason);
    puts_(&o, "\r\nContent-Type: text/plain\r\nContent-Length: ");
    put_uint(&o, body);
    puts_(&o, "\r\n");
    puts_(&o, pg->headers);
    puts_(&o, "\r\n");
    put(&o, pg->body, body);
    return finish(&o);
}
