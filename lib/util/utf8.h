/* utf8.h — incremental UTF-8 validation (RFC 3629) for text messages and close reasons.
 *
 * The validator keeps a small state between calls, so a message can be checked piece
 * by piece as its bytes arrive (across fragments and across the pieces of a frame that
 * is still incomplete), and it fails on the first byte that cannot belong to valid
 * UTF-8 — not at the end of the sequence or the message. */
#ifndef LAPPS_UTIL_UTF8_H
#define LAPPS_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The state at a character boundary; a zero-filled state is a fresh validator. */
#define LAPPS__UTF8_ACCEPT 0u

/* The fastest implementation this CPU supports (chosen on the first call). */
int lapps__utf8_validate_dispatch(uint32_t *state, const uint8_t *p, size_t n);

/* Whether p[0..n) is ASCII, for 1 <= n <= 24, with loads that may overlap. */
static inline bool
lapps__utf8_short_ascii(const uint8_t *p, size_t n)
{
    uint64_t w, x;
    if (n >= 8) {
        memcpy(&w, p, 8);
        memcpy(&x, p + n - 8, 8);
        w |= x;
        if (n > 16) {
            memcpy(&x, p + 8, 8);
            w |= x;
        }
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = a | b;
    } else {
        w = p[0] | p[n / 2] | p[n - 1];
    }
    return !(w & 0x8080808080808080ull);
}

/* Validates p[0..n) as the continuation of the text that left *state.
 * Returns 0 when every byte can still be part of valid UTF-8 (the text may end inside
 * a multi-byte sequence: check lapps__utf8_complete() at the end of the message), or
 * LAPPS_ERR_UTF8 as soon as one cannot; *state is then meaningless.
 * Short ASCII text ("ping", a chat line, a small JSON object) is the most frequent
 * message: it is answered inline; the rest goes to the fastest implementation. */
static inline int
lapps__utf8_validate(uint32_t *state, const uint8_t *p, size_t n)
{
    if (n <= 24 && *state == LAPPS__UTF8_ACCEPT && (n == 0 || lapps__utf8_short_ascii(p, n)))
        return 0;
    return lapps__utf8_validate_dispatch(state, p, n);
}

/* Whether a validated text ended on a character boundary. */
static inline bool
lapps__utf8_complete(uint32_t state)
{
    return state == LAPPS__UTF8_ACCEPT;
}

/* One implementation of lapps__utf8_validate(); tests and benchmarks compare them. */
struct lapps__utf8_impl {
    const char *name;
    int (*validate)(uint32_t *state, const uint8_t *p, size_t n);
    unsigned needs; /* LAPPS__CPU_* features it requires */
};

/* Every compiled-in implementation, the portable scalar one first; the list ends with
 * a NULL name. Callers must check lapps__cpu_has(impl->needs) before calling one. */
extern const struct lapps__utf8_impl lapps__utf8_impls[];

/* The portable implementation; SIMD implementations use it for short inputs. */
int lapps__utf8_validate_scalar(uint32_t *state, const uint8_t *p, size_t n);

/* The scalar DFA, shared with the SIMD implementations so that they finish and begin
 * characters exactly as it does. A state is a bit offset into a row: bits
 * [state, state + 6) of lapps__utf8_dfa[byte] hold the state after that byte. The
 * reject state is absorbing. Other states than LAPPS__UTF8_ACCEPT are opaque. */
#define LAPPS__UTF8_REJECT 48u

extern const uint64_t lapps__utf8_dfa[256];

static inline uint32_t
lapps__utf8_step(uint32_t state, uint8_t byte)
{
    return (uint32_t)(lapps__utf8_dfa[byte] >> state) & 63;
}

#if defined(__x86_64__) || defined(__i386__)
/* utf8-x86.c: the "lookup" algorithm of Keiser and Lemire on 16- and 32-byte vectors. */
int lapps__utf8_validate_ssse3(uint32_t *state, const uint8_t *p, size_t n);
int lapps__utf8_validate_avx2(uint32_t *state, const uint8_t *p, size_t n);
#endif

#endif /* LAPPS_UTIL_UTF8_H */
