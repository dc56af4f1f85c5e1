/* simd-inputs.h — inputs, references and guarded placement shared by the tests of the
 * SIMD code (UTF-8 validation, masking, and both in one pass). */
#ifndef LAPPS_TEST_SIMD_INPUTS_H
#define LAPPS_TEST_SIMD_INPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A xorshift generator with a fixed seed: each test (a process of its own under
 * Criterion) sees the same sequence on every run. */
uint32_t test_rnd(void);

/* Random bytes. */
void test_fill(uint8_t *p, size_t n);

/* The UTF-8 encoding of scalar value c (1 to 4 bytes into o); returns its length. */
size_t test_utf8_encode(uint8_t *o, uint32_t c);

/* A random scalar value (never a surrogate), ASCII with the given chance in percent,
 * otherwise weighted towards the edges the validators single out. */
uint32_t test_random_code_point(unsigned ascii_percent);

/* Valid text of exactly n bytes; it may end inside a character, which is valid too. */
void test_random_text(uint8_t *p, size_t n, unsigned ascii_percent);

/* The reference masking: key byte i % 4, in memory order, applies to p[i]. */
void test_ref_mask(uint8_t *p, size_t n, uint32_t key);

/* How many implementations a test must have run: all three on an AVX2 machine unless
 * $LAPPS_SIMD caps the tier. Guards against a test that passes by running none. */
int test_expected_impls(void);

/* Whether [from, to) still holds the canary 0xA5 everywhere. */
bool test_untouched(const uint8_t *from, const uint8_t *to);

/* One guarded buffer of TEST_ARENA bytes per test process (give the test
 * `.init = test_arena_init, .fini = test_arena_fini`); test_place() copies data so that
 * its last byte is the last one before the PROT_NONE page. */
#define TEST_ARENA 4096
void test_arena_init(void);
void test_arena_fini(void);
uint8_t *test_place(const void *data, size_t n);

#endif
