/* admission.c — who may connect: the server's ACL into the options, and each service's
 * ACL, origins, extra 101 headers and proto alias onto its registered service. The
 * library checks the values again; its refusal is reported with the key path. */
#include <stdio.h>

#include <lapps/acl.h>
#include <lapps/error.h>

#include "config/config.h"

/* Builds a lapps_acl from what the file said. */
static int
make_acl(const struct cfg_acl *a, lapps_acl **out, const char *file, const char *key, char *err,
         size_t errlen)
{
    int rv = lapps_acl_new(out, a->deny ? LAPPS_ACL_DENY : LAPPS_ACL_ALLOW);
    for (size_t i = 0; rv == 0 && a->exclude && a->exclude[i]; i++)
        if ((rv = lapps_acl_add(*out, a->exclude[i])) == LAPPS_ERR_INVAL)
            snprintf(err, errlen,
                     "%s: %s.exclude[%zu]: expected an IPv4 or IPv6 address or CIDR prefix, "
                     "found \"%s\"",
                     file, key, i, a->exclude[i]);
    if (rv != 0) {
        lapps_acl_free(*out);
        *out = NULL;
    }
    return rv;
}

int
lapps__config_apply_acl(const struct lapps_config *cfg, lapps_opts *opts, char *err, size_t errlen)
{
    if (!cfg->acl.set)
        return 0;
    lapps_acl *acl;
    int rv = make_acl(&cfg->acl, &acl, cfg->ws_path, "acl", err, errlen);
    if (rv == 0)
        rv = lapps_opts_set_acl(opts, acl);
    lapps_acl_free(acl);
    return rv;
}

int
lapps__config_admission(const struct lapps_config *cfg, const struct cfg_service *s,
                        lapps_server *srv, char *err, size_t errlen)
{
    lapps_service *svc = lapps_server_service(srv, s->name);
    char key[300];
    if (!svc)
        return LAPPS_ERR_NOT_FOUND;
    int rv = 0;
    if (s->acl.set) {
        lapps_acl *acl;
        snprintf(key, sizeof key, "services.%s.acl", s->name);
        rv = make_acl(&s->acl, &acl, cfg->lapps_path, key, err, errlen);
        if (rv == 0)
            rv = lapps_service_set_acl(svc, acl);
        lapps_acl_free(acl);
    }
    for (size_t i = 0; rv == 0 && s->origins && s->origins[i]; i++)
        if ((rv = lapps_service_add_origin(svc, s->origins[i])) == LAPPS_ERR_INVAL)
            snprintf(err, errlen,
                     "%s: services.%s.origins[%zu]: expected an origin such as "
                     "\"https://example.org\", found \"%s\"",
                     cfg->lapps_path, s->name, i, s->origins[i]);
    for (size_t i = 0; rv == 0 && s->headers && s->headers[i]; i += 2)
        if ((rv = lapps_service_add_header(svc, s->headers[i], s->headers[i + 1])) ==
            LAPPS_ERR_INVAL)
            snprintf(err, errlen,
                     "%s: services.%s.extra_headers.%s: expected a header the "
                     "handshake does not own, with a value of visible characters, found \"%s\"",
                     cfg->lapps_path, s->name, s->headers[i], s->headers[i + 1]);
    if (rv == 0 && s->proto_alias &&
        (rv = lapps_service_set_proto_alias(svc, s->proto_alias)) == LAPPS_ERR_INVAL)
        snprintf(err, errlen,
                 "%s: services.%s.proto_alias: expected a protocol token, found \"%s\"",
                 cfg->lapps_path, s->name, s->proto_alias);
    return rv;
}
