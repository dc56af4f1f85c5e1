/* tls.c — OpenSSL behind the adapter of tls.h.
 *
 * Contexts: one SSL_CTX per listener, shared by the workers (OpenSSL makes SSL_new on a
 * shared context thread-safe). A reload builds a new SSL_CTX and swaps the pointer
 * under a mutex that only accepts and reloads take; sessions hold a reference to the
 * SSL_CTX they were made from, so the old one lives until its last session ends.
 *
 * Sessions: SSL_MODE_RELEASE_BUFFERS gives the 34 KiB of record buffers back while a
 * connection is idle (the price: a malloc/free pair per record, about 1.5% of a busy
 * TLS echo; the gain: 14 KiB per idle connection instead of 48); partial writes and a moving write
 * buffer let the output queue retry from its own copy of the unsent bytes. The session cache is off
 * (every worker would contend on its lock): resumption uses stateless tickets, whose keys belong to
 * the SSL_CTX and so are shared by every worker. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <lapps/error.h>

#include "tls/session.h"
#include "tls/tls.h"

/* Suites when the user sets none: forward secrecy and AEAD only, AES-128-GCM first (as
 * strong in practice, and 1.6x faster than AES-256-GCM here), ChaCha20 for clients
 * without AES instructions (Mozilla's "intermediate" list). */
#define DEFAULT_CIPHERS12                                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"       \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define DEFAULT_CIPHERS13                                                                          \
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"
#define RECORD_MAX 16384u

struct lapps__tls_ctx {
    struct lapps_tls *settings;
    pthread_mutex_t lock;
    SSL_CTX *cur;  /* what new sessions use */
    SSL_CTX *next; /* prepared by a reload, not yet committed */
};

/* ---- the socket BIO: recv/send with MSG_NOSIGNAL ---- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int
bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    struct lapps__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do {
        n = send(t->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        *written = (size_t)n;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        BIO_set_retry_write(b);
    return 0;
}

static int
bio_read(BIO *b, char *out, size_t len, size_t *got)
{
    struct lapps__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do {
        n = recv(t->fd, out, len, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        *got = (size_t)n;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_read(b);
    return 0; /* 0 bytes without retry: EOF or an error */
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static void
bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "lapps socket");
    if (m && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_read_ex(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl))
        bio_method = m;
    else
        BIO_meth_free(m);
}

/* ---- contexts ---- */

int
lapps__tls_fail(char *why, size_t why_size, const char *what, const char *file)
{
    char reason[256] = "unknown error";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    snprintf(why, why_size, "%s%s%s: %s", what, file ? " " : "", file ? file : "", reason);
    ERR_clear_error();
    return LAPPS_ERR_TLS;
}

static int
build(SSL_CTX **out, const struct lapps_tls *s, char *why, size_t why_size)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return lapps__tls_fail(why, why_size, "SSL_CTX_new", NULL);
    SSL_CTX_set_min_proto_version(ctx, s->min_version == LAPPS_TLS_1_3 ? TLS1_3_VERSION
                                                                       : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* One recv takes every record the socket holds (not a header, then a body); what
     * is read ahead shows in SSL_has_pending(), which the connection checks. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_num_tickets(ctx, 1);
    static const unsigned char sid_ctx[] = "liblapps";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    int rv;
    if (!SSL_CTX_set_cipher_list(ctx, s->ciphers12 ? s->ciphers12 : DEFAULT_CIPHERS12)) {
        rv = lapps__tls_fail(why, why_size, "TLS 1.2 cipher list", s->ciphers12);
        goto free_ctx;
    }
    if (!SSL_CTX_set_ciphersuites(ctx, s->ciphers13 ? s->ciphers13 : DEFAULT_CIPHERS13)) {
        rv = lapps__tls_fail(why, why_size, "TLS 1.3 cipher suites", s->ciphers13);
        goto free_ctx;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, s->chain_file) != 1) {
        rv = lapps__tls_fail(why, why_size, "certificate chain", s->chain_file);
        goto free_ctx;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, s->key_file, SSL_FILETYPE_PEM) != 1) {
        rv = lapps__tls_fail(why, why_size, "private key", s->key_file);
        goto free_ctx;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        rv = lapps__tls_fail(why, why_size, "private key does not match the certificate",
                             s->key_file);
        goto free_ctx;
    }
    if (s->ca_file) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->ca_file);
        if (!names || SSL_CTX_load_verify_locations(ctx, s->ca_file, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            rv = lapps__tls_fail(why, why_size, "client CA", s->ca_file);
            goto free_ctx;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    int mode = SSL_VERIFY_NONE;
    if (s->verify == LAPPS_TLS_VERIFY_OPTIONAL)
        mode = SSL_VERIFY_PEER;
    else if (s->verify == LAPPS_TLS_VERIFY_REQUIRE)
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    *out = ctx;
    return 0;
free_ctx:
    SSL_CTX_free(ctx);
    return rv;
}

int
lapps__tls_ctx_new(struct lapps__tls_ctx **out, const struct lapps_tls *settings, char *why,
                   size_t why_size)
{
    pthread_once(&bio_once, bio_method_init);
    if (!bio_method) {
        snprintf(why, why_size, "cannot create the socket BIO");
        return LAPPS_ERR_NOMEM;
    }
    if (!settings->chain_file || !settings->key_file) {
        snprintf(why, why_size, "no certificate and key set");
        return LAPPS_ERR_INVAL;
    }
    struct lapps__tls_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->settings = lapps__tls_settings_dup(settings))) {
        free(c);
        snprintf(why, why_size, "out of memory");
        return LAPPS_ERR_NOMEM;
    }
    int rv = build(&c->cur, c->settings, why, why_size);
    if (rv != 0) {
        lapps_tls_free(c->settings);
        free(c);
        return rv;
    }
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return 0;
}

