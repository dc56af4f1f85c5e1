/* Tests for lib/proto/message.c: every request rule, and the exact bytes of responses
 * and notifications (keys in LAppS's order: cid, error/message/result, status). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <lapps/error.h>

#include "proto/message.h"

static struct lapps_value *
decode(struct lapps__arena *a, const uint8_t *p, size_t n)
{
    struct lapps_value *v;
    cr_assert_eq(lapps__cbor_decode(a, p, n, &v), 0);
    return v;
}

/* Encodes a value built from a format into CBOR bytes and decodes them in the arena:
 * requests below are written as formats, not bytes, for readability. */
static struct lapps_value *
from_format(struct lapps__arena *a, lapps_value *built)
{
    cr_assert_not_null(built);
    struct lapps__wbuf b = {0};
    cr_assert_eq(lapps__cbor_encode(&b, built), 0);
    size_t len = b.len;
    uint8_t *copy = lapps__arena_alloc(a, len);
    memcpy(copy, b.p, len);
    lapps__wbuf_free(&b);
    lapps_value_free(built);
    return decode(a, copy, len);
}

Test(message, valid_requests_and_notifications)
{
    struct lapps__arena a;
    lapps__arena_init(&a, 4096);
    struct lapps__req r;
    const char *why;
    struct lapps_value *v = from_format(&a, lapps_value_build("{s:i s:s s:[i,s]}", "lapps", 1,
                                                              "method", "add", "params", 1, "two"));
    cr_assert_eq(lapps__req_parse(v, &r, &why), 0);
    cr_assert_eq(r.method_len, 3);
    cr_assert_eq(memcmp(r.method, "add", 3), 0);
    cr_assert_eq(r.params->n, 2);
    cr_assert_eq(r.cid, 0);
    /* params [] counts as none; extra members are ignored; cid makes a notification. */
    v = from_format(&a, lapps_value_build("{s:s s:[] s:i s:n s:i}", "method", "x", "params",
                                          "lapps", 1, "extra", "cid", 7));
    cr_assert_eq(lapps__req_parse(v, &r, &why), 0);
    cr_assert_null(r.params);
    cr_assert_eq(r.cid, 7);
    /* No params at all. */
    v = from_format(&a, lapps_value_build("{s:i s:s}", "lapps", 1, "method", "m\xc3\xa9thode"));
    cr_assert_eq(lapps__req_parse(v, &r, &why), 0);
    cr_assert_null(r.params);
    lapps__arena_free(&a);
}

Test(message, every_invalid_request_is_minus_32600)
{
    struct lapps__arena a;
    lapps__arena_init(&a, 4096);
    lapps_value *bad[] = {
        lapps_value_build("[i]", 1),
        lapps_value_build("s", "lapps"),
        lapps_value_build("{s:s}", "method", "m"),
        lapps_value_build("{s:i s:s}", "lapps", 2, "method", "m"),
        lapps_value_build("{s:s s:s}", "lapps", "1", "method", "m"),
        lapps_value_build("{s:f s:s}", "lapps", 1.0, "method", "m"),
        lapps_value_build("{s:i s:i}", "lapps", -1, "method", "m"),
        lapps_value_build("{s:i}", "lapps", 1),
        lapps_value_build("{s:i s:s}", "lapps", 1, "method", ""),
        lapps_value_build("{s:i s:s}", "lapps", 1, "method", "a.b"),
        lapps_value_build("{s:i s:s}", "lapps", 1, "method", "_private"),
        lapps_value_build("{s:i s:s#}", "lapps", 1, "method", "a\0b", (size_t)3),
        lapps_value_build("{s:i s:i}", "lapps", 1, "method", 5),
        lapps_value_build("{s:i s:y#}", "lapps", 1, "method", "m", (size_t)1),
        lapps_value_build("{s:i s:s s:{}}", "lapps", 1, "method", "m", "params"),
        lapps_value_build("{s:i s:s s:s}", "lapps", 1, "method", "m", "params", "x"),
        lapps_value_build("{s:i s:s s:i}", "lapps", 1, "method", "m", "cid", 0),
        lapps_value_build("{s:i s:s s:i}", "lapps", 1, "method", "m", "cid", -3),
        lapps_value_build("{s:i s:s s:s}", "lapps", 1, "method", "m", "cid", "1"),
        lapps_value_build("{s:i s:s s:f}", "lapps", 1, "method", "m", "cid", 1.0),
        lapps_value_build("{s:i s:s s:s}", "lapps", 1, "method", "m", "method", "n"),
        lapps_value_build("{s:i s:i s:s}", "lapps", 1, "lapps", 1, "method", "m"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lapps_value *v = from_format(&a, bad[i]);
        struct lapps__req r;
        const char *why = NULL;
        cr_assert_eq(lapps__req_parse(v, &r, &why), LAPPS__RPC_INVALID_REQUEST, "case %zu", i);
        cr_assert_not_null(why);
    }
    lapps__arena_free(&a);
}

static void
bytes_are(struct lapps__wbuf *b, const char *hex)
{
    char got[512] = "";
    for (size_t i = 0; i < b->len && 2 * i + 2 < sizeof got; i++)
        snprintf(got + 2 * i, 3, "%02x", b->p[i]);
    cr_assert_str_eq(got, hex);
    b->len = 0;
}

Test(message, responses_and_notifications_exact_bytes)
{
    struct lapps__wbuf b = {0};
    lapps_value *r = lapps_value_build("[i]", 5);
    /* The expected bytes are what python3-cbor2 writes for the same maps. */
    lapps__msg_result(&b, 0, r); /* {"cid":0,"result":[5],"status":1} */
    bytes_are(&b, "a3636369640066726573756c7481056673746174757301");
    lapps__msg_result(&b, 0, NULL);
    bytes_are(&b, "a3636369640066726573756c74806673746174757301");
    lapps__msg_error(&b, 0, -32601, "no", 2, NULL);
    /* {"cid":0,"error":{"code":-32601,"message":"no"},"status":0} */
    bytes_are(&b, "a36363696400656572726f72a264636f6465397f58676d657373616765626e6f6673746174"
                  "757300");
    lapps__msg_error(&b, 4, 7, "e", 1, r);
    /* {"cid":4,"error":{"code":7,"data":[5],"message":"e"},"status":0} */
    bytes_are(&b, "a36363696404656572726f72a364636f64650764646174618105676d657373616765616566"
                  "73746174757300");
    lapps__msg_notify(&b, 5, r); /* {"cid":5,"message":[5]} */
    bytes_are(&b, "a26363696405676d6573736167658105");
    lapps_value_free(r);
    lapps__wbuf_free(&b);
}
