/* harness.h — the API test harness: an in-process server with a counting test service,
 * client programs run as child processes with a hard deadline, and an fd counter.
 *
 * The test service (target /echo) echoes every message with its opcode. Text messages
 * that start with "!cmd:" are commands instead (see command() in harness.c). Its
 * callbacks count everything with atomics and check that each runs on the thread of
 * the worker that holds the connection. */
#ifndef LAPPS_TEST_API_HARNESS_H
#define LAPPS_TEST_API_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lapps/lapps.h>

#define API_MAX_WORKERS 8
#define API_MAX_IDS     4096

/* What the service does with a message. */
enum api_mode {
    API_ECHO = 0,  /* send it back (and obey "!cmd:" text) */
    API_FLOOD = 1, /* answer each message with flood_size bytes, recording the peak of
                      lapps_conn_buffered() */
};

struct api_config {
    unsigned workers;                                  /* 0: embedded mode */
    unsigned instances;                                /* lapps_service_set_instances (0: all) */
    size_t max_connections;                            /* 0: the default */
    size_t max_message;                                /* server-wide; 0: the default */
    size_t max_outbound;                               /* 0: the default */
    size_t max_handshake;                              /* 0: the default */
    uint32_t handshake_ms, close_ms, idle_ms, ping_ms; /* 0 for the first two: default */
    enum api_mode mode;
    size_t flood_size;
    /* A wss:// listener beside the ws:// one when tls_cert is set (listener 1; the plain
     * one stays listener 0). The files are read by lapps_server_new(). */
    const char *tls_cert, *tls_key;
    const char *tls_client_ca; /* with tls_verify */
    lapps_tls_verify tls_verify;
    lapps_tls_version tls_min_version;         /* 0: the default (1.2) */
    const char *tls_ciphers12, *tls_ciphers13; /* NULL: the defaults */
    /* A ws:// listener on ::1 as well (the last listener: v6_port). */
    bool ipv6;
    /* ACLs: the server's (lapps_opts_set_acl) and the /echo service's; copied by
     * api_server_start(), so they may be freed once it returns. */
    const lapps_acl *acl, *service_acl;
};

struct api_counters {
    atomic_int starts, shutdowns;
    atomic_int opens, closes, messages, drains;
    atomic_int current, peak;  /* connections open now, and the most at once */
    atomic_int live_conn_data; /* per-connection records allocated and not freed */
    atomic_int reasons[8];     /* on_close by lapps_close_reason */
    atomic_int codes[5001];    /* on_close by code (5000: any larger) */
    atomic_int last_reason, last_code;
    atomic_int per_worker[API_MAX_WORKERS]; /* on_open by lapps_conn_worker() */
    atomic_int wrong_thread;                /* a callback ran on another thread than its worker's */
    atomic_int bad_close;                   /* on_close without on_open, or twice */
    atomic_int send_errors, limit_errors;
    atomic_size_t max_buffered;        /* flood mode: peak lapps_conn_buffered() */
    atomic_int query_seen;             /* on_open saw a non-empty query string */
    atomic_int tls_opens, plain_opens; /* on_open by lapps_conn_is_tls() */
    atomic_int log_errors;             /* log lines at LAPPS_LOG_ERROR */
};

struct api_server {
    lapps_server *srv;
    uint16_t port;
    char port_str[8];
    char uri[64];      /* ws://127.0.0.1:PORT/echo */
    uint16_t tls_port; /* the wss:// listener's (0: none) */
    char tls_port_str[8];
    char tls_uri[64]; /* wss://127.0.0.1:TLS_PORT/echo */
    uint16_t v6_port; /* the ws:// listener on ::1 (cfg.ipv6; 0: none) */
    char v6_port_str[8];
    struct api_config cfg;
    struct api_counters c;
    pthread_t worker_thread[API_MAX_WORKERS]; /* learnt in on_start */
    atomic_bool worker_known[API_MAX_WORKERS];
    pthread_mutex_t ids_lock;
    uint64_t ids[API_MAX_IDS]; /* ids of connections, in the order of on_open */
    size_t n_ids;
    pthread_t runner; /* lapps_server_run() thread, when api_server_run_async() used */
    atomic_bool run_returned;
    int run_rv;
    bool has_runner;
    pthread_mutex_t log_lock;
    char errlog[4096]; /* the first error log lines, one per line */
    size_t errlog_len;
};

/* Creates and starts a server on 127.0.0.1 (and ::1), port 0, with the test service. Fails the
 * test on any error. With cfg->workers == 0 the server is embedded: the caller
 * dispatches (api_embedded_pump). */
void api_server_start(struct api_server *s, const struct api_config *cfg);
/* Same, but runs lapps_server_run() on a thread of its own (workers > 0). */
void api_server_run_async(struct api_server *s, const struct api_config *cfg);
/* Waits up to timeout_ms for lapps_server_run() to return; returns true if it did. */
bool api_server_join(struct api_server *s, int timeout_ms);
/* Frees the server and checks that on_close fired exactly once per on_open and that no
 * per-connection record is left. */
void api_server_finish(struct api_server *s);

