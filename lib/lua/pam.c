/* pam.c — the LAppS `pam_auth` module over Linux-PAM.
 *
 * pam_auth:login(service, user, password) starts PAM for that service and user,
 * authenticates, checks the account (pam_acct_mgmt: expired or locked accounts are
 * refused) and ends PAM whatever happened. It returns true when both steps succeed and
 * false otherwise, without a reason, as LAppS did (a PAM error says too much to a
 * client that guesses passwords). Wrong arguments return false and the usage message:
 * other than three arguments after self, or any of them nil, not a string (a number
 * counts, as lua_isstring allows) or empty — LAppS's checks.
 *
 * The conversation answers each password prompt (PAM_PROMPT_ECHO_OFF) with the
 * password and each visible prompt (PAM_PROMPT_ECHO_ON, which asks for a user name)
 * with the user, and takes informational and error messages without answering them.
 * Differences from LAppS, whose conversation answered exactly one message with the
 * password and refused more:
 *  - any number of messages is answered, each by its style, in a response array
 *    allocated per call as PAM requires (LAppS answered with the storage of a
 *    thread_local vector, which PAM modules free() as their own);
 *  - a style it does not know fails the conversation, with everything it allocated freed
 *    and password copies wiped first;
 *  - pam_end runs after every started login (LAppS skipped it when a step failed, and
 *    leaked the PAM handle each time);
 *  - pam_auth.login(service, user, password), with '.', works as well (LAppS answered
 *    it with the usage message).
 *
 * Blocking: PAM modules may sleep (pam_unix waits about 2 s after a failure) or ask
 * remote servers, so a login belongs in an isolated or standalone service.
 *
 * Build: lapps__pam_login's confdir needs pam_start_confdir (Linux-PAM 1.4,
 * LAPPS_HAVE_PAM_START_CONFDIR from meson); the Lua module always uses /etc/pam.d. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <security/pam_appl.h>

#include "lua/pam.h"

#define USAGE                                                                                      \
    "Usage: pam_auth:login(service, user, password) - three non-empty strings; returns true "      \
    "when PAM accepts the login, false when it does not, and false with this message when "        \
    "called otherwise"

/* Frees the first @p n responses' strings (wiping them: they may hold the password) and
 * the array. */
static void
free_responses(struct pam_response *r, int n)
{
    for (int i = 0; i < n; i++)
        if (r[i].resp) {
            explicit_bzero(r[i].resp, strlen(r[i].resp));
            free(r[i].resp);
        }
    free(r);
}

int
lapps__pam_conv(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata)
{
    const char *const *creds = appdata; /* user, password */
    struct pam_response *r;

    *resp = NULL;
    if (n <= 0 || n > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    if (!(r = calloc((size_t)n, sizeof *r)))
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        const char *answer;

        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
            answer = creds[1];
            break;
        case PAM_PROMPT_ECHO_ON:
            answer = creds[0];
            break;
        case PAM_ERROR_MSG:
        case PAM_TEXT_INFO:
            continue; /* nothing to answer: resp stays NULL */
        default:
            free_responses(r, n);
            return PAM_CONV_ERR;
        }
        /* PAM frees what we give it with free(): malloc'd copies, never our strings. */
        if (!(r[i].resp = strdup(answer))) {
            free_responses(r, n);
            return PAM_BUF_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

int
lapps__pam_login(const char *service, const char *user, const char *password, const char *confdir)
{
    const char *creds[2] = {user, password};
    const struct pam_conv conv = {lapps__pam_conv, (void *)creds};
    pam_handle_t *pamh = NULL;
    int rv;

#ifdef LAPPS_HAVE_PAM_START_CONFDIR
    rv = pam_start_confdir(service, user, &conv, confdir, &pamh);
#else
    if (confdir != NULL)
        return PAM_SYSTEM_ERR;
    rv = pam_start(service, user, &conv, &pamh);
#endif
    if (rv != PAM_SUCCESS) {
        /* Linux-PAM frees the handle itself when pam_start fails. */
        return rv;
    }
    rv = pam_authenticate(pamh, 0);
    if (rv == PAM_SUCCESS)
        rv = pam_acct_mgmt(pamh, 0);
    /* The outcome stands whatever pam_end says: it only releases the handle. */
    pam_end(pamh, rv);
    return rv;
}

/* pam_auth:login(service, user, password) or pam_auth.login(service, user, password). */
static int
pam_login(lua_State *L)
{
    int argc = lua_gettop(L), base;
    const char *args[3];

    /* Three arguments after self, as LAppS; or three with '.', when the first is not the
     * module table. */
    if (argc == 4)
        base = 2;
    else if (argc == 3 && !lua_istable(L, 1))
        base = 1;
    else
        goto usage;
    for (int i = 0; i < 3; i++) {
        size_t len;

        if (!lua_isstring(L, base + i))
            goto usage;
        args[i] = lua_tolstring(L, base + i, &len);
        /* Empty strings are refused (LAppS), and so are strings with a NUL inside: PAM
         * would read only up to it. */
        if (len == 0 || strlen(args[i]) != len)
            goto usage;
    }
    lua_pushboolean(L, lapps__pam_login(args[0], args[1], args[2], NULL) == PAM_SUCCESS);
    return 1;

usage:
    lua_pushboolean(L, 0);
    lua_pushliteral(L, USAGE);
    return 2;
}

void
lapps__lua_open_pam(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"login", pam_login}, {NULL, NULL}};

    luaL_register(L, "pam_auth", funcs);
    lua_pop(L, 1);
}
