/* liblapps — LAppS's configuration files (ws.json for the server, lapps.json for the
 * services), read and checked by the library so that lappsd and embedders share them.
 *
 * lapps_config_load() reads both files, merges their keys one by one over the defaults
 * and checks every value; lapps_config_apply() puts the server's part into options;
 * lapps_config_register() registers the services. Every error names the file, the key
 * path, what was expected and what was found ("ws.json: workers.workers: expected an
 * integer from 1 to 256, found \"four\""); unknown keys and LAppS keys that change nothing
 * here are warnings. The formats: doc/configuration.md. */
#ifndef LAPPS_CONFIG_H
#define LAPPS_CONFIG_H

#include <lapps/common.h>
#include <lapps/server.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lapps_config lapps_config;

/** Where the files are. NULL members take the environment, then the defaults:
 *  the directory: $LAPPS_CONF_DIR, else $LAPPS_HOME/etc/conf; LAPPS_HOME: $LAPPS_HOME,
 *  else /opt/lapps (relative paths in the files resolve against it); the file names:
 *  $WS_CONFIG and $LAPPS_CONFIG, else ws.json and lapps.json (relative to the
 *  directory). A missing file means its defaults; without lapps.json the services are
 *  those of @p demo_lapps (when set and present). */
typedef struct lapps_config_paths {
    size_t size; /**< sizeof(lapps_config_paths) */
    const char *conf_dir;
    const char *home;
    const char *ws_file;
    const char *lapps_file;
    /** A lapps.json to use when there is none; its applications directory is relative
     *  to the file's own directory. NULL: none (no services). */
    const char *demo_lapps;
    /** Warnings and notes (unknown keys, ignored LAppS keys); NULL: dropped. */
    lapps_log_fn log_fn;
    void *log_user_data;
} lapps_config_paths;

/** Reads and checks the configuration. On an error writes "file: key.path: what was
 *  expected, what was found" (bad JSON: "file:line:column: ...") into @p err and returns
 *  LAPPS_ERR_INVAL (LAPPS_ERR_NOMEM when out of memory). @return 0 and *out. */
LAPPS_EXPORT int lapps_config_load(lapps_config **out, const lapps_config_paths *paths, char *err,
                                   size_t errlen);

/** Puts the server's settings into @p opts: workers, listeners (with TLS), limits and
 *  the server ACL. The log callback is the caller's. @return 0, or an error with @p err
 *  written (a certificate file that cannot be read is found by lapps_server_new()). */
LAPPS_EXPORT int lapps_config_apply(const lapps_config *cfg, lapps_opts *opts, char *err,
                                    size_t errlen);

/** Registers the services that start, in `depends` order: Lua services (lang "lua"),
 *  native ones (lang "c": the function @c symbol of the shared object @c library, a
 *  lapps_native_init_fn, is called with a service named and routed as configured), and
 *  standalone ones; then sets their ACLs, origins, extra headers and proto alias.
 *  @return 0, or an error with @p err written (a Lua module that does not load or lacks
 *  a callback, a library or symbol not found, a native init that failed). */
LAPPS_EXPORT int lapps_config_register(const lapps_config *cfg, lapps_server *srv, char *err,
                                       size_t errlen);

/** A native service's entry point (lapps.json "lang": "c"): sets the callbacks and user
 *  data of @p svc (already named, routed, with its protocol, instances and limits);
 *  @p server is the server it will be registered with. @return 0 or a LAPPS_ERR_*. */
typedef int (*lapps_native_init_fn)(lapps_service *svc, lapps_server *server);

/** The log settings (ws.json "log"): level, and a file to append to (NULL: stderr). */
LAPPS_EXPORT lapps_log_level lapps_config_log_level(const lapps_config *cfg);
LAPPS_EXPORT const char *lapps_config_log_file(const lapps_config *cfg);

/** Seconds between two statistics lines (ws.json "stats.interval"); 0: none. */
LAPPS_EXPORT unsigned lapps_config_stats_interval(const lapps_config *cfg);

/** The address of listener @p i (in lapps_config_apply()'s order, which is
 *  lapps_server_port()'s), and in *tls whether it is wss://; NULL past the last. */
LAPPS_EXPORT const char *lapps_config_listener(const lapps_config *cfg, size_t i, int *tls);

/** The files that were read, for messages (NULL when that file was absent). */
LAPPS_EXPORT const char *lapps_config_ws_path(const lapps_config *cfg);
LAPPS_EXPORT const char *lapps_config_lapps_path(const lapps_config *cfg);

LAPPS_EXPORT void lapps_config_free(lapps_config *cfg);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_CONFIG_H */
