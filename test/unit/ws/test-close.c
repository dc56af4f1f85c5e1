/* Tests for lib/ws/close.c: close codes, received close payloads, our close payloads. */
#include <criterion/criterion.h>
#include <string.h>

#include <lapps/error.h>

#include "guard.h"
#include "ws/close.h"

Test(close, every_code_from_0_to_5000)
{
    unsigned n_valid = 0;
    for (unsigned code = 0; code <= 5000; code++) {
        bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                    (code >= 3000 && code <= 4999);
        cr_assert_eq(lapps__close_code_valid(code), want, "code %u", code);
        n_valid += want;
    }
    cr_assert_eq(n_valid, 4 + 8 + 2000);
    cr_assert_not(lapps__close_code_valid(65535));
}

Test(close, parse_against_a_guard_page)
{
    struct {
        const char *p;
        size_t n;
        int rv;
        uint16_t code;
        size_t reason_len;
    } cases[] = {
        {"", 0, 0, 1005, 0},
        {"\x03\xe8", 2, 0, 1000, 0},
        {"\x0b\xb8"
         "ok",
         4, 0, 3000, 2},
        {"\x03", 1, LAPPS_ERR_PROTO, 0, 0},
        {"\x03\xee", 2, LAPPS_ERR_PROTO, 0, 0}, /* 1006 */
        {"\x13\x88", 2, LAPPS_ERR_PROTO, 0, 0}, /* 5000 */
        {"\x03\xe8\xc0\x80", 4, LAPPS_ERR_UTF8, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *b = guard_copy(cases[i].p, cases[i].n);
        uint16_t code = 0;
        const uint8_t *reason;
        size_t rlen;
        cr_assert_eq(lapps__close_parse(b, cases[i].n, &code, &reason, &rlen), cases[i].rv,
                     "case %zu", i);
        if (cases[i].rv == 0) {
            cr_assert_eq(code, cases[i].code);
            cr_assert_eq(rlen, cases[i].reason_len);
        }
        guard_free(b);
    }
}

Test(close, our_payload_keeps_the_reason_whole_characters)
{
    uint8_t out[125];
    cr_assert_eq(lapps__close_payload(out, 1005, "ignored", 7), 0);
    size_t n = lapps__close_payload(out, 1001, "going away", 10);
    cr_assert_eq(n, 12);
    cr_assert_eq(out[0], 0x03);
    cr_assert_eq(out[1], 0xe9);
    cr_assert_eq(memcmp(out + 2, "going away", 10), 0);

    /* 122 ASCII bytes then a 3-byte character: only 122 bytes of reason fit whole. */
    char r[200];
    memset(r, 'a', 122);
    memcpy(r + 122,
           "\xe2\x82\xac"
           "tail",
           7);
    n = lapps__close_payload(out, 1000, r, 129);
    cr_assert_eq(n, 2 + 122);
    /* Exactly 123 bytes of ASCII fit. */
    memset(r, 'b', 200);
    cr_assert_eq(lapps__close_payload(out, 4000, r, 200), 125);
    /* The result is always a payload the parser accepts. */
    uint16_t code;
    const uint8_t *reason;
    size_t rlen;
    memset(r, 'a', 121);
    memcpy(r + 121, "\xf0\x9f\x98\x80", 4); /* straddles the 123-byte limit */
    n = lapps__close_payload(out, 1000, r, 125);
    cr_assert_eq(n, 2 + 121);
    cr_assert_eq(lapps__close_parse(out, n, &code, &reason, &rlen), 0);
    cr_assert_eq(code, 1000);
}
