/* client-handshake.c — the client's opening handshake (RFC 6455 §4.1): ws:// and wss://
 * URIs, the key, the upgrade request, and the check of the server's response.
 *
 * The response check is strict where a lax one would let a confused or hostile server
 * talk us into something else: CRLF line ends only, token header names, no control
 * characters in values, no obs-fold, a bounded size and header count, and every
 * §4.1 "fail the WebSocket connection" condition (status, Upgrade, Connection, Accept,
 * an extension or subprotocol we never offered). LAppS compared a few headers loosely
 * (a map that kept one of several Sec-WebSocket-Accept lines, "Connection" compared as
 * a whole value, not a token list); here a repeated Accept is refused. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <lapps/error.h>

#include "util/base64.h"
#include "ws/client.h"
#include "ws/handshake.h"

/* ---- URIs ---- */

static bool
host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

int
lapps__ws_uri_parse(const char *uri, struct lapps__ws_uri *out)
{
    memset(out, 0, sizeof *out);
    const char *p;
    if (strncasecmp(uri, "ws://", 5) == 0) {
        p = uri + 5;
    } else if (strncasecmp(uri, "wss://", 6) == 0) {
        p = uri + 6;
        out->tls = true;
    } else {
        return LAPPS_ERR_INVAL;
    }
    /* The authority ends at the first '/', '?' or the end. */
    size_t alen = strcspn(p, "/?#");
    const char *host = p, *host_end;
    if (memchr(p, '@', alen))
        return LAPPS_ERR_INVAL; /* userinfo: never meant for a WebSocket server */
    if (*p == '[') {
        const char *close = memchr(p, ']', alen);
        if (!close || close == p + 1)
            return LAPPS_ERR_INVAL;
        for (const char *q = p + 1; q < close; q++)
            if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                return LAPPS_ERR_INVAL;
        host = p + 1;
        host_end = close;
        out->ip6 = true;
        p = close + 1;
    } else {
        host_end = p;
        while (host_char(*host_end))
            host_end++;
        if (host_end == p)
            return LAPPS_ERR_INVAL;
        p = host_end;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen > LAPPS__WS_URI_MAX_HOST)
        return LAPPS_ERR_INVAL;
    memcpy(out->host, host, hlen);
    const char *port_text = out->tls ? "443" : "80";
    size_t plen = 3 - !out->tls;
    bool explicit_port = false;
    if (*p == ':') {
        p++;
        plen = strspn(p, "0123456789");
        unsigned long v = 0;
        for (size_t i = 0; i < plen && i < 6; i++)
            v = v * 10 + (unsigned long)(p[i] - '0');
        if (plen == 0 || plen > 5 || v == 0 || v > 65535)
            return LAPPS_ERR_INVAL;
        port_text = p;
        explicit_port = true;
        p += plen;
    }
    memcpy(out->port, port_text, plen);
    if (*p != '\0' && *p != '/' && *p != '?')
        return LAPPS_ERR_INVAL; /* junk after the host or port, or a fragment */
    /* The Host header names the port only when the URI did (RFC 6455 §4.1 item 4 allows
     * both; servers compare against what a browser sends). */
    snprintf(out->host_header, sizeof out->host_header, "%s%s%s%s%.*s", out->ip6 ? "[" : "",
             out->host, out->ip6 ? "]" : "", explicit_port ? ":" : "",
             explicit_port ? (int)plen : 0, port_text);
    size_t tlen = 0;
    if (*p != '/')
        out->target[tlen++] = '/';
    for (; *p; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '#')
            return LAPPS_ERR_INVAL;
        if (tlen == LAPPS__WS_URI_MAX_TARGET)
            return LAPPS_ERR_INVAL;
        out->target[tlen++] = *p;
    }
    return 0;
}

/* ---- the request ---- */

int
lapps__wsc_key(char key[25], char accept[29])
{
    uint8_t raw[16];
    ssize_t n;
    do {
        n = getrandom(raw, sizeof raw, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof raw)
        return n < 0 ? -errno : -EIO;
    lapps__base64_encode(raw, sizeof raw, key);
    struct lapps__str k = {key, 24};
    return lapps__hs_accept_key(&k, accept);
}

lapps_ssize
lapps__wsc_request(char *out, size_t cap, const struct lapps__ws_uri *uri, const char *key)
{
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "User-Agent: liblapps-cws\r\n"
                     "\r\n",
                     uri->target, uri->host_header, key);
    if (n < 0 || (size_t)n >= cap)
        return LAPPS_ERR_NOSPACE;
    return n;
}

/* ---- the response ---- */

