/* base64.c — RFC 4648 §4 base64 (standard alphabet, always padded) and SHA-1 through
 * OpenSSL's one-shot EVP API: the two primitives of the WebSocket handshake.
 *
 * Decoding is strict on purpose: a Sec-WebSocket-Key is valid only when it is the one
 * canonical encoding of 16 bytes, so whitespace, missing or extra padding, characters
 * outside the alphabet and non-zero bits under the padding are all refused. */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include <lapps/error.h>

#include "util/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
lapps__base64_encode(const uint8_t *in, size_t n, char *out)
{
    char *o = out;
    size_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = '=';
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* The 6-bit value of each alphabet character; X marks the rest (0x40 is never set in a
 * valid value, so OR-ing the values of a text tells whether it had a bad byte). */
#define X 0x40
/* clang-format off */
static const uint8_t sextet[256] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
/* clang-format on */
#undef X

lapps_ssize
lapps__base64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    if (n % 4 != 0)
        return LAPPS_ERR_INVAL;
    if (n == 0)
        return 0;
    size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    /* The whole text is checked before anything is written, so a malformed text is
     * always LAPPS_ERR_INVAL whatever the capacity. '=' anywhere but in the last two
     * places is not in the table, so it is caught here too. */
    unsigned bad = 0;
    for (size_t i = 0; i < n - pad; i++)
        bad |= sextet[s[i]];
    if (bad & 0x40)
        return LAPPS_ERR_INVAL;
    /* Canonical form: the bits the padding leaves over must be zero. */
    if (pad == 1 && (sextet[s[n - 2]] & 3) != 0)
        return LAPPS_ERR_INVAL;
    if (pad == 2 && (sextet[s[n - 3]] & 15) != 0)
        return LAPPS_ERR_INVAL;
    size_t need = n / 4 * 3 - pad;
    if (need > cap)
        return LAPPS_ERR_NOSPACE;

    uint8_t *o = out;
    size_t full = pad ? n - 4 : n;
    for (size_t i = 0; i < full; i += 4) {
        uint32_t v = (uint32_t)sextet[s[i]] << 18 | (uint32_t)sextet[s[i + 1]] << 12 |
                     (uint32_t)sextet[s[i + 2]] << 6 | sextet[s[i + 3]];
        *o++ = (uint8_t)(v >> 16);
        *o++ = (uint8_t)(v >> 8);
        *o++ = (uint8_t)v;
    }
    if (pad) {
        uint32_t v = (uint32_t)sextet[s[full]] << 18 | (uint32_t)sextet[s[full + 1]] << 12;
        *o++ = (uint8_t)(v >> 16);
        if (pad == 1)
            *o++ = (uint8_t)((v | (uint32_t)sextet[s[full + 2]] << 6) >> 8);
    }
    return (lapps_ssize)need;
}

/* EVP_sha1() is a legacy descriptor: OpenSSL 3 looks its provider implementation up
 * again at every EVP_Digest() call. Fetching it once saves that search on every
 * handshake; when the fetch fails (no default provider) the legacy descriptor still
 * works, only slower. */
static const EVP_MD *sha1_md;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void
sha1_fetch(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
#endif
    if (!sha1_md)
        sha1_md = EVP_sha1();
}

int
lapps__sha1_2(const void *a, size_t na, const void *b, size_t nb, uint8_t out[20])
{
    pthread_once(&sha1_once, sha1_fetch);
    /* The one-shot API hashes one contiguous buffer. The handshake hashes 60 bytes
     * (key + GUID), so the concatenation fits on the stack; longer inputs, which the
     * library does not produce, take the streaming path. */
    uint8_t tmp[256];
    int ok;
    if (na + nb <= sizeof tmp && na <= sizeof tmp) {
        if (na)
            memcpy(tmp, a, na);
        if (nb)
            memcpy(tmp + na, b, nb);
        ok = EVP_Digest(tmp, na + nb, out, NULL, sha1_md, NULL);
    } else {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ok = ctx && EVP_DigestInit_ex(ctx, sha1_md, NULL) && EVP_DigestUpdate(ctx, a, na) &&
             EVP_DigestUpdate(ctx, b, nb) && EVP_DigestFinal_ex(ctx, out, NULL);
        EVP_MD_CTX_free(ctx);
    }
    /* Only an allocation inside OpenSSL can fail here. */
    return ok ? 0 : LAPPS_ERR_NOMEM;
}
