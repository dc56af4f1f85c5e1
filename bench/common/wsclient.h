/* wsclient — the client side of RFC 6455 that the benchmark clients share
 * (bench/echo/loadgen, bench/bcast/fanout): the server's address from a URL, non-blocking
 * connects on an epoll set, the opening handshake (Sec-WebSocket-Accept checked) and
 * masked frame building.
 *
 * Each client keeps its own connection state, event loop, send path and frame parser
 * (they verify different things, at different speeds); what is here is what must be done
 * the same way in both so that their figures compare. Errors in the environment die
 * (bench_die); errors in what the server sent are returned as text, for the caller to
 * report with its own connection prefix.
 *
 * Nothing here comes from lib/ (lib/util has its own base64 and masking): a client that
 * shared code with the server it measures would hide a bug common to both, and a change
 * in lib/ would move the client's cost along with the server's. */
#ifndef BENCH_COMMON_WSCLIENT_H
#define BENCH_COMMON_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* The server a client connects to. */
struct wsc_target {
    char host[256]; /* as in the URL, without the brackets of an IPv6 literal */
    char port[16];
    char path[1024]; /* the request target, "/" if the URL has none */
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

/* Fills t from hostport, the part of url after its scheme ("HOST[:PORT][/PATH]", HOST
 * possibly "[v6]"); default_port is used when there is no ":PORT". Resolves HOST once
 * (getaddrinfo, the first address) so that N connects do not resolve N times. Dies,
 * quoting url, if it is malformed or does not resolve. */
void wsc_target_parse(struct wsc_target *t, const char *url, const char *hostport,
                      const char *default_port);

/* Starts a non-blocking connect to t (TCP_NODELAY: the clients time single small frames)
 * and adds the socket to the epoll set ep for EPOLLOUT, with ptr as its data: the
 * connect's completion is the first event. id names the connection in messages. Returns
 * the socket; dies on failure. */
int wsc_connect_start(const struct wsc_target *t, unsigned id, int ep, void *ptr);

/* Call on the first event of a socket from wsc_connect_start(): dies if the connect
 * failed (SO_ERROR), else switches the socket to EPOLLIN only. */
void wsc_connect_finish(const struct wsc_target *t, unsigned id, int fd, int ep, void *ptr);

/* An opening handshake in progress: the response collected up to its blank line. */
struct wsc_handshake {
    char *buf; /* the response so far, NUL-terminated; owned, NULL when not in progress */
    size_t len;
    size_t max;      /* the longest response accepted */
    char accept[32]; /* the Sec-WebSocket-Accept the server must answer with */
};

/* Writes the client's request for t into req (cap bytes; 2048 hold any target) with a
 * fresh random Sec-WebSocket-Key, and prepares hs to collect a response of at most max
 * bytes. Returns the request's length; the caller sends it. Dies on failure. */
size_t wsc_handshake_start(struct wsc_handshake *hs, const struct wsc_target *t, size_t max,
                           char *req, size_t cap);

enum {
    WSC_HS_FAILED = -1, /* err says why */
    WSC_HS_AGAIN = 0,   /* the response head is not complete yet */
    WSC_HS_DONE = 1,    /* a valid 101 response */
};

/* Adds n received bytes to the response and, once its head is complete, checks it: status
 * 101, "Upgrade: websocket", "Connection: Upgrade", the expected Sec-WebSocket-Accept, and
 * no extension or subprotocol (none is offered). On WSC_HS_DONE the bytes
 * hs->buf[*head_len .. hs->len) already belong to the frame stream: the caller processes
 * them, then calls wsc_handshake_free(). On WSC_HS_FAILED err (errlen bytes; max + 128
 * hold any message, which may quote the response) holds the reason, without a prefix. */
int wsc_handshake_feed(struct wsc_handshake *hs, const uint8_t *p, size_t n, size_t *head_len,
                       char *err, size_t errlen);

/* Frees the response buffer; hs may be re-used with wsc_handshake_start(). */
void wsc_handshake_free(struct wsc_handshake *hs);

/* Writes the header of a masked client frame (first byte b0: FIN, RSV, opcode) for a
 * payload of len bytes, masking key included, in the shortest length form. Returns its
 * size, 6 to 14 bytes. Always inlined: it sits in loadgen's send loop, whose speed must
 * not depend on how many callers there are. */
static inline __attribute__((always_inline)) size_t
wsc_frame_header(uint8_t *p, uint8_t b0, uint64_t len, const uint8_t key[4])
{
    size_t h = 0;
    p[h++] = b0;
    if (len < 126) {
        p[h++] = 0x80 | (uint8_t)len;
    } else if (len <= 0xffff) {
        p[h++] = 0x80 | 126;
        p[h++] = (uint8_t)(len >> 8);
        p[h++] = (uint8_t)len;
    } else {
        p[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            p[h++] = (uint8_t)(len >> (8 * i));
    }
    memcpy(p + h, key, 4);
    return h + 4;
}

/* dst[i] = src[i] ^ key[i % 4] for n bytes, 8 at a time: src masked with key from its
 * first byte on. Out of line, as it was in loadgen before it moved here
 * (the compiler did not inline it there): a plain call keeps the send path as measured. */
void wsc_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]);

#endif
