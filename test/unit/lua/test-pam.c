/* Tests for lib/lua/pam.c: the LAppS `pam_auth` module. Logins run through the real
 * Linux-PAM with service files of the test's own, in a temporary directory
 * (pam_start_confdir), built from modules every Linux-PAM has: pam_permit, pam_deny,
 * pam_succeed_if, pam_echo (an informational message for the conversation) and pam_exec
 * with expose_authtok, which asks for the password through the conversation and hands
 * it to a script that compares it. The Lua module itself, which uses the system's
 * /etc/pam.d, is called through a real lua_State with a service that has no file there
 * (PAM then applies its "other" service: refused), and for its argument errors. No
 * test needs root or a real account. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <security/pam_appl.h>

#include "lua/modules.h"
#include "lua/pam.h"

#define PASSWORD "s3cret pass"

static char confdir[] = "/tmp/lapps-pam-XXXXXX";

static void
write_file(const char *name, const char *text, mode_t mode)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", confdir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(chmod(path, mode), 0);
}

static void
setup(void)
{
    char text[512];

    cr_assert_not_null(mkdtemp(confdir));
    write_file("permit", "auth required pam_permit.so\naccount required pam_permit.so\n", 0644);
    write_file("deny", "auth required pam_deny.so\naccount required pam_permit.so\n", 0644);
    /* What PAM uses for a service without a file of its own, as in /etc/pam.d. Without
     * it pam_start fails (PAM_ABORT), and Linux-PAM 1.5.2 then leaks 96 bytes of its
     * own, which ASan's leak check would blame on the test. */
    write_file("other", "auth required pam_deny.so\naccount required pam_deny.so\n", 0644);
    write_file("alice_only",
               "auth required pam_succeed_if.so user = alice\n"
               "account required pam_permit.so\n",
               0644);
    write_file("account_denied", "auth required pam_permit.so\naccount required pam_deny.so\n",
               0644);
    /* The script reads the password from stdin (pam_exec may end it with a NUL byte). */
    write_file("check_password.sh",
               "#!/bin/sh\n"
               "pw=$(tr -d '\\000')\n"
               "[ \"$pw\" = '" PASSWORD "' ]\n",
               0755);
    snprintf(text, sizeof text,
             "auth optional pam_echo.so hello from pam_echo\n"
             "auth required pam_exec.so expose_authtok %s/check_password.sh\n"
             "account required pam_permit.so\n",
             confdir);
    write_file("password", text, 0644);
}

static void
teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", confdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(pam, .init = setup, .fini = teardown);

static int
login(const char *service, const char *user, const char *password)
{
    return lapps__pam_login(service, user, password, confdir);
}

Test(pam, permit_accepts)
{
    cr_assert_eq(login("permit", "anyone", "anything"), PAM_SUCCESS);
}

Test(pam, deny_refuses)
{
    cr_assert_neq(login("deny", "anyone", "anything"), PAM_SUCCESS);
}

Test(pam, succeed_if_checks_the_user)
{
    cr_assert_eq(login("alice_only", "alice", "x"), PAM_SUCCESS);
    cr_assert_neq(login("alice_only", "bob", "x"), PAM_SUCCESS);
    cr_assert_neq(login("alice_only", "alice2", "x"), PAM_SUCCESS);
}

Test(pam, account_check_refuses_after_authentication)
{
    cr_assert_neq(login("account_denied", "anyone", "anything"), PAM_SUCCESS);
}

/* pam_exec asks for the password through the conversation (PAM_PROMPT_ECHO_OFF), after
 * pam_echo's PAM_TEXT_INFO; a refusal also sends a PAM_ERROR_MSG. */
Test(pam, conversation_answers_the_password)
{
    cr_assert_eq(login("password", "anyone", PASSWORD), PAM_SUCCESS);
    cr_assert_neq(login("password", "anyone", "wrong"), PAM_SUCCESS);
    cr_assert_neq(login("password", "anyone", PASSWORD "x"), PAM_SUCCESS);
}

Test(pam, service_without_a_file_is_refused)
{
    /* No file: PAM applies "other", which refuses. */
    cr_assert_neq(login("no_such_service", "anyone", "anything"), PAM_SUCCESS);
}

