/* service-hs.c — a service's handshake options: the Origin values it accepts, the
 * headers it adds to its 101, and its proto_alias; their setters, their copy at
 * registration, and what the worker that parses a request asks of them (DESIGN.md §4,
 * §8).
 *
 * What LAppS did (ITpC/LAppS at 1e0d284, include/Shakespeer.h, prepareOKResponse()):
 *   - extra_headers, a JSON object in the service's lapps.json entry, was written into
 *     every 101 of the service as "name: value" lines, unchecked (a value with CRLF
 *     injected headers; a non-string value threw), in the order of nlohmann::json's
 *     std::map, i.e. sorted by name, before Sec-WebSocket-Protocol and -Accept;
 *   - proto_alias, a string, was announced as "Sec-WebSocket-Protocol: <alias>" in
 *     every 101 of the service, whatever the client offered: LAppS never read the
 *     request's Sec-WebSocket-Protocol. Without it no Sec-WebSocket-Protocol was sent.
 *     (Its first version, commit e3d12bb, announced "raw, <alias>" or "LAppS, <alias>".)
 *   - there were no origin checks.
 * What we do:
 *   - extra headers are validated when set (a token name that is not the handshake's
 *     own, a value of visible ASCII, SP and HTAB), so no configuration can inject a
 *     header, and they follow the handshake's own headers in the order they were added;
 *   - proto_alias is the subprotocol name the service answers to: it is announced when
 *     the client offered it (exact, case-sensitive, in any Sec-WebSocket-Protocol
 *     line), and otherwise no Sec-WebSocket-Protocol is sent. Announcing a protocol the
 *     client did not offer makes an RFC 6455 client fail the connection (§4.1; browsers
 *     do), so LAppS's unconditional header only ever worked with clients that offered
 *     the alias or ignored the header, and both still work. Requests are never refused
 *     for their Sec-WebSocket-Protocol, as in LAppS;
 *   - origins: once any is set, a request whose Origin is absent or not listed gets
 *     403, before a place is taken, before any hand-over and before the 101.
 * Every list is bounded (64 origins, 32 headers, a 101 of at most 4 KiB), so a
 * handshake costs a fixed buffer and at most 64 short compares. */
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

/* The options of a registered service are read by the workers without locks: they may
 * change only while the server has not started. */
static int
check_writable(const lapps_service *svc)
{
    if (!svc)
        return LAPPS_ERR_INVAL;
    if (svc->owner && (atomic_load(&svc->owner->state) != SRV_NEW || svc->owner->workers))
        return LAPPS_ERR_STATE;
    return 0;
}

static unsigned
lower(unsigned c)
{
    return c - 'A' < 26u ? c + 32 : c;
}

static bool
ieq_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

/* An Origin as browsers serialise it (RFC 6454 §6.2): "null", or scheme "://" host with
 * an optional ":" port — no path, query, fragment or userinfo, so a configured
 * "https://example.com/" (which no browser sends) is refused here rather than never
 * matching. Visible ASCII only (browsers send IDNs in punycode). */
static bool
origin_valid(const char *o)
{
    size_t n = strlen(o);
    if (n == 0 || n > LAPPS__SVC_MAX_ORIGIN_LEN)
        return false;
    if (strcmp(o, "null") == 0)
        return true;
    const char *sep = strstr(o, "://");
    if (!sep || sep == o || lower((unsigned char)o[0]) - 'a' >= 26u)
        return false;
    for (const char *p = o; p < sep; p++) {
        unsigned c = (unsigned char)*p;
        if (!(lower(c) - 'a' < 26u || c - '0' < 10u || c == '+' || c == '-' || c == '.'))
            return false;
    }
    const char *h = sep + 3;
    if (!*h)
        return false;
    for (; *h; h++) {
        unsigned char c = (unsigned char)*h;
        if (c <= 0x20 || c >= 0x7F || strchr("/?#@,", c))
            return false;
    }
    return true;
}

LAPPS_EXPORT int
lapps_service_add_origin(lapps_service *svc, const char *origin)
{
    int rv = check_writable(svc);
    if (rv != 0)
        return rv;
    if (!origin || !origin_valid(origin))
        return LAPPS_ERR_INVAL;
    struct lapps__svc_hs *hs = &svc->hs;
    size_t n = strlen(origin);
    for (unsigned i = 0; i < hs->n_origins; i++)
        if (strlen(hs->origins[i]) == n && ieq_n(hs->origins[i], origin, n))
            return 0; /* already allowed */
    if (hs->n_origins == LAPPS__SVC_MAX_ORIGINS)
        return LAPPS_ERR_NOSPACE;
    char **list = realloc(hs->origins, (hs->n_origins + 1) * sizeof *list);
    if (!list)
        return LAPPS_ERR_NOMEM;
    hs->origins = list;
    if (!(list[hs->n_origins] = strdup(origin)))
        return LAPPS_ERR_NOMEM;
    hs->n_origins++;
    return 0;
}

