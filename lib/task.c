/* task.c — standalone services (include/lapps/task.h): threads beside the workers that
 * start after them and are asked to stop with them.
 *
 * A stop sets one flag per server and wakes every lapps_task_sleep() through one
 * condition variable. Joining waits for each thread up to the close timeout; a thread
 * that is still running then is detached; once the server is freed, its service's
 * memory (which the thread may still read) is freed by the last such thread to return.
 * (pthread_timedjoin_np: the build defines _GNU_SOURCE.) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lapps/task.h>

#include "net/net.h"

struct lapps_task {
    struct lapps__taskset *set;
    unsigned instance;
    pthread_t thread;
    bool running;  /* created and not yet joined */
    bool finished; /* fn returned (under set->lock) */
    bool detached; /* outlived the stop (under set->lock) */
};

struct lapps__taskset {
    struct lapps_server *srv;
    char *name;
    unsigned n;
    lapps_task_fn fn;
    void *user_data;
    lapps_cleanup_fn cleanup;
    atomic_bool stop;     /* the server's stop, here too: a detached thread may read it */
    pthread_mutex_t lock; /* finished, detached, left, orphaned */
    unsigned left;        /* threads that outlived the stop and still run */
    bool orphaned;        /* the server is gone: the last of them frees the set */
    struct lapps_task tasks[];
};

static void
set_free(struct lapps__taskset *set)
{
    if (set->cleanup)
        set->cleanup(set->user_data);
    pthread_mutex_destroy(&set->lock);
    free(set->name);
    free(set);
}

/* The CLOCK_REALTIME time @p ms from now (what pthread's timed waits take). */
static struct timespec
deadline_after(uint32_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

LAPPS_EXPORT int
lapps_task_register(lapps_server *srv, const char *name, unsigned instances, lapps_task_fn fn,
                    void *user_data, lapps_cleanup_fn cleanup)
{
    if (!srv || !name || !fn)
        return LAPPS_ERR_INVAL;
    if (atomic_load(&srv->state) != SRV_NEW)
        return LAPPS_ERR_STATE;
    unsigned n = instances ? instances : 1;
    struct lapps__taskset *set = calloc(1, sizeof *set + n * sizeof(struct lapps_task));
    struct lapps__taskset **list =
        set ? realloc(srv->tasksets, (srv->n_tasksets + 1) * sizeof *list) : NULL;
    if (!set || !list || !(set->name = strdup(name))) {
        free(set);
        if (list)
            srv->tasksets = list;
        return LAPPS_ERR_NOMEM;
    }
    srv->tasksets = list;
    pthread_mutex_init(&set->lock, NULL);
    set->srv = srv;
    set->n = n;
    set->fn = fn;
    set->user_data = user_data;
    set->cleanup = cleanup;
    for (unsigned i = 0; i < n; i++) {
        set->tasks[i].set = set;
        set->tasks[i].instance = i;
    }
    srv->tasksets[srv->n_tasksets++] = set;
    return 0;
}

static void *
task_main(void *arg)
{
    struct lapps_task *t = arg;
    struct lapps__taskset *set = t->set;
    set->fn(t, set->user_data);
    pthread_mutex_lock(&set->lock);
    t->finished = true;
    bool last = t->detached && --set->left == 0 && set->orphaned;
    pthread_mutex_unlock(&set->lock);
    if (last) /* the server is gone: this thread was the set's last user */
        set_free(set);
    return NULL;
}

int
lapps__tasks_start(struct lapps_server *srv)
{
    for (size_t s = 0; s < srv->n_tasksets; s++) {
        struct lapps__taskset *set = srv->tasksets[s];
        for (unsigned i = 0; i < set->n; i++) {
            int e = pthread_create(&set->tasks[i].thread, NULL, task_main, &set->tasks[i]);
            if (e != 0) {
                lapps_log(srv, LAPPS_LOG_ERROR, "standalone service %s: no thread: %s", set->name,
                          strerror(e));
                return -e;
            }
            set->tasks[i].running = true;
        }
    }
    return 0;
}

void
lapps__tasks_stop(struct lapps_server *srv)
{
    pthread_mutex_lock(&srv->task_lock);
    for (size_t s = 0; s < srv->n_tasksets; s++)
        atomic_store(&srv->tasksets[s]->stop, true);
    atomic_store(&srv->tasks_stop, true);
    pthread_cond_broadcast(&srv->task_cond);
    pthread_mutex_unlock(&srv->task_lock);
}

void
lapps__tasks_join(struct lapps_server *srv)
{
    uint32_t ms = srv->opts.close_ms;
    struct timespec deadline = deadline_after(ms);
    for (size_t s = 0; s < srv->n_tasksets; s++) {
        struct lapps__taskset *set = srv->tasksets[s];
        for (unsigned i = 0; i < set->n; i++) {
            struct lapps_task *t = &set->tasks[i];
            if (!t->running)
                continue;
            t->running = false;
            if (pthread_timedjoin_np(t->thread, NULL, &deadline) != ETIMEDOUT)
                continue;
            pthread_mutex_lock(&set->lock);
            bool finished = t->finished; /* it may have returned just now */
            if (!finished) {
                t->detached = true;
                set->left++;
            }
            pthread_mutex_unlock(&set->lock);
            if (finished) {
                pthread_join(t->thread, NULL);
                continue;
            }
            lapps_log(srv, LAPPS_LOG_ERROR,
                      "standalone service %s, instance %u: still running %u ms after the "
                      "stop; left running, detached",
                      set->name, i, (unsigned)ms);
            pthread_detach(t->thread);
        }
    }
}

void
lapps__tasks_free(struct lapps_server *srv)
{
    for (size_t s = 0; s < srv->n_tasksets; s++) {
        struct lapps__taskset *set = srv->tasksets[s];
        /* Threads still running free the set when the last of them returns; until
         * this point none may, since the server still reads the set. */
        pthread_mutex_lock(&set->lock);
        bool running = set->left > 0;
        set->orphaned = running;
        pthread_mutex_unlock(&set->lock);
        if (!running)
            set_free(set);
    }
    free(srv->tasksets);
    srv->tasksets = NULL;
    srv->n_tasksets = 0;
}

LAPPS_EXPORT int
lapps_task_must_stop(const lapps_task *task)
{
    return atomic_load(&task->set->stop);
}

LAPPS_EXPORT int
lapps_task_sleep(lapps_task *task, uint32_t ms)
{
    struct lapps_server *srv = task->set->srv;
    struct timespec deadline = deadline_after(ms);
    int rv;
    pthread_mutex_lock(&srv->task_lock);
    while (!atomic_load(&srv->tasks_stop) &&
           pthread_cond_timedwait(&srv->task_cond, &srv->task_lock, &deadline) != ETIMEDOUT)
        ;
    rv = atomic_load(&srv->tasks_stop) ? 1 : 0;
    pthread_mutex_unlock(&srv->task_lock);
    return rv;
}

LAPPS_EXPORT unsigned
lapps_task_instance(const lapps_task *task)
{
    return task->instance;
}

LAPPS_EXPORT const char *
lapps_task_name(const lapps_task *task)
{
    return task->set->name;
}

LAPPS_EXPORT lapps_server *
lapps_task_server(const lapps_task *task)
{
    return task->set->srv;
}