Test(pam, conversation_by_style)
{
    const char *creds[2] = {"the user", "the password"};
    const struct pam_message m[] = {
        {PAM_TEXT_INFO, "info"},
        {PAM_PROMPT_ECHO_ON, "login: "},
        {PAM_ERROR_MSG, "error"},
        {PAM_PROMPT_ECHO_OFF, "Password: "},
    };
    const struct pam_message *msgs[] = {&m[0], &m[1], &m[2], &m[3]};
    struct pam_response *r = NULL;

    cr_assert_eq(lapps__pam_conv(4, msgs, &r, creds), PAM_SUCCESS);
    cr_assert_not_null(r);
    cr_assert_null(r[0].resp);
    cr_assert_str_eq(r[1].resp, "the user");
    cr_assert_null(r[2].resp);
    cr_assert_str_eq(r[3].resp, "the password");
    cr_assert_neq((void *)r[3].resp, (void *)creds[1], "a copy, which PAM frees");
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(r[i].resp_retcode, 0);
        free(r[i].resp);
    }
    free(r);
}

/* An unknown style fails the whole conversation and leaves nothing allocated (ASan's
 * leak check). */
Test(pam, conversation_refuses_unknown_styles)
{
    const char *creds[2] = {"u", "p"};
    const struct pam_message m[] = {{PAM_PROMPT_ECHO_OFF, "Password: "}, {4242, "?"}};
    const struct pam_message *msgs[] = {&m[0], &m[1]};
    struct pam_response *r = (struct pam_response *)&r;

    cr_assert_eq(lapps__pam_conv(2, msgs, &r, creds), PAM_CONV_ERR);
    cr_assert_null(r);
    r = (struct pam_response *)&r;
    cr_assert_eq(lapps__pam_conv(0, msgs, &r, creds), PAM_CONV_ERR);
    cr_assert_null(r);
}

/* ---- the Lua module ---- */

static int
open_pam(lua_State *L)
{
    lapps__lua_preload_find("pam_auth")(L);
    return 0;
}

static lua_State *
new_state(void)
{
    lua_State *L = luaL_newstate();

    cr_assert_not_null(L);
    luaL_openlibs(L);
    cr_assert_eq(lua_cpcall(L, open_pam, NULL), 0, "%s", lua_tostring(L, -1));
    cr_assert_eq(lua_gettop(L), 0);
    return L;
}

static void
run(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) != 0)
        cr_assert_fail("Lua: %s", lua_tostring(L, -1));
}

Test(pam, preload_name)
{
    cr_assert_eq(lapps__lua_preload_find("pam_auth"), lapps__lua_open_pam);
    cr_assert_null(lapps__lua_preload_find("pam"));
}

/* The system's PAM (/etc/pam.d) with a service that has no file: "other" decides, which
 * refuses a user that does not exist. */
Test(pam, lua_login_without_config_is_refused, .timeout = 60)
{
    lua_State *L = new_state();

    run(L, "local function refused(...)\n"
           "  local n = select('#', ...)\n"
           "  assert(n == 1, 'results: ' .. n)\n"
           "  assert(select(1, ...) == false, 'not false')\n"
           "end\n"
           "refused(pam_auth:login('lapps-test-no-such-service', 'lapps-no-such-user', 'pw'))\n"
           "refused(pam_auth.login('lapps-test-no-such-service', 'lapps-no-such-user', 'pw'))\n"
           "assert(package.loaded.pam_auth == pam_auth)\n");
    lua_close(L);
}

Test(pam, lua_argument_errors)
{
    lua_State *L = new_state();

    run(L, "local function usage(ok, why, extra)\n"
           "  assert(ok == false, 'not false'); assert(extra == nil)\n"
           "  assert(type(why) == 'string' and why:find('^Usage: pam_auth:login'), tostring(why))\n"
           "end\n"
           "usage(pam_auth:login())\n"
           "usage(pam_auth:login('svc'))\n"
           "usage(pam_auth:login('svc', 'user'))\n"
           "usage(pam_auth:login('svc', 'user', 'pw', 'more'))\n"
           "usage(pam_auth:login(nil, 'user', 'pw'))\n"
           "usage(pam_auth:login('svc', nil, 'pw'))\n"
           "usage(pam_auth:login('svc', 'user', nil))\n"
           "usage(pam_auth:login('svc', {}, 'pw'))\n"
           "usage(pam_auth:login('svc', 'user', true))\n"
           "usage(pam_auth:login('', 'user', 'pw'))\n"
           "usage(pam_auth:login('svc', '', 'pw'))\n"
           "usage(pam_auth:login('svc', 'user', ''))\n"
           "usage(pam_auth:login('svc', 'us\\0er', 'pw'))\n"
           "usage(pam_auth.login({}, 'user', 'pw'))\n");
    lua_close(L);
}