void
lapps__tls_ctx_free(struct lapps__tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->cur);
    SSL_CTX_free(ctx->next);
    lapps_tls_free(ctx->settings);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

int
lapps__tls_ctx_prepare(struct lapps__tls_ctx *ctx, char *why, size_t why_size)
{
    lapps__tls_ctx_abort(ctx);
    return build(&ctx->next, ctx->settings, why, why_size);
}

void
lapps__tls_ctx_commit(struct lapps__tls_ctx *ctx)
{
    if (!ctx->next)
        return;
    pthread_mutex_lock(&ctx->lock);
    SSL_CTX *old = ctx->cur;
    ctx->cur = ctx->next;
    pthread_mutex_unlock(&ctx->lock);
    ctx->next = NULL;
    SSL_CTX_free(old); /* sessions made from it hold their own references */
}

void
lapps__tls_ctx_abort(struct lapps__tls_ctx *ctx)
{
    SSL_CTX_free(ctx->next);
    ctx->next = NULL;
}

/* ---- sessions ---- */

struct lapps__tls *
lapps__tls_session_new(SSL_CTX *ssl_ctx, int fd)
{
    pthread_once(&bio_once, bio_method_init);
    if (!bio_method)
        return NULL;
    struct lapps__tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fd = fd;
    t->ssl = SSL_new(ssl_ctx);
    BIO *bio = t->ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(t->ssl, bio, bio); /* the SSL owns the BIO from here */
    return t;
}

struct lapps__tls *
lapps__tls_new(struct lapps__tls_ctx *ctx, int fd)
{
    pthread_mutex_lock(&ctx->lock);
    /* SSL_new takes its own reference to the context: a reload may free ours later. */
    struct lapps__tls *t = lapps__tls_session_new(ctx->cur, fd);
    pthread_mutex_unlock(&ctx->lock);
    if (t)
        SSL_set_accept_state(t->ssl);
    return t;
}

void
lapps__tls_free(struct lapps__tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

/* What a failed SSL_read/SSL_write means for the caller. */
static enum lapps__tls_io
outcome(struct lapps__tls *t, int ret)
{
    switch (SSL_get_error(t->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return LAPPS__TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return LAPPS__TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return LAPPS__TLS_EOF;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return LAPPS__TLS_EOF; /* the socket ended or failed under the session */
    default:
        t->last_error = ERR_peek_last_error(); /* for lapps__tls_client_error() */
        ERR_clear_error();
        return LAPPS__TLS_ERROR;
    }
}

enum lapps__tls_io
lapps__tls_read(struct lapps__tls *t, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    if (t->kept != LAPPS__TLS_OK) {
        enum lapps__tls_io k = t->kept;
        t->kept = LAPPS__TLS_OK;
        return k;
    }
    while (*got < cap) {
        size_t n = 0;
        if (SSL_read_ex(t->ssl, (uint8_t *)buf + *got, cap - *got, &n) == 1) {
            *got += n;
            /* Nothing left in the session: another SSL_read would only find an empty
             * socket (one more recv per message); epoll says when more arrives. */
            if (!SSL_has_pending(t->ssl))
                break;
            continue;
        }
        enum lapps__tls_io o = outcome(t, 0);
        if (*got == 0)
            return o;
        if (o == LAPPS__TLS_EOF || o == LAPPS__TLS_ERROR)
            t->kept = o;
        break;
    }
    return LAPPS__TLS_OK;
}

enum lapps__tls_io
lapps__tls_write(struct lapps__tls *t, const struct iovec *iov, int n, size_t *done)
{
    /* Pieces are gathered into records of up to 16 KiB, so a frame header and its
     * payload (or eight corked replies) travel in one record, not one each. */
    uint8_t rec[RECORD_MAX];
    *done = 0;
    int i = 0;
    size_t off = 0; /* into iov[i] */
    while (i < n) {
        size_t len = 0;
        int j = i;
        size_t o = off;
        while (j < n && len < RECORD_MAX) {
            size_t take = iov[j].iov_len - o;
            if (take > RECORD_MAX - len)
                take = RECORD_MAX - len;
            memcpy(rec + len, (const uint8_t *)iov[j].iov_base + o, take);
            len += take;
            o += take;
            if (o == iov[j].iov_len) {
                j++;
                o = 0;
            }
        }
        if (len == 0)
            break;
        size_t w = 0;
        if (SSL_write_ex(t->ssl, rec, len, &w) != 1)
            return outcome(t, 0);
        *done += w;
        /* Advance by what was taken (a partial write takes whole records only). */
        while (w) {
            size_t left = iov[i].iov_len - off;
            if (w < left) {
                off += w;
                break;
            }
            w -= left;
            i++;
            off = 0;
        }
        while (i < n && iov[i].iov_len == off) {
            i++;
            off = 0;
        }
    }
    return LAPPS__TLS_OK;
}

bool
lapps__tls_pending(const struct lapps__tls *t)
{
    return t->kept != LAPPS__TLS_OK || SSL_has_pending(t->ssl);
}

void
lapps__tls_close_notify(struct lapps__tls *t)
{
    if (SSL_is_init_finished(t->ssl) && SSL_shutdown(t->ssl) < 0)
        ERR_clear_error();
}
