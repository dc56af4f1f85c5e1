/* close.c — close codes and close payloads (RFC 6455 §5.5.1, §7.4; IANA registry). */
#include <string.h>

#include <lapps/error.h>

#include "util/utf8.h"
#include "ws/close.h"

bool
lapps__close_code_valid(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return true;
    if (code >= 1000 && code <= 1003)
        return true;
    return code >= 1007 && code <= 1014;
}

int
lapps__close_parse(const uint8_t *payload, size_t len, uint16_t *code, const uint8_t **reason,
                   size_t *reason_len)
{
    *reason = payload;
    *reason_len = 0;
    if (len == 0) {
        *code = 1005;
        return 0;
    }
    if (len == 1)
        return LAPPS_ERR_PROTO;
    unsigned c = (unsigned)payload[0] << 8 | payload[1];
    if (!lapps__close_code_valid(c))
        return LAPPS_ERR_PROTO;
    uint32_t st = LAPPS__UTF8_ACCEPT;
    if (lapps__utf8_validate(&st, payload + 2, len - 2) != 0 || !lapps__utf8_complete(st))
        return LAPPS_ERR_UTF8;
    *code = (uint16_t)c;
    *reason = payload + 2;
    *reason_len = len - 2;
    return 0;
}

size_t
lapps__close_payload(uint8_t out[125], uint16_t code, const char *reason, size_t reason_len)
{
    if (code == 1005)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t n = reason_len < 123 ? reason_len : 123;
    /* Cutting inside a multi-byte character would make the reason invalid UTF-8:
     * back off to the start of the character that does not fit. */
    if (n < reason_len)
        while (n > 0 && ((uint8_t)reason[n] & 0xC0) == 0x80)
            n--;
    if (n)
        memcpy(out + 2, reason, n);
    return 2 + n;
}