/* Waits until the atomic reaches at least @p want (or the deadline). Returns its value. */
int api_wait_atleast(atomic_int *v, int want, int timeout_ms);
/* Waits until on_close has fired for every on_open, and at least @p opens opened. */
bool api_wait_all_closed(struct api_server *s, int opens, int timeout_ms);
/* Whether an error line the server logged contains @p needle. */
bool api_log_has(struct api_server *s, const char *needle);
/* The id of the i-th connection opened (0 when there is none). */
uint64_t api_id(struct api_server *s, size_t i);
/* lapps_server_stats() into a local struct. */
lapps_stats api_stats(const struct api_server *s);

/* Embedded mode: polls the server's fd and dispatches for up to @p ms; returns the last
 * lapps_server_dispatch() result. */
int api_embedded_pump(struct api_server *s, int ms);

/* ---- a server's log, kept (for tests that read what services print) ---- */

/* A lapps_log_fn that appends each line (and a newline) to one process-wide buffer of
 * 64 KiB; lines past its end are dropped. Any thread. */
void api_log_keep(lapps_log_level level, const char *msg, void *user_data);
/* Empties the buffer. */
void api_log_clear(void);
/* How many times @p needle occurs in the kept log. */
int api_log_count(const char *needle);
/* Waits until @p needle occurs at least @p want times; returns the last count. */
int api_log_wait(const char *needle, int want, int timeout_ms);
/* Whether the kept log has a line exactly equal to @p line. */
bool api_log_has_line(const char *line);
/* The kept log, for failure messages (read without the lock: may be mid-append). */
const char *api_log_text(void);

/* ---- child processes ---- */

struct api_proc;
/* Embedded mode: dispatches the server (polling its fd and the child's output) until
 * the child exits or the deadline; then as api_proc_wait(). */
int api_embedded_wait_proc(struct api_server *s, struct api_proc *p, int timeout_ms);

struct api_proc {
    pid_t pid;
    int out_fd; /* read end of the child's stdout */
    char *out;  /* what the child printed so far, NUL-terminated */
    size_t len, cap;
    int status; /* waitpid status once reaped */
    bool reaped;
    bool timed_out;
};

/* Starts argv[0] (a path) with stdout piped to us; stderr is inherited. */
void api_spawn(struct api_proc *p, char *const argv[]);
/* Reads whatever the child printed without blocking longer than @p ms. */
void api_proc_read(struct api_proc *p, int ms);
/* Waits up to @p timeout_ms for the child to exit, reading its output; kills it (by
 * PID, SIGKILL) at the deadline. Returns its exit code, or -1 if it was killed or timed
 * out. */
int api_proc_wait(struct api_proc *p, int timeout_ms);
/* Sends @p sig to the child (by PID) and reaps it (SIGKILL after timeout_ms). */
int api_proc_kill(struct api_proc *p, int sig, int timeout_ms);
void api_proc_free(struct api_proc *p);
/* Waits (reading output) until the child printed a line equal to @p line. */
bool api_proc_wait_line(struct api_proc *p, const char *line, int timeout_ms);

/* Runs a client script from test/api/clients with /usr/bin/python3 (DESIGN.md §11:
 * `python3` may be an interpreter without python3-websockets). The argument list ends
 * with NULL. Returns the exit code (-1: killed at the deadline); *out receives the
 * output (free it). */
int api_python(int timeout_ms, char **out, const char *script, ...);
/* Same, without waiting: the caller waits with api_proc_wait(). */
void api_python_spawn(struct api_proc *p, const char *script, ...);

/* Whether @p out has a line exactly equal to @p line. */
bool api_has_line(const char *out, const char *line);
/* How many lines of @p out start with @p prefix. */
int api_count_prefix(const char *out, const char *prefix);
/* The first line starting with @p prefix (pointer into out), or NULL. */
const char *api_find_prefix(const char *out, const char *prefix);

/* ---- process resources ---- */

/* Open descriptors of this process (entries of /proc/self/fd). */
int api_fd_count(void);
/* Waits until this process has @p want descriptors again; returns the last count. */
int api_wait_fds(int want, int timeout_ms);
/* Sleeps @p ms milliseconds. */
void api_sleep_ms(int ms);
/* A loopback TCP port that was free a moment ago (for example programs given a port). */
uint16_t api_free_port(void);
/* Raises the soft RLIMIT_NOFILE to min(hard, want). */
void api_raise_nofile(unsigned long want);
/* Directory of the client scripts (LAPPS_API_CLIENTS, set by meson). */
const char *api_clients_dir(void);

/* Assertion helpers for client output. */
#define API_EXPECT_LINE(out, line)                                                                 \
    cr_assert(api_has_line((out), (line)), "expected the line \"%s\" in the client's output:\n%s", \
              (line), (out))
#define API_EXPECT_NO_LINE(out, line)                                                              \
    cr_assert(!api_has_line((out), (line)), "unexpected line \"%s\" in the client's output:\n%s",  \
              (line), (out))
#define API_CLIENT_OK(rc, out)                                                                     \
    cr_assert_eq((rc), 0, "the client failed (exit %d); its output:\n%s", (rc), (out))

#endif /* LAPPS_TEST_API_HARNESS_H */
