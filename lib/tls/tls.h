/* tls.h — the OpenSSL adapter: one context per TLS listener, shared by every worker,
 * and one session per connection, driven without ever blocking.
 *
 * Only lib/tls/ includes OpenSSL's headers; the connection code sees opaque types and
 * the four outcomes of an I/O call. Sessions read and write through a BIO of our own
 * that uses recv/send on the connection's socket with MSG_NOSIGNAL, so a peer that
 * vanishes never raises SIGPIPE in the host. */
#ifndef LAPPS_TLS_TLS_H
#define LAPPS_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include <lapps/tls.h>

/* The public settings object: file names and choices only. */
struct lapps_tls {
    char *chain_file, *key_file, *ca_file;
    char *ciphers12, *ciphers13;
    lapps_tls_verify verify;
    lapps_tls_version min_version;
};

/* A deep copy of @p in, or NULL when out of memory. */
struct lapps_tls *lapps__tls_settings_dup(const struct lapps_tls *in);

/* ---- contexts: one per TLS listener ---- */

struct lapps__tls_ctx;

/* Reads the files named by @p settings (copied) and builds the context. On failure
 * returns LAPPS_ERR_TLS (or NOMEM) with the reason in @p why. */
int lapps__tls_ctx_new(struct lapps__tls_ctx **out, const struct lapps_tls *settings, char *why,
                       size_t why_size);
void lapps__tls_ctx_free(struct lapps__tls_ctx *ctx);

/* Reloading is two steps so that several listeners change together or not at all:
 * prepare reads the files into a new OpenSSL context kept aside; commit makes it the
 * one new sessions use (sessions already made keep theirs); abort drops it. */
int lapps__tls_ctx_prepare(struct lapps__tls_ctx *ctx, char *why, size_t why_size);
void lapps__tls_ctx_commit(struct lapps__tls_ctx *ctx);
void lapps__tls_ctx_abort(struct lapps__tls_ctx *ctx);

/* ---- sessions: one per connection ---- */

struct lapps__tls;

/* A server session on socket @p fd with the context's current settings, or NULL. */
struct lapps__tls *lapps__tls_new(struct lapps__tls_ctx *ctx, int fd);
void lapps__tls_free(struct lapps__tls *t);

enum lapps__tls_io {
    LAPPS__TLS_OK,         /* some bytes moved */
    LAPPS__TLS_WANT_READ,  /* nothing more until the socket is readable */
    LAPPS__TLS_WANT_WRITE, /* nothing more until the socket is writable */
    LAPPS__TLS_EOF,        /* the peer closed (with or without close_notify) */
    LAPPS__TLS_ERROR,      /* a protocol or socket error: the session is unusable */
};

/* Reads plaintext (running the handshake first when it is not done) until @p cap bytes
 * or until OpenSSL needs the socket. *got is the bytes read; the outcome is OK whenever
 * *got > 0 (an error met after some bytes is kept for the next call, and
 * lapps__tls_pending() is then true). */
enum lapps__tls_io lapps__tls_read(struct lapps__tls *t, void *buf, size_t cap, size_t *got);

/* Encrypts and sends the bytes of @p iov in records of up to 16 KiB; *done is the
 * plaintext bytes taken. A write that stopped on a full socket must be repeated
 * starting with the first byte not taken, with at least as many bytes: the output
 * queue does exactly that. */
enum lapps__tls_io lapps__tls_write(struct lapps__tls *t, const struct iovec *iov, int n,
                                    size_t *done);

/* True when a read would return something without the socket becoming readable
 * (plaintext OpenSSL already holds, or a kept error). */
bool lapps__tls_pending(const struct lapps__tls *t);

/* Sends close_notify if the socket takes it now; never waits. */
void lapps__tls_close_notify(struct lapps__tls *t);

/* ---- client sessions (client.c, for the cws module) ---- */

struct lapps__tls_client_ctx;

/* A client context: TLS 1.2 or later. With @p verify the server's certificate must chain
 * to @p ca_file (PEM), or to the system's CA store when ca_file is NULL, and name the
 * host (see lapps__tls_client_new()); without it anything is accepted (LAppS's client
 * never verified). On failure returns LAPPS_ERR_TLS or LAPPS_ERR_NOMEM with the reason
 * in @p why. */
int lapps__tls_client_ctx_new(struct lapps__tls_client_ctx **out, bool verify, const char *ca_file,
                              char *why, size_t why_size);
void lapps__tls_client_ctx_free(struct lapps__tls_client_ctx *ctx);

/* A client session on the connected socket @p fd for @p host (a DNS name, or an IPv4 or
 * IPv6 address without brackets): SNI for names, and with verification the certificate
 * must match the name or the address. The handshake runs inside the first
 * lapps__tls_write()/lapps__tls_read(). NULL when out of memory or @p host is unusable. */
struct lapps__tls *lapps__tls_client_new(struct lapps__tls_client_ctx *ctx, int fd,
                                         const char *host);

/* Why the last handshake failed, for a log line (OpenSSL's verification result or its
 * last error), written into why[0..why_size). */
void lapps__tls_client_error(const struct lapps__tls *t, char *why, size_t why_size);

#endif /* LAPPS_TLS_TLS_H */