LAPPS_EXPORT int
lapps_service_add_header(lapps_service *svc, const char *name, const char *value)
{
    int rv = check_writable(svc);
    if (rv != 0)
        return rv;
    if (!lapps__hs_extra_valid(name, value))
        return LAPPS_ERR_INVAL;
    struct lapps__svc_hs *hs = &svc->hs;
    if (hs->n_headers == LAPPS__SVC_MAX_HEADERS)
        return LAPPS_ERR_NOSPACE;
    struct lapps__hs_extra *list = realloc(hs->headers, (hs->n_headers + 1) * sizeof *list);
    if (!list)
        return LAPPS_ERR_NOMEM;
    hs->headers = list;
    /* Checked with the new header in place; it only counts once n_headers says so. */
    list[hs->n_headers] = (struct lapps__hs_extra){name, value};
    if (lapps__hs_response_101_len(hs->proto_alias, list, hs->n_headers + 1) >
        LAPPS__HS_MAX_RESPONSE)
        return LAPPS_ERR_NOSPACE;
    size_t nl = strlen(name), vl = strlen(value);
    char *copy = malloc(nl + 1 + vl + 1);
    if (!copy)
        return LAPPS_ERR_NOMEM;
    memcpy(copy, name, nl + 1);
    memcpy(copy + nl + 1, value, vl + 1);
    list[hs->n_headers++] = (struct lapps__hs_extra){copy, copy + nl + 1};
    return 0;
}

LAPPS_EXPORT int
lapps_service_set_proto_alias(lapps_service *svc, const char *alias)
{
    int rv = check_writable(svc);
    if (rv != 0)
        return rv;
    struct lapps__svc_hs *hs = &svc->hs;
    char *copy = NULL;
    if (alias) {
        if (!lapps__hs_protocol_valid(alias))
            return LAPPS_ERR_INVAL;
        if (lapps__hs_response_101_len(alias, hs->headers, hs->n_headers) > LAPPS__HS_MAX_RESPONSE)
            return LAPPS_ERR_NOSPACE;
        if (!(copy = strdup(alias)))
            return LAPPS_ERR_NOMEM;
    }
    free(hs->proto_alias);
    hs->proto_alias = copy;
    return 0;
}

void
lapps__svc_hs_free(struct lapps__svc_hs *hs)
{
    for (unsigned i = 0; i < hs->n_origins; i++)
        free(hs->origins[i]);
    free(hs->origins);
    for (unsigned i = 0; i < hs->n_headers; i++)
        free((char *)hs->headers[i].name); /* the value shares its allocation */
    free(hs->headers);
    free(hs->proto_alias);
    memset(hs, 0, sizeof *hs);
}

int
lapps__svc_hs_copy(struct lapps__svc_hs *dst, const struct lapps__svc_hs *src)
{
    if (src->proto_alias && !(dst->proto_alias = strdup(src->proto_alias)))
        return LAPPS_ERR_NOMEM;
    if (src->n_origins) {
        if (!(dst->origins = calloc(src->n_origins, sizeof *dst->origins)))
            return LAPPS_ERR_NOMEM;
        for (; dst->n_origins < src->n_origins; dst->n_origins++)
            if (!(dst->origins[dst->n_origins] = strdup(src->origins[dst->n_origins])))
                return LAPPS_ERR_NOMEM;
    }
    if (src->n_headers) {
        if (!(dst->headers = calloc(src->n_headers, sizeof *dst->headers)))
            return LAPPS_ERR_NOMEM;
        for (; dst->n_headers < src->n_headers; dst->n_headers++) {
            const struct lapps__hs_extra *h = &src->headers[dst->n_headers];
            size_t nl = strlen(h->name), vl = strlen(h->value);
            char *copy = malloc(nl + 1 + vl + 1);
            if (!copy)
                return LAPPS_ERR_NOMEM;
            memcpy(copy, h->name, nl + 1);
            memcpy(copy + nl + 1, h->value, vl + 1);
            dst->headers[dst->n_headers] = (struct lapps__hs_extra){copy, copy + nl + 1};
        }
    }
    return 0;
}

bool
lapps__svc_origin_allowed(const struct lapps_service *s, const struct lapps__str *origin)
{
    const struct lapps__svc_hs *hs = &s->hs;
    if (hs->n_origins == 0)
        return true;
    if (origin->len == 0)
        return false; /* no Origin (or an empty one): refused once the list is set */
    for (unsigned i = 0; i < hs->n_origins; i++)
        if (strlen(hs->origins[i]) == origin->len && ieq_n(hs->origins[i], origin->p, origin->len))
            return true;
    return false;
}

lapps_ssize
lapps__svc_response_101(const struct lapps_service *s, const struct lapps__hs_request *req,
                        char *out, size_t cap)
{
    const char *protocol = NULL;
    struct lapps__str chosen;
    /* The alias is the one protocol the service accepts (see the top of this file). */
    if (s->hs.proto_alias &&
        lapps__hs_select_protocol(req, (const char *const *)&s->hs.proto_alias, 1, NULL, &chosen))
        protocol = s->hs.proto_alias;
    return lapps__hs_response_101(out, cap, &req->key, protocol, s->hs.headers, s->hs.n_headers);
}
