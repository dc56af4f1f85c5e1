/* pam.h — the LAppS `pam_auth` module: checks a user name and password with PAM
 * (Linux-PAM, libpam), with LAppS's call form and results:
 *
 *   pam_auth:login(service, user, password)
 *     true when PAM accepts the login (authentication, then account checks), else
 *     false; false and a usage message for wrong arguments.
 *
 * A login blocks the calling thread for as long as PAM takes (modules such as pam_unix
 * wait about 2 s after a wrong password), so it is meant for isolated and standalone
 * services: on a worker it stalls every connection of that worker. */
#ifndef LAPPS_LUA_PAM_H
#define LAPPS_LUA_PAM_H

#include <lua.h>

struct pam_message;
struct pam_response;

/* Sets the global table `pam_auth` (and package.loaded.pam_auth) in @p L. The stack is
 * left as it was. Raises a Lua error when out of memory or when the global exists and
 * is not a table (call it protected). */
void lapps__lua_open_pam(lua_State *L);

/* Runs one PAM login: pam_start for @p service and @p user, pam_authenticate,
 * pam_acct_mgmt, and always pam_end. The conversation answers password prompts with
 * @p password and visible prompts with @p user. @p confdir: the directory of the PAM
 * service files, or NULL for the system's (/etc/pam.d); a directory needs Linux-PAM
 * 1.4 or later (pam_start_confdir), without which it gives PAM_SYSTEM_ERR. The strings
 * are only read during the call. Returns PAM_SUCCESS (0) when the login is accepted,
 * else the PAM error code of the step that refused it. Blocks (see above). */
int lapps__pam_login(const char *service, const char *user, const char *password,
                     const char *confdir);

/* The conversation function lapps__pam_login gives PAM, for tests. @p appdata is a
 * `const char *[2]`: the user, then the password. On success *resp is a calloc'd array
 * of @p n responses whose strings are malloc'd (PAM frees both); on failure (a message
 * style it does not know, out of memory) nothing is left allocated and *resp is NULL. */
int lapps__pam_conv(int n, const struct pam_message **msg, struct pam_response **resp,
                    void *appdata);

#endif /* LAPPS_LUA_PAM_H */
