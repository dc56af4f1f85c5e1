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

/* The state at a character boundary; a zero-filled state is a fresh validator. */
#define LAPPS__UTF8_ACCEPT 0u

/* Validates p[0..n) as the continuation of the text that left *state.
 * Returns 0 when every byte can still be part of valid UTF-8 (the text may end inside
 * a multi-byte sequence: check lapps__utf8_complete() at the end of the message), or
 * LAPPS_ERR_UTF8 as soon as one cannot; *state is then meaningless.
 * Uses the fastest implementation this CPU supports (chosen once). */
int lapps__utf8_validate(uint32_t *state, const uint8_t *p, size_t n);

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
