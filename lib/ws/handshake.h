/* handshake.h — the RFC 6455 §4 opening handshake: an incremental request parser and
 * the responses of DESIGN.md §4. No I/O, no allocation.
 *
 * The caller appends each chunk it reads to one buffer (at most max_size bytes) and
 * calls lapps__hs_parse() on the whole buffer after each append; the parser resumes
 * where it stopped, so a request that arrives byte by byte costs O(n) in total. The
 * parsed request is a set of views into that buffer: keep the buffer unchanged while
 * they are used (between parse calls it may move, see lapps__hs_parse()).
 *
 * What is accepted (RFC 6455 §4.1/§4.2.1 over RFC 7230 §3):
 *   - the request line is exactly "GET <target> HTTP/1.1" CRLF, single spaces; the
 *     target starts with '/' and holds only visible ASCII (0x21..0x7E);
 *   - each header line is "name:" OWS value OWS CRLF with a token name (RFC 7230 tchar)
 *     and no whitespace before the colon; the value may hold SP, HTAB, visible ASCII
 *     and obs-text (0x80..0xFF), no other control character (NUL, DEL, lone CR ...);
 *   - lines end with CRLF only: a bare LF is refused (400). RFC 7230 §3.5 lets a
 *     server accept one, but no WebSocket client sends it and accepting it would make
 *     this parser frame requests differently from a proxy in front of it;
 *   - a header line that starts with SP or HTAB (obs-fold) is refused (400);
 *   - empty lines before the request line are refused (400);
 *   - required: exactly one non-empty Host; an Upgrade list holding the token
 *     "websocket"; a Connection list holding the token "upgrade" (both case-insensitive,
 *     comma-separated, spread over any number of header lines); exactly one
 *     Sec-WebSocket-Key that is the canonical base64 of 16 bytes; exactly one
 *     Sec-WebSocket-Version, equal to "13". At most one Origin (two would let a check
 *     and a log disagree). Any number of Sec-WebSocket-Protocol lines.
 *
 * Which error wins (the answer is decided by the bytes alone, whatever the chunking):
 *   1. Errors are found in byte order, at the first byte that shows them: a wrong
 *      method, HTTP version or character, a header past LAPPS__HS_MAX_HEADERS (431, at the
 *      first byte of that header's name), and — when a header line ends — a duplicate
 *      Host/Key/Version/Origin, an empty Host or an invalid key (400). So "POST " fails
 *      on its first byte, before the request ends.
 *   2. max_size bytes without the end of the request: 431. A request of exactly
 *      max_size bytes is accepted; the 431 comes as soon as max_size bytes are buffered
 *      and do not hold a complete request (no request can then fit, and a caller whose
 *      buffer holds max_size bytes never has to ask for more room).
 *   3. At the empty line ending the headers: Host, Upgrade, Connection and Key missing
 *      or unsuitable → 400; only then a Sec-WebSocket-Version missing or not 13 → 426.
 *      426 therefore answers only requests that are WebSocket upgrades in every other
 *      respect (RFC 6455 §4.2.2 item 4); a plain HTTP request gets 400. */
#ifndef LAPPS_WS_HANDSHAKE_H
#define LAPPS_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lapps/common.h>

#define LAPPS__HS_DEFAULT_MAX_SIZE 8192u
#define LAPPS__HS_MAX_HEADERS      64u

/* A view into the request buffer; not NUL-terminated. p may be NULL when len is 0. */
struct lapps__str {
    const char *p;
    size_t len;
};

struct lapps__hs_header {
    struct lapps__str name;  /* as sent (compare case-insensitively) */
    struct lapps__str value; /* leading and trailing spaces/tabs removed */
};

struct lapps__hs_request {
    struct lapps__str method; /* always "GET" once parsed */
    struct lapps__str target; /* request-target as sent: path and query */
    struct lapps__str path;   /* target up to '?' */
    struct lapps__str query;  /* after '?', empty (p NULL) when there is no '?' */
    struct lapps__str host;
    struct lapps__str key;       /* Sec-WebSocket-Key: 24 base64 characters, 16 bytes */
    struct lapps__str origin;    /* empty (p NULL) when absent */
    struct lapps__str protocol;  /* the first Sec-WebSocket-Protocol value, empty if none */
    unsigned n_protocol_headers; /* how many Sec-WebSocket-Protocol lines; every one is in
                                    headers[], which lapps__hs_select_protocol() walks */
    struct lapps__hs_header headers[LAPPS__HS_MAX_HEADERS]; /* all headers, in order */
    unsigned n_headers;
};

struct lapps__hs_parser {
    size_t max_size; /* 0 means LAPPS__HS_DEFAULT_MAX_SIZE */
    /* private state; a zero-filled parser is ready */
    size_t pos;       /* next byte to examine */
    size_t line;      /* start of the header line being parsed */
    size_t mark;      /* the space after the target, or the colon of the header line */
    const char *base; /* buf at the previous call: views are moved if the buffer moved */
    unsigned state;   /* where in the grammar pos is */
    unsigned seen;    /* which required headers were seen */
    int err;          /* the first error found (sticky), 0 while none */
};

