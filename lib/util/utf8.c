/* utf8.c — the portable UTF-8 validator and the dispatch to the fastest one.
 *
 * The scalar validator is a small DFA whose states say what the next byte must be;
 * it rejects the first byte that cannot continue valid UTF-8 (overlongs, surrogates
 * and code points above U+10FFFF are caught on their second byte, as RFC 3629's
 * grammar allows). */
#include <pthread.h>
#include <string.h>

#include <lapps/error.h>

#include "util/cpu.h"
#include "util/utf8.h"

enum {
    ACCEPT = LAPPS__UTF8_ACCEPT,
    NEED1,   /* one continuation byte 80..BF */
    NEED2,   /* two continuation bytes */
    NEED3,   /* three continuation bytes */
    AFTER_E0, /* A0..BF, then one more (no overlong 3-byte forms) */
    AFTER_ED, /* 80..9F, then one more (no surrogates) */
    AFTER_F0, /* 90..BF, then two more (no overlong 4-byte forms) */
    AFTER_F4, /* 80..8F, then two more (nothing above U+10FFFF) */
    REJECT,
};

static inline uint32_t
step(uint32_t s, uint8_t b)
{
    switch (s) {
    case ACCEPT:
        if (b < 0x80)
            return ACCEPT;
        if (b < 0xC2)
            return REJECT;
        if (b < 0xE0)
            return NEED1;
        if (b == 0xE0)
            return AFTER_E0;
        if (b == 0xED)
            return AFTER_ED;
        if (b < 0xF0)
            return NEED2;
        if (b == 0xF0)
            return AFTER_F0;
        if (b < 0xF4)
            return NEED3;
        return b == 0xF4 ? AFTER_F4 : REJECT;
    case NEED1:
        return (b & 0xC0) == 0x80 ? ACCEPT : REJECT;
    case NEED2:
        return (b & 0xC0) == 0x80 ? NEED1 : REJECT;
    case NEED3:
        return (b & 0xC0) == 0x80 ? NEED2 : REJECT;
    case AFTER_E0:
        return b >= 0xA0 && b <= 0xBF ? NEED1 : REJECT;
    case AFTER_ED:
        return b >= 0x80 && b <= 0x9F ? NEED1 : REJECT;
    case AFTER_F0:
        return b >= 0x90 && b <= 0xBF ? NEED2 : REJECT;
    case AFTER_F4:
        return b >= 0x80 && b <= 0x8F ? NEED2 : REJECT;
    default:
        return REJECT;
    }
}

int
lapps__utf8_validate_scalar(uint32_t *state, const uint8_t *p, size_t n)
{
    uint32_t s = *state;
    size_t i = 0;
    while (i < n) {
        if (s == ACCEPT) {
            /* ASCII runs are the common case: skip them a word at a time. */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            if (i == n)
                break;
        }
        s = step(s, p[i++]);
        if (s == REJECT)
            return LAPPS_ERR_UTF8;
    }
    *state = s;
    return 0;
}

const struct lapps__utf8_impl lapps__utf8_impls[] = {
    {"scalar", lapps__utf8_validate_scalar, 0},
    {NULL, NULL, 0},
};

static int (*best)(uint32_t *, const uint8_t *, size_t) = lapps__utf8_validate_scalar;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static void
choose(void)
{
    for (const struct lapps__utf8_impl *i = lapps__utf8_impls; i->name; i++)
        if (lapps__cpu_has(i->needs))
            best = i->validate;
}

int
lapps__utf8_validate(uint32_t *state, const uint8_t *p, size_t n)
{
    pthread_once(&best_once, choose);
    return best(state, p, n);
}
