/* guard.h — test buffers placed flush against a PROT_NONE page, so a parser that reads
 * one byte past its input faults at once instead of reading stale memory. */
#ifndef LAPPS_TEST_GUARD_H
#define LAPPS_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* A writable copy of data[0..n) whose last byte is the last byte before an
 * inaccessible page (n may be 0: the pointer is then the guard page's address). */
uint8_t *guard_copy(const void *data, size_t n);

/* Frees a buffer from guard_copy(); NULL is a no-op. */
void guard_free(uint8_t *p);

#endif
