/* wsclient — the client side of RFC 6455 shared by the benchmark clients; see wsclient.h.
 * Needs libcrypto for the handshake's SHA-1; no build options affect it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wsclient.h"

#include "benchutil.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- the server's address ------------------------------------------------------------ */

void
wsc_target_parse(struct wsc_target *t, const char *url, const char *hostport,
                 const char *default_port)
{
    const char *p = hostport;
    const char *hend = p + strcspn(p, ":/");
    if (*p == '[') { /* [v6]:port */
        const char *rb = strchr(p, ']');
        if (!rb)
            bench_die("bad URL \"%s\"", url);
        snprintf(t->host, sizeof t->host, "%.*s", (int)(rb - p - 1), p + 1);
        hend = rb + 1;
    } else {
        snprintf(t->host, sizeof t->host, "%.*s", (int)(hend - p), p);
    }
    p = hend;
    if (*p == ':') {
        p++;
        size_t n = strcspn(p, "/");
        snprintf(t->port, sizeof t->port, "%.*s", (int)n, p);
        p += n;
    } else {
        snprintf(t->port, sizeof t->port, "%s", default_port);
    }
    snprintf(t->path, sizeof t->path, "%s", *p ? p : "/");
    if (!t->host[0] || !t->port[0])
        bench_die("bad URL \"%s\"", url);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(t->host, t->port, &hints, &ai);
    if (rc)
        bench_die("%s:%s: %s", t->host, t->port, gai_strerror(rc));
    memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
    t->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
}

/* ---- connecting ---------------------------------------------------------------------- */

int
wsc_connect_start(const struct wsc_target *t, unsigned id, int ep, void *ptr)
{
    int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        bench_die("socket (connection %u): %s", id, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS)
        bench_die("connect to %s:%s: %s", t->host, t->port, strerror(errno));
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = ptr};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        bench_die("epoll_ctl: %s", strerror(errno));
    return fd;
}

void
wsc_connect_finish(const struct wsc_target *t, unsigned id, int fd, int ep, void *ptr)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err)
        bench_die("connect to %s:%s (connection %u): %s", t->host, t->port, id, strerror(err));
    /* registered for EPOLLOUT only while connecting: from now on EPOLLIN */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
        bench_die("epoll_ctl: %s", strerror(errno));
}

/* ---- the opening handshake ----------------------------------------------------------- */

/* out needs 4 * ceil(n / 3) + 1 bytes. */
static void
base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = tab[v >> 18];
        *out++ = tab[(v >> 12) & 63];
        *out++ = tab[(v >> 6) & 63];
        *out++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = tab[v >> 18];
        *out++ = tab[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *out++ = tab[v >> 18];
        *out++ = tab[(v >> 12) & 63];
        *out++ = tab[(v >> 6) & 63];
        *out++ = '=';
    }
    *out = '\0';
}

/* The Sec-WebSocket-Accept for key: base64(SHA-1(key + GUID)), RFC 6455 section 4.2.2. */
static void
accept_key(const char *key, char out[32])
{
    char buf[64];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    if (!EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        bench_die("SHA-1 failed");
    base64(md, 20, out);
}

size_t
wsc_handshake_start(struct wsc_handshake *hs, const struct wsc_target *t, size_t max, char *req,
                    size_t cap)
{
    uint8_t raw[16];
    char key[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        bench_die("getrandom: %s", strerror(errno));
    base64(raw, sizeof raw, key);
    accept_key(key, hs->accept);
    int n = snprintf(req, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "\r\n",
                     t->path, t->host, t->port, key);
    if (n < 0 || (size_t)n >= cap)
        bench_die("handshake request for %s longer than %zu bytes", t->path, cap);
    hs->buf = bench_xmalloc(max);
    hs->len = 0;
    hs->max = max;
    return (size_t)n;
}

/* Whether the comma-separated list (an HTTP header value) holds tok, case-insensitively:
 * "Connection: keep-alive, Upgrade" is a valid upgrade. */
static bool
token_in_list(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tl && strncasecmp(p, tok, tl) == 0)
            return true;
        p = e;
    }
    return false;
}

/* Checks the response head (NUL-terminated, without the blank line; modified in place).
 * Returns false with the reason in err. */
static bool
check_response(char *head, const char *want_accept, char *err, size_t errlen)
{
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    if (!line || strncmp(line, "HTTP/1.1 101", 12) != 0 || (line[12] != ' ' && line[12])) {
        snprintf(err, errlen, "handshake refused: \"%s\"", line ? line : "");
        return false;
    }
    bool upgrade = false, connection = false, accept = false;
    while ((line = strtok_r(NULL, "\r\n", &save))) {
        char *colon = strchr(line, ':');
        if (!colon) {
            snprintf(err, errlen, "malformed header line \"%s\"", line);
            return false;
        }
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (strcasecmp(line, "Upgrade") == 0) {
            upgrade = strcasecmp(v, "websocket") == 0;
        } else if (strcasecmp(line, "Connection") == 0) {
            connection = token_in_list(v, "upgrade");
        } else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0) {
            if (strcmp(v, want_accept) != 0) {
                snprintf(err, errlen, "Sec-WebSocket-Accept is \"%s\", expected \"%s\"", v,
                         want_accept);
                return false;
            }
            accept = true;
        } else if (strcasecmp(line, "Sec-WebSocket-Extensions") == 0) {
            snprintf(err, errlen, "server selected extensions \"%s\" that were not offered", v);
            return false;
        } else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0) {
            snprintf(err, errlen, "server selected subprotocol \"%s\" that was not offered", v);
            return false;
        }
    }
    if (!upgrade || !connection || !accept) {
        snprintf(err, errlen, "101 response without %s",
                 !upgrade      ? "\"Upgrade: websocket\""
                 : !connection ? "\"Connection: Upgrade\""
                               : "Sec-WebSocket-Accept");
        return false;
    }
    return true;
}

int
wsc_handshake_feed(struct wsc_handshake *hs, const uint8_t *p, size_t n, size_t *head_len,
                   char *err, size_t errlen)
{
    if (hs->len + n >= hs->max) {
        snprintf(err, errlen, "handshake response longer than %zu bytes", hs->max);
        return WSC_HS_FAILED;
    }
    memcpy(hs->buf + hs->len, p, n);
    hs->len += n;
    hs->buf[hs->len] = '\0';
    char *end = strstr(hs->buf, "\r\n\r\n");
    if (!end) {
        /* strstr stops at a NUL: one in the response would hide the blank line forever */
        if (memchr(hs->buf, '\0', hs->len)) {
            snprintf(err, errlen, "NUL byte in the handshake response");
            return WSC_HS_FAILED;
        }
        return WSC_HS_AGAIN;
    }
    *head_len = (size_t)(end - hs->buf) + 4;
    end[2] = '\0';
    return check_response(hs->buf, hs->accept, err, errlen) ? WSC_HS_DONE : WSC_HS_FAILED;
}

void
wsc_handshake_free(struct wsc_handshake *hs)
{
    free(hs->buf);
    hs->buf = NULL;
    hs->len = 0;
}

/* ---- frames ------------------------------------------------------------------------- */

void
wsc_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4])
{
    uint32_t k32;
    memcpy(&k32, key, 4);
    uint64_t k64 = (uint64_t)k32 << 32 | k32;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k64;
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ key[i & 3];
}
