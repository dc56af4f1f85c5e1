/* client.c — TLS client sessions for the cws module: a context per connection (its
 * verification settings are the connection's own), SNI, and certificate checks against
 * the system CA store (or a given CA file) with the host name or address.
 *
 * LAppS's client turned both certificate and name checks off, so any man in the middle
 * was accepted; here both are on unless the caller turns verification off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <lapps/error.h>

#include "tls/session.h"
#include "tls/tls.h"

struct lapps__tls_client_ctx {
    SSL_CTX *ssl;
    bool verify;
};

int
lapps__tls_client_ctx_new(struct lapps__tls_client_ctx **out, bool verify, const char *ca_file,
                          char *why, size_t why_size)
{
    struct lapps__tls_client_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, why_size, "out of memory");
        return LAPPS_ERR_NOMEM;
    }
    int rv;
    c->verify = verify;
    c->ssl = SSL_CTX_new(TLS_client_method());
    if (!c->ssl) {
        rv = lapps__tls_fail(why, why_size, "SSL_CTX_new", NULL);
        goto free_c;
    }
    SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (verify) {
        int ok = ca_file ? SSL_CTX_load_verify_locations(c->ssl, ca_file, NULL)
                         : SSL_CTX_set_default_verify_paths(c->ssl);
        if (ok != 1) {
            rv = lapps__tls_fail(why, why_size, ca_file ? "CA file" : "the system CA store",
                                 ca_file);
            goto free_ssl;
        }
        SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    }
    *out = c;
    return 0;
free_ssl:
    SSL_CTX_free(c->ssl);
free_c:
    free(c);
    return rv;
}

void
lapps__tls_client_ctx_free(struct lapps__tls_client_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

struct lapps__tls *
lapps__tls_client_new(struct lapps__tls_client_ctx *ctx, int fd, const char *host)
{
    struct lapps__tls *t = lapps__tls_session_new(ctx->ssl, fd);
    if (!t)
        return NULL;
    X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
    /* An address is checked against the certificate's IP entries and gets no SNI (RFC
     * 6066 §3: literal addresses are not permitted in server_name). */
    bool is_ip = X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1;
    if (!is_ip) {
        ERR_clear_error();
        if (SSL_set_tlsext_host_name(t->ssl, host) != 1 ||
            (ctx->verify && X509_VERIFY_PARAM_set1_host(param, host, 0) != 1))
            goto fail;
    }
    SSL_set_connect_state(t->ssl);
    return t;
fail:
    ERR_clear_error();
    lapps__tls_free(t);
    return NULL;
}

void
lapps__tls_client_error(const struct lapps__tls *t, char *why, size_t why_size)
{
    long v = SSL_get_verify_result(t->ssl);
    if ((SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER) && v != X509_V_OK) {
        snprintf(why, why_size, "certificate verify failed: %s", X509_verify_cert_error_string(v));
        return;
    }
    char reason[256] = "the connection ended during the handshake";
    if (t->last_error)
        ERR_error_string_n(t->last_error, reason, sizeof reason);
    snprintf(why, why_size, "%s", reason);
}
