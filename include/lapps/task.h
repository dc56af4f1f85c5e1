/* liblapps — standalone services: code that runs on threads of its own beside the
 * workers, with no connections of its own (a time feed, a queue consumer, a client of
 * another server). They start with the server and are asked to stop with it. */
#ifndef LAPPS_TASK_H
#define LAPPS_TASK_H

#include <lapps/common.h>
#include <lapps/server.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lapps_task lapps_task;

/** The body of one instance of a standalone service. It runs on a thread of its own from
 *  lapps_server_start() until it returns, and should return soon after
 *  lapps_task_must_stop() turns true (lapps_task_sleep() wakes up then). */
typedef void (*lapps_task_fn)(lapps_task *task, void *user_data);

/** Adds a standalone service of @p instances threads (at least one) running @p fn, before
 *  lapps_server_start(). @p cleanup (may be NULL) is called once with @p user_data when
 *  the server is freed. A graceful stop asks every instance to stop and waits for it up
 *  to the close timeout (lapps_opts_set_timeouts()); one that has not returned by then
 *  is logged and left running, detached: of the server it may then only call
 *  lapps_task_must_stop() (which stays true) on its own task.
 *  @return 0, LAPPS_ERR_INVAL, LAPPS_ERR_STATE (started) or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_task_register(lapps_server *srv, const char *name, unsigned instances,
                                     lapps_task_fn fn, void *user_data, lapps_cleanup_fn cleanup);

/** Non-zero once the server is stopping: the task should return. Any thread. */
LAPPS_EXPORT int lapps_task_must_stop(const lapps_task *task);

/** Sleeps up to @p ms milliseconds, less when the server starts stopping.
 *  @return 0 after the full time, 1 when woken because the task must stop. */
LAPPS_EXPORT int lapps_task_sleep(lapps_task *task, uint32_t ms);

/** Which instance this is, from 0. */
LAPPS_EXPORT unsigned lapps_task_instance(const lapps_task *task);

/** The name given to lapps_task_register(). */
LAPPS_EXPORT const char *lapps_task_name(const lapps_task *task);

/** The server the task belongs to (for lapps_send(), lapps_log(), ...). */
LAPPS_EXPORT lapps_server *lapps_task_server(const lapps_task *task);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_TASK_H */