/* Parses buf[0..len) (everything received so far, the same prefix as at the previous
 * call plus new bytes). Pass the same *req at every call: it is filled line by line and
 * is meaningful once a call returns > 0. The buffer may move between calls (a caller
 * that reallocates it): the views already recorded are moved with it. The work over all
 * calls is O(request length) however the bytes arrive, and bytes past max_size (or past
 * the end of the request) are never read. Returns:
 *   > 0  the request is complete and valid: the number of bytes it took (bytes beyond
 *        that are WebSocket frames that followed it); *req is filled;
 *   LAPPS_ERR_AGAIN  more bytes are needed;
 *   LAPPS_ERR_HEADER_TOO_BIG  the request does not fit in max_size bytes, or has more
 *        than LAPPS__HS_MAX_HEADERS header lines (answer 431);
 *   LAPPS_ERR_VERSION  Sec-WebSocket-Version is missing or not 13 (answer 426);
 *   LAPPS_ERR_HANDSHAKE  any other malformed or non-WebSocket request (answer 400).
 * Errors are reported as early as the bytes show them (see "Which error wins" above).
 * Once a call has returned an error, every later call returns that error; once it has
 * returned a length, every later call returns that length. lapps__hs_error_status()
 * maps the error to the HTTP status. */
lapps_ssize lapps__hs_parse(struct lapps__hs_parser *p, const char *buf, size_t len,
                            struct lapps__hs_request *req);

/* The HTTP status that answers a lapps__hs_parse() error: 426 for LAPPS_ERR_VERSION, 431
 * for LAPPS_ERR_HEADER_TOO_BIG, 400 for LAPPS_ERR_HANDSHAKE and any other code. */
int lapps__hs_error_status(int err);

/* Looks up a header by name, case-insensitively; the first one wins. Returns NULL when
 * absent. */
const struct lapps__hs_header *lapps__hs_find(const struct lapps__hs_request *req,
                                              const char *name);

/* Picks the subprotocol to answer with: the first token the client offered (in every
 * Sec-WebSocket-Protocol header, comma-separated, in order) that is in supported[0..n)
 * (exact, case-sensitive, as RFC 6455 §4.1 defines tokens). When nothing matches and
 * alias is not NULL, the alias is chosen if the client offered any protocol. That
 * fallback names a protocol the client did not offer, which RFC 6455 §4.1 tells the
 * client to fail on; the server does not use it (a service's proto_alias is passed in
 * supported[], see lib/service-hs.c). Empty list elements and the spaces around elements
 * are ignored. On success out->p is supported[i] or alias itself (so it is
 * NUL-terminated and outlives the request buffer). Returns false and leaves *out empty
 * when nothing is chosen. */
bool lapps__hs_select_protocol(const struct lapps__hs_request *req, const char *const *supported,
                               size_t n, const char *alias, struct lapps__str *out);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 characters + NUL.
 * Returns 0, or LAPPS_ERR_NOMEM when SHA-1 could not run. */
int lapps__hs_accept_key(const struct lapps__str *key, char out[29]);

/* A header the service adds to its 101 response. */
struct lapps__hs_extra {
    const char *name;
    const char *value;
};

/* The largest 101 a service may need (lapps__hs_response_101_len()); the buffer the
 * worker builds it in. */
#define LAPPS__HS_MAX_RESPONSE 4096u

/* Whether a service may add the header name: value to its 101: name is an RFC 7230
 * token and none of Upgrade, Connection, Content-Length, Transfer-Encoding, Trailer, TE,
 * Keep-Alive, Proxy-Connection or Sec-WebSocket-* (any case); value holds only visible
 * ASCII, SP and HTAB (no CR or LF: no header injection). NULL is invalid. */
bool lapps__hs_extra_valid(const char *name, const char *value);

/* Whether protocol may be announced in Sec-WebSocket-Protocol: an RFC 7230 token. */
bool lapps__hs_protocol_valid(const char *protocol);

/* The length of the 101 lapps__hs_response_101() writes with these arguments (the
 * accept key always takes 28 bytes). The arguments are not validated. */
size_t lapps__hs_response_101_len(const char *protocol, const struct lapps__hs_extra *extra,
                                  size_t n_extra);

/* Writes a complete "101 Switching Protocols" response into out[0..cap): Upgrade,
 * Connection, Sec-WebSocket-Accept, Sec-WebSocket-Protocol when protocol is not NULL,
 * and the extra headers in their order, then the empty line. Nothing is written past
 * cap; out is not NUL-terminated. Returns the length, or (checked in this order):
 *   LAPPS_ERR_INVAL when protocol is not a token or an extra header is refused by
 *   lapps__hs_extra_valid() (which would break the response or contradict it);
 *   LAPPS_ERR_NOSPACE when cap is too small;
 *   LAPPS_ERR_NOMEM when SHA-1 could not run (OpenSSL out of memory). */
lapps_ssize lapps__hs_response_101(char *out, size_t cap, const struct lapps__str *key,
                                   const char *protocol, const struct lapps__hs_extra *extra,
                                   size_t n_extra);

/* Writes a complete error response for status 400, 403, 404, 426, 431 or 503: status
 * line, Content-Type: text/plain, Content-Length, Connection: close and a short text
 * body. 426 also carries "Sec-WebSocket-Version: 13" and, as RFC 7231 §6.5.15 and RFC
 * 7230 §6.7 require, "Upgrade: websocket" with "Connection: close, Upgrade". Nothing is
 * written past cap. Returns the length, LAPPS_ERR_NOSPACE, or LAPPS_ERR_INVAL for any
 * other status. */
lapps_ssize lapps__hs_response_error(char *out, size_t cap, int status);

#endif /* LAPPS_WS_HANDSHAKE_H */
