/* host.c — lapps_lua_service_register(): a Lua module becomes a liblapps service whose
 * callbacks call into one lua_State per instance.
 *
 * On a worker, an instance's state is created in on_start on that worker's thread and
 * closed in on_shutdown there, so every call into it comes from one thread. Isolated
 * services run their states on threads of their own (isolated.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/host.h"
#include "lua/isolated.h"
#include "lua/modules.h"

/* ---- instances on workers ---- */

static int
on_start(lapps_instance *inst, void *ud)
{
    struct lapps__lua_svc *svc = ud;
    struct lapps__lua_inst *li = calloc(1, sizeof *li);
    char err[512];
    if (!li)
        return LAPPS_ERR_NOMEM;
    li->svc = svc;
    li->inst = inst;
    int rv = lapps__lua_inst_open(li, err, sizeof err);
    if (rv != 0) {
        lapps_log(svc->srv, LAPPS_LOG_ERROR, "%s", err);
        free(li);
        return rv;
    }
    struct lapps__lua_call k = {.li = li, .cb = CB_ON_START};
    if (lapps__lua_call(&k) != 0) {
        lapps__lua_inst_close(li);
        free(li);
        return LAPPS_ERR_INVAL;
    }
    lapps_instance_set_data(inst, li);
    return 0;
}

static void
on_shutdown(lapps_instance *inst, void *ud)
{
    (void)ud;
    struct lapps__lua_inst *li = lapps_instance_get_data(inst);
    struct lapps__lua_call k = {.li = li, .cb = CB_ON_SHUTDOWN};
    lapps__lua_call(&k);
    lapps__lua_inst_close(li);
    free(li);
    lapps_instance_set_data(inst, NULL);
}

void
lapps__lua_release(lapps_request *req, const char *why)
{
    /* A deferred answer that cannot be posted now (the worker's inbox is full) would
     * keep its handle: give the request up instead of leaking it. */
    if (lapps_reply_error(req, -32603, why, NULL) == LAPPS_ERR_AGAIN)
        lapps_request_cancel(req);
}

void
lapps__lua_log_not_true(struct lapps__lua_inst *li)
{
    lapps_log(li->svc->srv, LAPPS_LOG_WARN,
              "%s.onMessage returned something else than true: closing the connection",
              li->svc->name);
}

static struct lapps__lua_inst *
inst_of(lapps_conn *c)
{
    return lapps_instance_get_data(lapps_conn_instance(c));
}

/* Raw: onMessage(handler, opcode, string) must return true; an error or anything else
 * closes this connection with 1011 (LAppS stopped the whole instance). */
static int
on_message(lapps_conn *c, const lapps_message *msg, void *ud)
{
    (void)ud;
    struct lapps__lua_call k = {
        .li = inst_of(c),
        .cb = CB_ON_MESSAGE_RAW,
        .conn_id = lapps_conn_id(c),
        .kind = msg->opcode,
        .data = msg->data,
        .len = msg->len,
    };
    if (lapps__lua_call(&k) != 0)
        return LAPPS_ERR_INVAL;
    if (!k.returned_true) {
        lapps__lua_log_not_true(k.li);
        return LAPPS_ERR_INVAL;
    }
    return 0;
}

int
lapps__lua_message_type(const lapps_value *message, uint64_t cid)
{
    bool params = lapps_value_get(message, "params") != NULL;
    return cid ? (params ? 2 : 1) : (params ? 4 : 3);
}

void
lapps__lua_after_request(struct lapps__lua_inst *li, int rv, bool returned_true, bool deferred)
{
    lapps_request *open = li->cur_req && !li->cur_answered ? li->cur_req : NULL;
    li->cur_req = NULL;
    if (open && rv != 0) {
        /* A failed callback answers the request it was handling, and the connection
         * and the instance go on. */
        lapps__lua_release(open, "internal error: the service failed");
        return;
    }
    if (open && returned_true && li->n_pending >= LAPPS__LUA_MAX_PENDING) {
        /* Its answer would wait behind the unanswered ones: close the connection that
         * went over, and answer only to release the request. */
        lapps_close(li->svc->srv, li->cur_conn_id, 1008, "too many unanswered requests");
        lapps__lua_release(open, "internal error: too many unanswered requests");
        return;
    }
    if (open && returned_true) {
        /* Not answered yet: a later ws:send on this connection will answer it. */
        lapps_request *h = deferred ? open : lapps_request_defer(open);
        struct lapps__lua_pending *p = h ? malloc(sizeof *p) : NULL;
        if (!p) {
            if (h)
                lapps__lua_release(h, "internal error: out of memory");
            return; /* without a handle, the protocol layer answers -32603 */
        }
        p->next = NULL;
        p->conn_id = li->cur_conn_id;
        p->req = h;
        *li->pending_tail = p;
        li->pending_tail = &p->next;
        li->n_pending++;
        return;
    }
    if (open && deferred) /* the connection closes with 1011: free the handle */
        lapps__lua_release(open, "internal error: the service failed");
}

