/* liblapps — TLS settings of a listener (wss://).
 *
 * A lapps_tls object holds file names and choices, never OpenSSL objects: no OpenSSL
 * type appears in a public header, and the files are read by lapps_server_new() (and
 * again by lapps_server_reload_tls()). lapps_opts_add_listener() copies the settings, so
 * the object may be freed right after. */
#ifndef LAPPS_TLS_H
#define LAPPS_TLS_H

#include <lapps/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lapps_tls lapps_tls;

/** Lowest protocol version a listener accepts. TLS 1.0 and 1.1 are never offered. */
typedef enum lapps_tls_version {
    LAPPS_TLS_1_2 = 0x0303, /**< the default */
    LAPPS_TLS_1_3 = 0x0304,
} lapps_tls_version;

/** Whether clients must present a certificate signed by the client CA. */
typedef enum lapps_tls_verify {
    LAPPS_TLS_VERIFY_NONE = 0,     /**< no certificate asked (the default) */
    LAPPS_TLS_VERIFY_OPTIONAL = 1, /**< asked; one that is sent must verify */
    LAPPS_TLS_VERIFY_REQUIRE = 2,  /**< a verified certificate is required */
} lapps_tls_verify;

/** Creates TLS settings: no certificate yet, TLS 1.2 minimum, OpenSSL's default cipher
 *  lists at security level 2, no client verification.
 *  @return 0, LAPPS_ERR_INVAL (@p out is NULL) or LAPPS_ERR_NOMEM. Any thread. */
LAPPS_EXPORT int lapps_tls_new(lapps_tls **out);

/** Frees TLS settings (NULL is a no-op). Listeners keep their own copies. */
LAPPS_EXPORT void lapps_tls_free(lapps_tls *tls);

/** Sets the PEM certificate chain (the server's certificate first, then intermediates)
 *  and the PEM private key. Required. The files are read when the server is created.
 *  @return 0, LAPPS_ERR_INVAL (NULL or empty name) or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_tls_set_certificate(lapps_tls *tls, const char *chain_file,
                                           const char *key_file);

/** Sets the PEM file of the CAs that sign client certificates, and how they are asked
 *  for. @p ca_file may be NULL only with LAPPS_TLS_VERIFY_NONE.
 *  @return 0, LAPPS_ERR_INVAL or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_tls_set_client_ca(lapps_tls *tls, const char *ca_file,
                                         lapps_tls_verify mode);

/** Sets the lowest accepted version. @return 0 or LAPPS_ERR_INVAL (not 1.2 or 1.3). */
LAPPS_EXPORT int lapps_tls_set_min_version(lapps_tls *tls, lapps_tls_version version);

/** Replaces the cipher lists, in OpenSSL's syntax: @p tls12 for TLS 1.2
 *  ("ECDHE+AESGCM:ECDHE+CHACHA20"), @p tls13 for TLS 1.3 suites
 *  ("TLS_AES_128_GCM_SHA256:..."). NULL keeps that list's default. A list OpenSSL
 *  does not understand makes lapps_server_new() fail with LAPPS_ERR_TLS.
 *  @return 0, LAPPS_ERR_INVAL or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_tls_set_ciphers(lapps_tls *tls, const char *tls12, const char *tls13);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_TLS_H */
