/* lappsd — the liblapps server: LAppS's configuration files (ws.json, lapps.json; read by
 * the library, lapps/config.h), signals, logs and daemonizing.
 *
 *   lappsd [-c CONF_DIR] [-d] [--check-config] [--version] [--help]
 *
 * The files are found as doc/configuration.md says (-c DIR, else $LAPPS_CONF_DIR, else
 * $LAPPS_HOME/etc/conf). Without lapps.json the demo services are served. A bad
 * configuration is reported as "file: key.path: expected ..., found ..." and lappsd exits
 * 2 before it listens. SIGINT, SIGTERM and SIGQUIT stop it gracefully (clients get close
 * 1001); SIGHUP reloads the TLS certificates and reopens the log file. Signals are taken
 * synchronously by the main thread (sigtimedwait), so nothing runs in a signal handler;
 * the same loop writes the statistics line. SIGPIPE cannot happen (the library sends
 * with MSG_NOSIGNAL). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lapps/config.h>
#include <lapps/lapps.h>

/* The log: one line per event, "TIME lappsd LEVEL: text", to stderr or to the file of
 * ws.json's log.file (reopened on SIGHUP, so logrotate can move it away). */
static struct {
    pthread_mutex_t lock;
    FILE *file; /* NULL: stderr */
    const char *path;
    lapps_log_level level;
} logger = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, LAPPS_LOG_INFO};

static void
log_line(lapps_log_level level, const char *msg, void *user_data)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    (void)user_data;
    if (level > logger.level)
        return;
    time_t t = time(NULL);
    struct tm tm;
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    pthread_mutex_lock(&logger.lock);
    FILE *out = logger.file ? logger.file : stderr;
    fprintf(out, "%s lappsd %s: %s\n", when, names[level], msg);
    fflush(out);
    pthread_mutex_unlock(&logger.lock);
}

/* Opens (or reopens) the log file. @return 0, or -1 with errno set. */
static int
open_log(void)
{
    if (!logger.path)
        return 0;
    FILE *f = fopen(logger.path, "a");
    if (!f)
        return -1;
    pthread_mutex_lock(&logger.lock);
    FILE *old = logger.file;
    logger.file = f;
    pthread_mutex_unlock(&logger.lock);
    if (old)
        fclose(old);
    return 0;
}