static void
on_request(lapps_conn *c, lapps_request *req, void *ud)
{
    (void)ud;
    struct lapps__lua_inst *li = inst_of(c);
    const lapps_value *message = lapps_request_message(req);
    uint64_t cid = lapps_request_cid(req);
    struct lapps__lua_call k = {
        .li = li,
        .cb = CB_ON_MESSAGE_LAPPS,
        .conn_id = lapps_conn_id(c),
        .kind = lapps__lua_message_type(message, cid),
        .message = message,
    };
    li->cur_req = cid ? NULL : req;
    li->cur_conn_id = k.conn_id;
    li->cur_answered = false;
    int rv = lapps__lua_call(&k);
    lapps__lua_after_request(li, rv, k.returned_true, false);
    if (rv == 0 && !k.returned_true) {
        lapps__lua_log_not_true(li);
        lapps_conn_close(c, 1011, NULL);
    }
}

/* onDisconnect fires once for every connection, however it ended. */
static void
on_close(lapps_conn *c, const lapps_close_info *info, void *ud)
{
    (void)info;
    (void)ud;
    struct lapps__lua_inst *li = inst_of(c);
    if (!li)
        return;
    struct lapps__lua_call k = {.li = li, .cb = CB_ON_DISCONNECT, .conn_id = lapps_conn_id(c)};
    lapps__lua_call(&k);
    lapps__lua_drop_pending(li, k.conn_id, false);
}

/* ---- standalone services ---- */

/* One instance of a standalone service, on its task thread: init(), then run() until it
 * returns (it should when must_stop() turns true). */
static void
task_main(lapps_task *task, void *ud)
{
    struct lapps__lua_svc *svc = ud;
    struct lapps__lua_inst li = {.svc = svc, .task = task};
    char err[512];
    if (lapps__lua_inst_open(&li, err, sizeof err) != 0) {
        lapps_log(svc->srv, LAPPS_LOG_ERROR, "%s", err);
        return;
    }
    struct lapps__lua_call k = {.li = &li, .cb = CB_INIT};
    if (lapps__lua_call(&k) == 0) {
        k.cb = CB_RUN;
        lapps__lua_call(&k);
    }
    lapps__lua_inst_close(&li);
}

/* ---- registration ---- */

static void
svc_free(void *ud)
{
    struct lapps__lua_svc *svc = ud;
    if (!svc)
        return;
    lapps__lua_iso_free(svc->iso);
    free(svc->name);
    free(svc->target);
    free(svc->package_path);
    if (svc->preload)
        for (char **p = svc->preload; *p; p++)
            free(*p);
    free(svc->preload);
    free(svc);
}

