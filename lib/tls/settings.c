/* settings.c — the public lapps_tls object: file names and choices, copied on every
 * set, checked for shape here and for meaning when the server reads the files. */
#include <stdlib.h>
#include <string.h>

#include <lapps/error.h>

#include "tls/tls.h"

LAPPS_EXPORT int
lapps_tls_new(lapps_tls **out)
{
    if (!out)
        return LAPPS_ERR_INVAL;
    lapps_tls *t = calloc(1, sizeof *t);
    if (!t)
        return LAPPS_ERR_NOMEM;
    t->min_version = LAPPS_TLS_1_2;
    t->verify = LAPPS_TLS_VERIFY_NONE;
    *out = t;
    return 0;
}

LAPPS_EXPORT void
lapps_tls_free(lapps_tls *tls)
{
    if (!tls)
        return;
    free(tls->chain_file);
    free(tls->key_file);
    free(tls->ca_file);
    free(tls->ciphers12);
    free(tls->ciphers13);
    free(tls);
}

/* Replaces *slot with a copy of s (NULL clears it). */
static int
set_string(char **slot, const char *s)
{
    char *copy = NULL;
    if (s && !(copy = strdup(s)))
        return LAPPS_ERR_NOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

LAPPS_EXPORT int
lapps_tls_set_certificate(lapps_tls *tls, const char *chain_file, const char *key_file)
{
    if (!tls || !chain_file || !*chain_file || !key_file || !*key_file)
        return LAPPS_ERR_INVAL;
    char *chain = strdup(chain_file), *key = strdup(key_file);
    if (!chain || !key) {
        free(chain);
        free(key);
        return LAPPS_ERR_NOMEM;
    }
    free(tls->chain_file);
    free(tls->key_file);
    tls->chain_file = chain;
    tls->key_file = key;
    return 0;
}

LAPPS_EXPORT int
lapps_tls_set_client_ca(lapps_tls *tls, const char *ca_file, lapps_tls_verify mode)
{
    if (!tls || (ca_file && !*ca_file) || (unsigned)mode > LAPPS_TLS_VERIFY_REQUIRE ||
        (!ca_file && mode != LAPPS_TLS_VERIFY_NONE))
        return LAPPS_ERR_INVAL;
    int rv = set_string(&tls->ca_file, ca_file);
    if (rv == 0)
        tls->verify = mode;
    return rv;
}

LAPPS_EXPORT int
lapps_tls_set_min_version(lapps_tls *tls, lapps_tls_version version)
{
    if (!tls || (version != LAPPS_TLS_1_2 && version != LAPPS_TLS_1_3))
        return LAPPS_ERR_INVAL;
    tls->min_version = version;
    return 0;
}

LAPPS_EXPORT int
lapps_tls_set_ciphers(lapps_tls *tls, const char *tls12, const char *tls13)
{
    if (!tls || (tls12 && !*tls12) || (tls13 && !*tls13))
        return LAPPS_ERR_INVAL;
    /* Both or neither: copy first, then replace. */
    char *a = NULL, *b = NULL;
    if ((tls12 && !(a = strdup(tls12))) || (tls13 && !(b = strdup(tls13)))) {
        free(a);
        return LAPPS_ERR_NOMEM;
    }
    free(tls->ciphers12);
    free(tls->ciphers13);
    tls->ciphers12 = a;
    tls->ciphers13 = b;
    return 0;
}

struct lapps_tls *
lapps__tls_settings_dup(const struct lapps_tls *in)
{
    struct lapps_tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->verify = in->verify;
    t->min_version = in->min_version;
    if (set_string(&t->chain_file, in->chain_file) != 0 ||
        set_string(&t->key_file, in->key_file) != 0 || set_string(&t->ca_file, in->ca_file) != 0 ||
        set_string(&t->ciphers12, in->ciphers12) != 0 ||
        set_string(&t->ciphers13, in->ciphers13) != 0) {
        lapps_tls_free(t);
        return NULL;
    }
    return t;
}
