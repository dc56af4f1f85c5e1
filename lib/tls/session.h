/* session.h — what the files of lib/tls/ share about a session (OpenSSL types: never
 * included outside lib/tls/). */
#ifndef LAPPS_TLS_SESSION_H
#define LAPPS_TLS_SESSION_H

#include <openssl/ssl.h>

#include "tls/tls.h"

struct lapps__tls {
    SSL *ssl;
    int fd;
    enum lapps__tls_io kept;  /* an outcome met after some bytes were read, or OK */
    unsigned long last_error; /* OpenSSL's error code behind the last LAPPS__TLS_ERROR */
};

/* A session on @p fd made from @p ssl_ctx, reading and writing through the socket BIO
 * (MSG_NOSIGNAL), neither in accept nor in connect state yet; NULL when out of memory. */
struct lapps__tls *lapps__tls_session_new(SSL_CTX *ssl_ctx, int fd);

/* Writes "what[ file]: OpenSSL's reason" into @p why, empties the thread's error queue
 * and returns LAPPS_ERR_TLS. */
int lapps__tls_fail(char *why, size_t why_size, const char *what, const char *file);

#endif /* LAPPS_TLS_SESSION_H */