static void logf_(lapps_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
logf_(lapps_log_level level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_line(level, buf, NULL);
}

/* The demo services' lapps.json: installed, else the source tree's (a build that was
 * not installed). */
static const char *
demo_lapps(void)
{
    static const char *const candidates[] = {LAPPS_DEMO_INSTALLED, LAPPS_DEMO_SOURCE};
    for (size_t i = 0; i < 2; i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return NULL;
}

/* Detaches from the terminal: fork, setsid, fork again (no controlling terminal can be
 * reacquired), cwd /, standard streams to /dev/null. @return 0 in the daemon. */
static int
daemonize(void)
{
    for (int i = 0; i < 2; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid > 0)
            _exit(0);
        if (i == 0 && setsid() < 0)
            return -1;
    }
    umask(027);
    if (chdir("/") != 0)
        return -1;
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
        return -1;
    for (int fd = 0; fd < 3; fd++)
        dup2(null, fd);
    if (null > 2)
        close(null);
    return 0;
}

/* One line of counters since the last one, and the open connections now. */
static void
log_stats(lapps_server *server, lapps_stats *last, unsigned interval)
{
    lapps_stats s = {.size = sizeof s};
    if (lapps_server_stats(server, &s) != 0)
        return;
    logf_(LAPPS_LOG_INFO,
          "stats: %llu connections; last %u s: %llu accepted, %llu messages in, %llu out, "
          "%llu bytes in, %llu out; refused: %llu failed handshakes, %llu by an ACL",
          (unsigned long long)s.connections, interval,
          (unsigned long long)(s.accepted - last->accepted),
          (unsigned long long)(s.messages_in - last->messages_in),
          (unsigned long long)(s.messages_out - last->messages_out),
          (unsigned long long)(s.bytes_in - last->bytes_in),
          (unsigned long long)(s.bytes_out - last->bytes_out),
          (unsigned long long)(s.handshakes_failed - last->handshakes_failed),
          (unsigned long long)(s.acl_refused - last->acl_refused));
    *last = s;
}

/* Loads the configuration and builds the server with its services. @return 0, or 2
 * after saying what is wrong, with nothing left allocated. */
static int
configure(const lapps_config_paths *paths, lapps_config **cfgp, lapps_server **srvp)
{
    char err[2048] = "";
    lapps_config *cfg = NULL;
    lapps_opts *opts = NULL;
    lapps_server *server = NULL;
    int rv = lapps_config_load(&cfg, paths, err, sizeof err);
    if (rv == 0) {
        logger.level = lapps_config_log_level(cfg);
        logger.path = lapps_config_log_file(cfg);
        if (open_log() != 0) {
            snprintf(err, sizeof err, "log.file %s: %s", logger.path, strerror(errno));
            rv = LAPPS_ERR_INVAL;
        }
    }
    if (rv == 0 && ((rv = lapps_opts_new(&opts)) != 0 ||
                    (rv = lapps_opts_set_log(opts, log_line, logger.level, NULL)) != 0))
        snprintf(err, sizeof err, "options: %s", lapps_strerror(rv));
    if (rv == 0)
        rv = lapps_config_apply(cfg, opts, err, sizeof err);
    if (rv == 0 && (rv = lapps_server_new(&server, opts)) != 0) /* certificates, ports */
        snprintf(err, sizeof err, "%s: the server: %s",
                 lapps_config_ws_path(cfg) ? lapps_config_ws_path(cfg) : "defaults",
                 lapps_strerror(rv));
    if (rv == 0)
        rv = lapps_config_register(cfg, server, err, sizeof err);
    lapps_opts_free(opts);
    if (rv == 0) {
        *cfgp = cfg;
        *srvp = server;
        return 0;
    }
    fprintf(stderr, "lappsd: %s\n", err[0] ? err : lapps_strerror(rv));
    lapps_server_free(server);
    lapps_config_free(cfg);
    return 2;
}

static const char usage[] =
    "usage: lappsd [-c CONF_DIR] [-d] [--check-config] [--version] [--help]\n"
    "  -c DIR          the directory of ws.json and lapps.json (default: $LAPPS_CONF_DIR,\n"
    "                  else $LAPPS_HOME/etc/conf; LAPPS_HOME defaults to /opt/lapps)\n"
    "  -d              run in the background (logs: ws.json log.file)\n"
    "  --check-config  check the configuration (and the Lua services) and exit\n"
    "  --version       print the version and exit\n"
    "Environment: LAPPS_HOME, LAPPS_CONF_DIR, WS_CONFIG, LAPPS_CONFIG.\n"
    "Signals: INT, TERM, QUIT stop gracefully; HUP reloads certificates and reopens the log.\n";

int
main(int argc, char **argv)
{
    static const struct option longs[] = {{"check-config", no_argument, NULL, 'k'},
                                          {"version", no_argument, NULL, 'V'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    lapps_config_paths paths = {
        .size = sizeof paths, .demo_lapps = demo_lapps(), .log_fn = log_line};
    bool check = false, detach = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:dh", longs, NULL)) != -1) {
        switch (opt) {
        case 'c':
            paths.conf_dir = optarg;
            break;
        case 'd':
            detach = true;
            break;
        case 'k':
            check = true;
            break;
        case 'V':
            printf("lappsd %s\n", lapps_version(0)->version_str);
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lappsd: unexpected argument \"%s\"\n%s", argv[optind], usage);
        return 2;
    }

    /* Everything that can be wrong with the configuration is found before listening. */
    lapps_config *cfg;
    lapps_server *server;
    int rv = configure(&paths, &cfg, &server);
    if (rv != 0)
        return rv;
    unsigned interval = lapps_config_stats_interval(cfg);
    if (check) {
        printf("lappsd: the configuration is valid\n");
        lapps_server_free(server);
        lapps_config_free(cfg);
        return 0;
    }
    if (detach && !logger.path)
        fprintf(stderr, "lappsd: -d without log.file in ws.json: the log is discarded\n");
    if (detach && daemonize() != 0) {
        fprintf(stderr, "lappsd: -d: %s\n", strerror(errno));
        lapps_server_free(server);
        lapps_config_free(cfg);
        return 1;
    }

    /* Blocked before the workers start, so they inherit the mask and only the wait below
     * takes these signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGQUIT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if ((rv = lapps_server_start(server)) != 0) {
        logf_(LAPPS_LOG_ERROR, "start: %s", lapps_strerror(rv));
        lapps_server_free(server);
        return 1;
    }
    int tls;
    const char *ip;
    for (size_t i = 0; (ip = lapps_config_listener(cfg, i, &tls)); i++) {
        bool v6 = strchr(ip, ':') != NULL;
        logf_(LAPPS_LOG_INFO, "lappsd %s: %s://%s%s%s:%u", lapps_version(0)->version_str,
              tls ? "wss" : "ws", v6 ? "[" : "", ip, v6 ? "]" : "", lapps_server_port(server, i));
    }
    logf_(LAPPS_LOG_INFO, "running as pid %ld", (long)getpid());
    lapps_stats last = {.size = sizeof last};
    lapps_server_stats(server, &last);
    struct timespec wait = {interval ? interval : 3600, 0};
    for (;;) {
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGHUP) {
            lapps_server_reload_tls(server); /* logs what it did */
            if (open_log() != 0)
                logf_(LAPPS_LOG_ERROR, "log.file %s: %s", logger.path, strerror(errno));
        } else if (sig < 0 && interval) {
            log_stats(server, &last, interval);
        } else if (sig > 0) {
            logf_(LAPPS_LOG_INFO, "signal %d: stopping", sig);
            break;
        }
    }
    lapps_server_free(server); /* a graceful stop, then the threads are joined */
    logf_(LAPPS_LOG_INFO, "stopped");
    lapps_config_free(cfg);
    return 0;
}
