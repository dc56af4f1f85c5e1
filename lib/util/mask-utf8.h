/* mask-utf8.h — unmasking a text payload and validating it as UTF-8 in one call.
 *
 * A client's text frame is masked (mask.h) and must be valid UTF-8 (utf8.h). ASCII
 * text, the common case, is unmasked and checked in one pass over the bytes, for
 * little more than unmasking alone costs; text found not to be ASCII is unmasked and
 * validated in pieces small enough to stay in L1 between the two (mask-utf8-x86.c says
 * why not in one pass). */
#ifndef LAPPS_UTIL_MASK_UTF8_H
#define LAPPS_UTIL_MASK_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "util/mask.h"
#include "util/utf8.h"

/* The fastest implementation this CPU supports (chosen on the first call). */
int lapps__mask_utf8_dispatch(uint8_t *p, size_t n, uint32_t *key, uint32_t *state);

/* XORs p[0..n) with *key (mask.h's key contract) and validates the unmasked bytes as
 * the continuation of the text that left *state (utf8.h's contract). On success *key
 * is the key for the byte after p[n - 1] and *state the validator's state, exactly as
 *     *key = lapps__mask(p, n, *key); rv = lapps__utf8_validate(state, p, n);
 * leave them, and the result is 0. Otherwise the result is LAPPS_ERR_UTF8, and the
 * bytes may be only partly unmasked and *key and *state are meaningless. Payloads of up
 * to 16 bytes are done inline by those two functions; longer ones go to the fastest
 * implementation. */
static inline int
lapps__mask_utf8(uint8_t *p, size_t n, uint32_t *key, uint32_t *state)
{
    if (n > 16)
        return lapps__mask_utf8_dispatch(p, n, key, state);
    *key = lapps__mask(p, n, *key);
    return lapps__utf8_validate(state, p, n);
}

/* One implementation of lapps__mask_utf8(); tests and benchmarks compare them. */
struct lapps__mask_utf8_impl {
    const char *name;
    int (*mask_utf8)(uint8_t *p, size_t n, uint32_t *key, uint32_t *state);
    unsigned needs; /* LAPPS__CPU_* features it requires */
};

/* Every compiled-in implementation, the portable scalar one first; the list ends with
 * a NULL name. Callers must check lapps__cpu_has(impl->needs) before calling one. */
extern const struct lapps__mask_utf8_impl lapps__mask_utf8_impls[];

int lapps__mask_utf8_scalar(uint8_t *p, size_t n, uint32_t *key, uint32_t *state);

#if defined(__x86_64__) || defined(__i386__)
/* mask-utf8-x86.c */
int lapps__mask_utf8_ssse3(uint8_t *p, size_t n, uint32_t *key, uint32_t *state);
int lapps__mask_utf8_avx2(uint8_t *p, size_t n, uint32_t *key, uint32_t *state);
#endif

#endif /* LAPPS_UTIL_MASK_UTF8_H */
