/* Tests for lib/tls/: the settings object, context errors, and a session driven over a
 * socketpair against an OpenSSL client: the handshake without blocking, reads that stop
 * at the caller's capacity and report what the session still holds, and writes into a
 * full socket retried from a moved copy of the unsent bytes (what the output queue
 * does). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <lapps/error.h>
#include <lapps/tls.h>

#include "tls/tls.h"

static char dir[] = "/tmp/lapps-tls-unit-XXXXXX";
static char cert_path[64], key_path[64], other_key_path[64];

/* Writes a fresh P-256 key to path; returns it. */
static EVP_PKEY *
write_key(const char *path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    cr_assert_not_null(k);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    return k;
}

static void
make_files(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    snprintf(other_key_path, sizeof other_key_path, "%s/other.pem", dir);
    EVP_PKEY *k = write_key(key_path);
    EVP_PKEY_free(write_key(other_key_path));
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    cr_assert(X509_sign(x, k, EVP_sha256()));
    FILE *f = fopen(cert_path, "w");
    cr_assert_not_null(f);
    cr_assert(PEM_write_X509(f, x));
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void
remove_files(void)
{
    unlink(cert_path);
    unlink(key_path);
    unlink(other_key_path);
    rmdir(dir);
}

static lapps_tls *
settings(const char *cert, const char *key)
{
    lapps_tls *t;
    cr_assert_eq(lapps_tls_new(&t), 0);
    cr_assert_eq(lapps_tls_set_certificate(t, cert, key), 0);
    return t;
}

/* ---- settings ---- */

Test(tls_settings, setters_check_their_arguments)
{
    lapps_tls *t;
    cr_assert_eq(lapps_tls_new(NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_new(&t), 0);
    cr_assert_eq(lapps_tls_set_certificate(t, NULL, "k"), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_certificate(t, "c", ""), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_certificate(t, "c", "k"), 0);
    cr_assert_eq(lapps_tls_set_min_version(t, (lapps_tls_version)0x0302), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_min_version(t, (lapps_tls_version)0x0301), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_min_version(t, LAPPS_TLS_1_3), 0);
    cr_assert_eq(t->min_version, LAPPS_TLS_1_3);
    cr_assert_eq(lapps_tls_set_client_ca(t, NULL, LAPPS_TLS_VERIFY_REQUIRE), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_client_ca(t, "ca", (lapps_tls_verify)3), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_client_ca(t, "ca", LAPPS_TLS_VERIFY_OPTIONAL), 0);
    cr_assert_eq(lapps_tls_set_client_ca(t, NULL, LAPPS_TLS_VERIFY_NONE), 0);
    cr_assert_null(t->ca_file);
    cr_assert_eq(lapps_tls_set_ciphers(t, "", NULL), LAPPS_ERR_INVAL);
    cr_assert_eq(lapps_tls_set_ciphers(t, "ECDHE+AESGCM", NULL), 0);
    struct lapps_tls *copy = lapps__tls_settings_dup(t);
    cr_assert_str_eq(copy->chain_file, "c");
    cr_assert_str_eq(copy->ciphers12, "ECDHE+AESGCM");
    cr_assert_null(copy->ciphers13);
    cr_assert_neq(copy->chain_file, t->chain_file);
    lapps_tls_free(copy);
    lapps_tls_free(t);
    lapps_tls_free(NULL);
}

/* ---- contexts ---- */

Test(tls_ctx, every_bad_file_is_an_error_naming_it, .init = make_files, .fini = remove_files)
{
    struct {
        const char *cert, *key, *ciphers, *expect;
    } bad[] = {
        {"/nonexistent/cert.pem", key_path, NULL, "certificate chain /nonexistent/cert.pem"},
        {cert_path, "/nonexistent/key.pem", NULL, "private key /nonexistent/key.pem"},
        {key_path, key_path, NULL, "certificate chain"},
        {cert_path, other_key_path, NULL, "private key /tmp/lapps-tls-unit-"},
        {cert_path, key_path, "NO-SUCH-CIPHER", "TLS 1.2 cipher list NO-SUCH-CIPHER"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lapps_tls *t = settings(bad[i].cert, bad[i].key);
        if (bad[i].ciphers)
            cr_assert_eq(lapps_tls_set_ciphers(t, bad[i].ciphers, NULL), 0);
        struct lapps__tls_ctx *ctx = NULL;
        char why[512] = "";
        cr_assert_eq(lapps__tls_ctx_new(&ctx, t, why, sizeof why), LAPPS_ERR_TLS, "case %zu", i);
        cr_assert_null(ctx);
        cr_assert_not_null(strstr(why, bad[i].expect), "case %zu: %s", i, why);
        cr_assert_eq(ERR_peek_error(), 0, "the error queue is left empty");
        lapps_tls_free(t);
    }
}

Test(tls_ctx, reload_prepare_failure_keeps_the_context, .init = make_files, .fini = remove_files)
{
    lapps_tls *t = settings(cert_path, key_path);
    struct lapps__tls_ctx *ctx;
    char why[512];
    cr_assert_eq(lapps__tls_ctx_new(&ctx, t, why, sizeof why), 0, "%s", why);
    lapps_tls_free(t); /* the context has its own copy */
    cr_assert_eq(lapps__tls_ctx_prepare(ctx, why, sizeof why), 0, "%s", why);
    lapps__tls_ctx_commit(ctx);
    /* The key file now holds a key of another certificate: the reload fails. */
    cr_assert_eq(rename(other_key_path, key_path), 0);
    cr_assert_eq(lapps__tls_ctx_prepare(ctx, why, sizeof why), LAPPS_ERR_TLS);
    cr_assert_not_null(strstr(why, "private key"), "%s", why);
    lapps__tls_ctx_abort(ctx);
    struct lapps__tls *s = lapps__tls_new(ctx, -1);
    cr_assert_not_null(s, "the context still makes sessions");
    lapps__tls_free(s);
    lapps__tls_ctx_free(ctx);
}

/* ---- a session against an OpenSSL client ---- */

struct pair {
    struct lapps__tls_ctx *ctx;
    struct lapps__tls *srv;
    SSL_CTX *cctx;
    SSL *cli;
    int sfd, cfd;
};

static void
set_nonblock(int fd)
{
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* Runs both handshakes, alternating, until both are done. */
static void
pair_open(struct pair *p, int sndbuf)
{
    make_files();
    lapps_tls *t = settings(cert_path, key_path);
    char why[512];
    cr_assert_eq(lapps__tls_ctx_new(&p->ctx, t, why, sizeof why), 0, "%s", why);
    lapps_tls_free(t);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->sfd = sv[0];
    p->cfd = sv[1];
    if (sndbuf) {
        setsockopt(p->sfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        setsockopt(p->cfd, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
    }
    set_nonblock(p->sfd);
    set_nonblock(p->cfd);
    p->srv = lapps__tls_new(p->ctx, p->sfd);
    cr_assert_not_null(p->srv);
    p->cctx = SSL_CTX_new(TLS_client_method());
    p->cli = SSL_new(p->cctx);
    SSL_set_fd(p->cli, p->cfd);
    SSL_set_connect_state(p->cli);
    bool cli_done = false;
    size_t got;
    uint8_t b[16];
    for (int i = 0; i < 100 && !cli_done; i++) {
        /* The server side advances its handshake through reads, as the worker does. */
        enum lapps__tls_io o = lapps__tls_read(p->srv, b, sizeof b, &got);
        cr_assert(o == LAPPS__TLS_WANT_READ, "server read during the handshake: %d", o);
        cli_done = SSL_do_handshake(p->cli) == 1;
    }
    cr_assert(cli_done, "the client handshake did not finish");
}

static void
pair_close(struct pair *p)
{
    SSL_free(p->cli);
    SSL_CTX_free(p->cctx);
    lapps__tls_free(p->srv);
    lapps__tls_ctx_free(p->ctx);
    close(p->sfd);
    close(p->cfd);
    remove_files();
}

Test(tls_session, read_stops_at_capacity_and_reports_what_it_holds)
{
    struct pair p;
    pair_open(&p, 0);
    char msg[1000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    cr_assert_eq(SSL_write(p.cli, msg, sizeof msg), (int)sizeof msg);
    char got_all[1000];
    size_t have = 0, got;
    /* 10 bytes at a time: after the first read the socket is empty, yet the session
     * still holds the record's plaintext, and says so. */
    while (have < sizeof msg) {
        enum lapps__tls_io o = lapps__tls_read(p.srv, got_all + have, 10, &got);
        cr_assert_eq(o, LAPPS__TLS_OK);
        cr_assert_eq(got, 10);
        have += got;
        if (have < sizeof msg)
            cr_assert(lapps__tls_pending(p.srv), "pending after %zu bytes", have);
    }
    cr_assert_not(lapps__tls_pending(p.srv));
    cr_assert_eq(memcmp(got_all, msg, sizeof msg), 0);
    cr_assert_eq(lapps__tls_read(p.srv, got_all, sizeof got_all, &got), LAPPS__TLS_WANT_READ);
    pair_close(&p);
}

Test(tls_session, eof_after_data_is_kept_for_the_next_read)
{
    struct pair p;
    pair_open(&p, 0);
    cr_assert_eq(SSL_write(p.cli, "bye", 3), 3);
    SSL_shutdown(p.cli);
    shutdown(p.cfd, SHUT_WR);
    char b[64];
    size_t got;
    cr_assert_eq(lapps__tls_read(p.srv, b, sizeof b, &got), LAPPS__TLS_OK);
    cr_assert_eq(got, 3);
    cr_assert(lapps__tls_pending(p.srv), "the end is announced");
    cr_assert_eq(lapps__tls_read(p.srv, b, sizeof b, &got), LAPPS__TLS_EOF);
    cr_assert_eq(got, 0);
    pair_close(&p);
}

/* The server writes 2 MiB in iovecs of odd sizes into a small socket; whenever the
 * socket is full, the unsent bytes are copied to a new buffer (as the output queue
 * does) and the write is repeated from there once the client has read. The client
 * must receive every byte in order. */
Test(tls_session, full_socket_retry_from_a_moved_copy)
{
    struct pair p;
    pair_open(&p, 4096);
    size_t total = 2u << 20;
    uint8_t *src = malloc(total), *dst = malloc(total);
    for (size_t i = 0; i < total; i++)
        src[i] = (uint8_t)(i * 7 + (i >> 9));
    size_t sent = 0, recvd = 0;
    int want_writes = 0;
    while (recvd < total) {
        if (sent < total) {
            /* A fresh copy at a new address each time: the bytes not yet taken. */
            size_t left = total - sent;
            uint8_t *copy = malloc(left);
            memcpy(copy, src + sent, left);
            size_t a = left < 5 ? left : 5, b = left - a > 40000 ? 40000 : left - a;
            struct iovec iov[3] = {{copy, a}, {copy + a, b}, {copy + a + b, left - a - b}};
            size_t done = 0;
            enum lapps__tls_io o = lapps__tls_write(p.srv, iov, 3, &done);
            cr_assert(o == LAPPS__TLS_OK || o == LAPPS__TLS_WANT_WRITE, "write: %d", o);
            if (o == LAPPS__TLS_WANT_WRITE)
                want_writes++;
            else
                cr_assert_eq(done, left);
            sent += done;
            free(copy);
        }
        int n = SSL_read(p.cli, dst + recvd, (int)(total - recvd));
        if (n > 0)
            recvd += (size_t)n;
        else
            cr_assert_eq(SSL_get_error(p.cli, n), SSL_ERROR_WANT_READ);
    }
    cr_assert_gt(want_writes, 0, "the socket never filled: the test proves nothing");
    cr_assert_eq(memcmp(src, dst, total), 0);
    free(src);
    free(dst);
    pair_close(&p);
}

Test(tls_session, garbage_instead_of_a_client_hello_is_an_error, .init = make_files,
     .fini = remove_files)
{
    lapps_tls *t = settings(cert_path, key_path);
    struct lapps__tls_ctx *ctx;
    char why[512];
    cr_assert_eq(lapps__tls_ctx_new(&ctx, t, why, sizeof why), 0, "%s", why);
    lapps_tls_free(t);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    set_nonblock(sv[0]);
    struct lapps__tls *s = lapps__tls_new(ctx, sv[0]);
    const char *req = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
    char b[64];
    size_t got;
    cr_assert_eq(lapps__tls_read(s, b, sizeof b, &got), LAPPS__TLS_ERROR);
    cr_assert_eq(ERR_peek_error(), 0, "the error queue is left empty");
    lapps__tls_free(s);
    lapps__tls_ctx_free(ctx);
    close(sv[0]);
    close(sv[1]);
}