static bool
valid_name(const char *s)
{
    if (!s || !*s || isdigit((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* "<dir>/?.lua;" for each directory, then Lua's own default path. */
static char *
package_path(const char *const *dirs)
{
    static const char tail[] = "./?.lua;/usr/local/share/lua/5.1/?.lua;"
                               "/usr/local/share/lua/5.1/?/init.lua;/usr/share/lua/5.1/?.lua;"
                               "/usr/share/lua/5.1/?/init.lua";
    size_t len = sizeof tail;
    for (const char *const *d = dirs; d && *d; d++)
        len += strlen(*d) + 8;
    char *p = malloc(len), *w = p;
    if (!p)
        return NULL;
    for (const char *const *d = dirs; d && *d; d++)
        w += sprintf(w, "%s/?.lua;", *d);
    memcpy(w, tail, sizeof tail);
    return p;
}

static int
copy_preload(struct lapps__lua_svc *svc, const char *const *names)
{
    size_t n = 0;
    for (const char *const *p = names; p && *p; p++)
        n++;
    svc->preload = calloc(n + 1, sizeof *svc->preload);
    if (!svc->preload)
        return LAPPS_ERR_NOMEM;
    size_t k = 0;
    for (const char *const *p = names; p && *p; p++) {
        if (!lapps__lua_preload_find(*p)) {
            lapps_log(svc->srv, LAPPS_LOG_WARN,
                      "service %s: preload \"%s\": no such module "
                      "here, ignored",
                      svc->name, *p);
            continue;
        }
        if (!(svc->preload[k++] = strdup(*p)))
            return LAPPS_ERR_NOMEM;
    }
    return 0;
}

static struct lapps__lua_svc *
svc_new(lapps_server *srv, const lapps_lua_service *d, int *rv)
{
    struct lapps__lua_svc *svc = calloc(1, sizeof *svc);
    *rv = LAPPS_ERR_NOMEM;
    if (!svc)
        return NULL;
    svc->srv = srv;
    svc->protocol = d->protocol;
    svc->instances = d->instances;
    svc->isolated = d->isolated != 0;
    svc->standalone = d->standalone != 0;
    svc->budget = d->instruction_budget;
    svc->name = strdup(d->name);
    svc->target = strdup(d->target ? d->target : "");
    svc->package_path = package_path(d->path);
    if (!svc->name || !svc->target || !svc->package_path ||
        (*rv = copy_preload(svc, d->preload)) != 0) {
        svc_free(svc);
        return NULL;
    }
    return svc;
}

/* Loads the module once in a scratch state, so a broken module fails registration
 * rather than the server's start. */
static int
check_module(struct lapps__lua_svc *svc, char *err, size_t errlen)
{
    struct lapps__lua_inst li = {.svc = svc};
    int rv = lapps__lua_inst_open(&li, err, errlen);
    if (rv == 0)
        lapps__lua_inst_close(&li);
    return rv;
}

static int
register_service(lapps_server *srv, struct lapps__lua_svc *svc, const lapps_lua_service *d)
{
    lapps_service *s;
    int rv = lapps_service_new(&s, svc->name, svc->target);
    if (rv != 0)
        return rv;
    lapps_service_set_protocol(s, svc->protocol);
    lapps_service_set_max_message_size(s, d->max_message_size);
    lapps_service_set_user_data(s, svc);
    lapps_service_set_cleanup(s, svc_free);
    if (svc->isolated) {
        rv = lapps__lua_iso_setup(svc, s);
    } else {
        lapps_service_set_instances(s, svc->instances);
        lapps_service_set_callbacks(s, on_start, NULL, on_message, NULL, on_close, on_shutdown);
        if (svc->protocol == LAPPS_PROTO_LAPPS)
            lapps_service_set_on_request(s, on_request);
    }
    if (rv == 0)
        rv = lapps_service_register(srv, s);
    lapps_service_free(s);
    return rv;
}

LAPPS_EXPORT int
lapps_lua_service_register(lapps_server *srv, const lapps_lua_service *d, char *err, size_t errlen)
{
    char local[8];
    if (!err || errlen == 0) {
        err = local;
        errlen = sizeof local;
    }
    err[0] = '\0';
    if (!srv || !d || d->size < sizeof *d || !valid_name(d->name) ||
        (!d->standalone && (!d->target || d->target[0] != '/')) ||
        (d->protocol != LAPPS_PROTO_RAW && d->protocol != LAPPS_PROTO_LAPPS)) {
        snprintf(err, errlen,
                 "a Lua service needs a name (letters, digits, '_'), a protocol, "
                 "and unless it is standalone a target starting with '/'");
        return LAPPS_ERR_INVAL;
    }
    int rv;
    struct lapps__lua_svc *svc = svc_new(srv, d, &rv);
    if (!svc) {
        snprintf(err, errlen, "service %s: out of memory", d->name);
        return rv;
    }
    rv = check_module(svc, err, errlen);
    if (rv == 0 && svc->standalone) {
        rv = lapps_task_register(srv, svc->name, svc->instances, task_main, svc, svc_free);
        if (rv != 0)
            snprintf(err, errlen, "service %s: %s", svc->name, lapps_strerror(rv));
    } else if (rv == 0) {
        rv = register_service(srv, svc, d);
        if (rv != 0)
            snprintf(err, errlen, "service %s: %s%s", svc->name, lapps_strerror(rv),
                     rv == LAPPS_ERR_INVAL ? " (is the target already taken?)" : "");
    }
    if (rv != 0)
        svc_free(svc);
    return rv;
}