static bool
tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Whether the comma-separated list v[0..n) holds @p token (case-insensitive). */
static bool
list_has(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (b - a == tl && strncasecmp(v + a, token, tl) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

/* Says why in @p why: @p msg, then (when @p alen > 0) a quote of what the server sent. */
static lapps_ssize
refuse(char *why, size_t why_len, lapps_ssize err, const char *msg, const char *arg, size_t alen)
{
    /* At most 80 bytes, printable only: the quote ends up in logs. */
    char q[81];
    size_t n = alen < 80 ? alen : 80;
    for (size_t i = 0; i < n; i++)
        q[i] = (arg[i] >= 0x20 && arg[i] < 0x7f) ? arg[i] : '?';
    q[n] = '\0';
    if (why && why_len)
        snprintf(why, why_len, "%s%s%s%s", msg, alen ? " \"" : "", q, alen ? "\"" : "");
    return err;
}

/* The status line, once it ended: "HTTP/1.1 101 reason". */
static lapps_ssize
check_status(const char *buf, size_t eol, char *why, size_t why_len)
{
    if (eol < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0 || !isdigit((unsigned char)buf[9]) ||
        !isdigit((unsigned char)buf[10]) || !isdigit((unsigned char)buf[11]) ||
        (eol > 12 && buf[12] != ' '))
        return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "malformed status line", buf, eol);
    for (size_t i = 13; i < eol; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "malformed status line", buf, eol);
    }
    if (memcmp(buf + 9, "101", 3) != 0)
        return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "the server refused the upgrade:", buf,
                      eol);
    return 0;
}

lapps_ssize
lapps__wsc_response(const char *buf, size_t len, const char *accept, char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    size_t scan = len < LAPPS__WSC_MAX_RESPONSE ? len : LAPPS__WSC_MAX_RESPONSE;
    const char *end = memmem(buf, scan, "\r\n\r\n", 4);
    size_t limit = end ? (size_t)(end - buf) + 4 : scan; /* a body (404 ...) is not ours */
    /* A bare LF is refused at once; a CR must be followed by LF. */
    for (size_t i = 0; i < limit; i++) {
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "a line ends in a bare LF", "", 0);
        if (buf[i] == '\r' && i + 1 < limit && buf[i + 1] != '\n')
            return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "a bare CR in the response", "", 0);
    }
    const char *eol = memmem(buf, limit, "\r\n", 2);
    if (eol) {
        lapps_ssize rv = check_status(buf, (size_t)(eol - buf), why, why_len);
        if (rv != 0)
            return rv;
    }
    if (!end) {
        if (len >= LAPPS__WSC_MAX_RESPONSE)
            return refuse(why, why_len, LAPPS_ERR_HEADER_TOO_BIG,
                          "the response is longer than 8192 bytes", "", 0);
        return LAPPS_ERR_AGAIN;
    }
    size_t total = (size_t)(end - buf) + 4;
    bool upgrade = false, connection = false;
    unsigned n_accept = 0, n_headers = 0;
    const char *line = eol + 2;
    while (line < end + 2) {
        const char *le = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        size_t ll = (size_t)(le - line);
        if (++n_headers > LAPPS__WSC_MAX_HEADERS)
            return refuse(why, why_len, LAPPS_ERR_HEADER_TOO_BIG, "more than 64 header lines", "",
                          0);
        if (line[0] == ' ' || line[0] == '\t')
            return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "a folded header line", line, ll);
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon == line)
            return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "a malformed header line", line, ll);
        for (const char *q = line; q < colon; q++)
            if (!tchar((unsigned char)*q))
                return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "a malformed header name in", line,
                              ll);
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1, *ve = le;
        for (const char *q = v; q < ve; q++) {
            unsigned char c = (unsigned char)*q;
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "a control character in header",
                              line, nl);
        }
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vl = (size_t)(ve - v);
#define IS(name) (nl == sizeof name - 1 && strncasecmp(line, name, nl) == 0)
        if (IS("Upgrade")) {
            upgrade = upgrade || list_has(v, vl, "websocket");
        } else if (IS("Connection")) {
            connection = connection || list_has(v, vl, "upgrade");
        } else if (IS("Sec-WebSocket-Accept")) {
            n_accept++;
            if (vl != 28 || memcmp(v, accept, 28) != 0)
                return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "wrong Sec-WebSocket-Accept", v,
                              vl);
        } else if (IS("Sec-WebSocket-Extensions")) {
            if (vl)
                return refuse(why, why_len, LAPPS_ERR_HANDSHAKE,
                              "the server chose an extension we did not offer:", v, vl);
        } else if (IS("Sec-WebSocket-Protocol")) {
            return refuse(why, why_len, LAPPS_ERR_HANDSHAKE,
                          "the server chose a subprotocol we did not offer:", v, vl);
        }
#undef IS
        line = le + 2;
    }
    if (!upgrade)
        return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "no \"Upgrade: websocket\"", "", 0);
    if (!connection)
        return refuse(why, why_len, LAPPS_ERR_HANDSHAKE, "no \"Connection: upgrade\"", "", 0);
    if (n_accept != 1)
        return refuse(why, why_len, LAPPS_ERR_HANDSHAKE,
                      n_accept ? "Sec-WebSocket-Accept repeated" : "no Sec-WebSocket-Accept", "",
                      0);
    return (lapps_ssize)total;
}
