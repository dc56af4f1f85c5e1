/* handshake.h — the RFC 6455 §4 opening handshake: an incremental request parser and
 * the responses of DESIGN.md §4. No I/O, no allocation.
 *
 * The caller appends each chunk it reads to one buffer (at most max_size bytes) and
 * calls lapps__hs_parse() on the whole buffer after each append; the parser resumes
 * where it stopped, so a request that arrives byte by byte costs O(n) in total. The
 * parsed request is a set of views into that buffer: keep the buffer unchanged while
 * they are used. */
#ifndef LAPPS_WS_HANDSHAKE_H
#define LAPPS_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lapps/common.h>

#define LAPPS__HS_DEFAULT_MAX_SIZE 8192u
#define LAPPS__HS_MAX_HEADERS 64u

/* A view into the request buffer; not NUL-terminated. */
struct lapps__str {
    const char *p;
    size_t len;
};

struct lapps__hs_header {
    struct lapps__str name;  /* as sent (compare case-insensitively) */
    struct lapps__str value; /* leading and trailing spaces/tabs removed */
};

struct lapps__hs_request {
    struct lapps__str method;   /* always "GET" once parsed */
    struct lapps__str target;   /* request-target as sent: path and query */
    struct lapps__str path;     /* target up to '?' */
    struct lapps__str query;    /* after '?', empty when there is none */
    struct lapps__str host;
    struct lapps__str key;      /* Sec-WebSocket-Key: 24 base64 characters, 16 bytes */
    struct lapps__str origin;   /* empty when absent */
    struct lapps__str protocol; /* every Sec-WebSocket-Protocol value, see below */
    unsigned n_protocol_headers;
    struct lapps__hs_header headers[LAPPS__HS_MAX_HEADERS]; /* all headers, in order */
    unsigned n_headers;
};

struct lapps__hs_parser {
    size_t max_size; /* 0 means LAPPS__HS_DEFAULT_MAX_SIZE */
    /* private state; a zero-filled parser is ready */
    size_t pos;      /* start of the first line not yet parsed */
    unsigned line;   /* lines parsed so far */
    unsigned seen;   /* which required headers were seen */
    int status;      /* HTTP status of the first error found, 0 while none */
};

/* Parses buf[0..len) (everything received so far, the same prefix as at the previous
 * call plus new bytes). Returns:
 *   > 0  the request is complete and valid: the number of bytes it took (bytes beyond
 *        that are WebSocket frames that followed it); *req is filled;
 *   LAPPS_ERR_AGAIN  more bytes are needed;
 *   LAPPS_ERR_HEADER_TOO_BIG  the request exceeds max_size (answer 431);
 *   LAPPS_ERR_VERSION  Sec-WebSocket-Version is not 13 (answer 426);
 *   LAPPS_ERR_HANDSHAKE  any other malformed or non-WebSocket request (answer 400).
 * Errors are reported as early as the bytes show them. lapps__hs_error_status() maps
 * the error to the HTTP status. */
lapps_ssize lapps__hs_parse(struct lapps__hs_parser *p, const char *buf, size_t len,
                            struct lapps__hs_request *req);

/* The HTTP status that answers a lapps__hs_parse() error (400, 426 or 431). */
int lapps__hs_error_status(int err);

/* Looks up a header by name, case-insensitively; the first one wins. Returns NULL when
 * absent. */
const struct lapps__hs_header *lapps__hs_find(const struct lapps__hs_request *req,
                                              const char *name);

/* Picks the subprotocol to answer with: the first token the client offered (in every
 * Sec-WebSocket-Protocol header, comma-separated, in order) that is in supported[0..n)
 * (exact, case-sensitive, as RFC 6455 §4.1 defines tokens). When nothing matches and
 * alias is not NULL, the alias is chosen if the client offered any protocol (LAppS's
 * proto_alias). Returns false and leaves *out empty when nothing is chosen. */
bool lapps__hs_select_protocol(const struct lapps__hs_request *req, const char *const *supported,
                               size_t n, const char *alias, struct lapps__str *out);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 characters + NUL. */
void lapps__hs_accept_key(const struct lapps__str *key, char out[29]);

/* A header the service adds to its 101 response. */
struct lapps__hs_extra {
    const char *name;
    const char *value;
};

/* Writes a complete "101 Switching Protocols" response into out[0..cap): Upgrade,
 * Connection, Sec-WebSocket-Accept, Sec-WebSocket-Protocol when protocol is not NULL,
 * and the extra headers. Returns the length, LAPPS_ERR_NOSPACE when cap is too small, or
 * LAPPS_ERR_INVAL when a name or value holds a character that would break the response
 * (CR, LF, NUL, or a non-token name). */
lapps_ssize lapps__hs_response_101(char *out, size_t cap, const struct lapps__str *key,
                                   const char *protocol, const struct lapps__hs_extra *extra,
                                   size_t n_extra);

/* Writes a complete error response for status 400, 403, 404, 426 (with
 * Sec-WebSocket-Version: 13), 431 or 503: status line, Content-Type, Content-Length,
 * Connection: close and a short text body. Returns the length, LAPPS_ERR_NOSPACE, or
 * LAPPS_ERR_INVAL for any other status. */
lapps_ssize lapps__hs_response_error(char *out, size_t cap, int status);

#endif /* LAPPS_WS_HANDSHAKE_H */
