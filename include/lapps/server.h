/* liblapps — the server: options, services, connections.
 *
 * Threads. A server runs `workers` threads, each with its own event loop, connections
 * and service instances; every callback of a connection runs on the one worker that
 * holds it. Functions taking a lapps_conn may only be called on that worker (from a
 * callback, or code the callback calls). Functions taking a connection id
 * (lapps_send, lapps_close) may be called from any thread. With workers = 0 the
 * server runs one loop on the caller's thread (embedded mode).
 *
 * Ownership. Strings and buffers passed into liblapps are copied unless stated
 * otherwise. Data handed to a callback is borrowed until the callback returns. */
#ifndef LAPPS_SERVER_H
#define LAPPS_SERVER_H

#include <lapps/common.h>
#include <lapps/tls.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lapps_opts lapps_opts;
typedef struct lapps_server lapps_server;
typedef struct lapps_service lapps_service;
typedef struct lapps_instance lapps_instance;
typedef struct lapps_conn lapps_conn;

/** WebSocket message opcodes. */
typedef enum lapps_opcode {
    LAPPS_OP_TEXT = 1,
    LAPPS_OP_BINARY = 2,
} lapps_opcode;

/** How a service's messages are framed. */
typedef enum lapps_protocol {
    /** Raw WebSocket messages, text or binary. */
    LAPPS_PROTO_RAW = 0,
    /** The LAppS protocol: CBOR requests and notifications (see lapps/protocol.h). */
    LAPPS_PROTO_LAPPS = 1,
} lapps_protocol;

/** Log levels, most severe first. */
typedef enum lapps_log_level {
    LAPPS_LOG_ERROR = 0,
    LAPPS_LOG_WARN = 1,
    LAPPS_LOG_INFO = 2,
    LAPPS_LOG_DEBUG = 3,
} lapps_log_level;

/** Receives the library's log lines (liblapps never writes to stdout or stderr).
 *  @p msg is borrowed, NUL-terminated, without a trailing newline. Called from any of
 *  the server's threads, possibly concurrently. */
typedef void (*lapps_log_fn)(lapps_log_level level, const char *msg, void *user_data);

/* ------------------------------------------------------------------------------------ */
/* Options                                                                              */

/** Creates an options object holding the defaults: one worker per online CPU, no
 *  listener, 10 000 connections per worker, messages up to 16 MiB, 16 MiB of queued
 *  output per connection, handshakes up to 8 KiB completed within 5 s, a 5 s close
 *  handshake, no idle timeout, no pings, no log.
 *  @return 0, LAPPS_ERR_INVAL (@p out is NULL) or LAPPS_ERR_NOMEM. Any thread. */
LAPPS_EXPORT int lapps_opts_new(lapps_opts **out);

/** Frees an options object (NULL is a no-op). A server made from it keeps its own copy. */
LAPPS_EXPORT void lapps_opts_free(lapps_opts *opts);

/** Sets the number of worker threads, at most 256; 0 selects embedded mode (one loop on
 *  the caller's thread: lapps_server_get_fd(), lapps_server_dispatch()).
 *  @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_workers(lapps_opts *opts, unsigned workers);

/** Adds a listener. @p addr is a numeric IPv4 or IPv6 address ("127.0.0.1", "::");
 *  @p port 0 picks a free port (read it with lapps_server_port()). @p tls NULL makes a
 *  ws:// listener; otherwise a wss:// one with a copy of those settings (their files are
 *  read by lapps_server_new()). Plain and TLS listeners may be mixed freely.
 *  @return 0, LAPPS_ERR_INVAL (bad address, TLS settings without a certificate, more
 *  than 16 listeners) or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_opts_add_listener(lapps_opts *opts, const char *addr, uint16_t port,
                                         const lapps_tls *tls);

/** Sets the most connections (handshaking or open) per worker; further handshakes are
 *  answered 503. Must be at least 1. @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_max_connections(lapps_opts *opts, size_t per_worker);

/** Sets the default largest inbound message (all fragments together); larger ones are
 *  refused with close code 1009 before their payload is buffered. Services may set
 *  their own. Must be at least 1. @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_max_message_size(lapps_opts *opts, size_t bytes);

/** Sets how many bytes of output may wait for one slow client: a send that would take
 *  the waiting bytes past it fails with LAPPS_ERR_LIMIT and closes the connection with
 *  1008: the close frame is queued behind what waits, nothing more is taken, and the
 *  connection ends when the peer answers or the close timeout passes (on_close then
 *  reports LAPPS_CLOSED_OUTBOUND). A message sent when nothing waits is always taken, so
 *  one message of any size can be sent. At least 1 KiB.
 *  @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_max_outbound(lapps_opts *opts, size_t bytes);

/** Outbound fragmentation (LAppS's auto_fragment): a text or binary message of at least
 *  2 × @p frame_size bytes leaves in frames of @p frame_size bytes (the last one shorter),
 *  which lets a client with small buffers start on it early; 0 (the default) sends every
 *  message in one frame. Broadcasts are not fragmented. 0 or 125 to 1 MiB.
 *  @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_auto_fragment(lapps_opts *opts, size_t frame_size);

/** Sets the largest handshake request (431 past it), 1 KiB to 64 KiB.
 *  @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_max_handshake_size(lapps_opts *opts, size_t bytes);

/** Timeouts in milliseconds. handshake: from accept to a complete request (≥ 1);
 *  close: how long to wait for the peer's close frame or FIN after ours (≥ 1);
 *  idle: close with 1001 after this long without any frame from the peer (0: never);
 *  ping: send a ping after this long without any frame from the peer (0: never).
 *  @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_timeouts(lapps_opts *opts, uint32_t handshake_ms, uint32_t close_ms,
                                         uint32_t idle_ms, uint32_t ping_ms);

/** Sets the log callback and the most verbose level it receives (NULL: no log).
 *  @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_opts_set_log(lapps_opts *opts, lapps_log_fn fn, lapps_log_level level,
                                    void *user_data);

/* ------------------------------------------------------------------------------------ */
/* Services                                                                             */

/** What on_message receives. */
typedef struct lapps_message {
    lapps_opcode opcode;
    /** The whole message, borrowed until on_message returns (unmasked, and for text
     *  already validated as UTF-8). */
    const uint8_t *data;
    size_t len;
} lapps_message;

/** Why a connection ended, as on_close reports it. */
typedef enum lapps_close_reason {
    LAPPS_CLOSED_BY_PEER = 0,       /**< the peer sent a close frame */
    LAPPS_CLOSED_BY_SERVICE = 1,    /**< lapps_conn_close() or lapps_close() */
    LAPPS_CLOSED_PROTOCOL = 2,      /**< the peer broke RFC 6455: 1002, 1007 or 1009 */
    LAPPS_CLOSED_DROPPED = 3,       /**< TCP ended without a close handshake (1006) */
    LAPPS_CLOSED_OUTBOUND = 4,      /**< output past the outbound limit (1008) */
    LAPPS_CLOSED_TIMEOUT = 5,       /**< idle timeout (1001) */
    LAPPS_CLOSED_SHUTDOWN = 6,      /**< the server stopped (1001) */
    LAPPS_CLOSED_SERVICE_ERROR = 7, /**< on_message returned an error (1011) */
} lapps_close_reason;

/** What on_close receives. */
typedef struct lapps_close_info {
    lapps_close_reason reason;
    /** The close code of the handshake: the peer's when it closed first, else ours;
     *  1006 when the connection dropped. */
    uint16_t code;
} lapps_close_info;

/** Called once per instance on its worker before it serves connections. Return 0, or
 *  a negative code to fail lapps_server_start() / lapps_server_run(). */
typedef int (*lapps_on_start_fn)(lapps_instance *inst, void *user_data);
/** Called once per instance on its worker after its last connection closed. */
typedef void (*lapps_on_shutdown_fn)(lapps_instance *inst, void *user_data);
/** A connection finished its handshake and belongs to this instance. */
typedef void (*lapps_on_open_fn)(lapps_conn *conn, void *user_data);
/** A whole message arrived. Return 0, or a negative value to close the connection with
 *  1011 (internal error). */
typedef int (*lapps_on_message_fn)(lapps_conn *conn, const lapps_message *msg, void *user_data);
/** Output queued for this connection went below half of the outbound limit after
 *  having been above it: the service may send again. */
typedef void (*lapps_on_drain_fn)(lapps_conn *conn, void *user_data);
/** The connection ended; called exactly once for every connection on_open saw,
 *  however it ended. The lapps_conn is invalid after this returns. */
typedef void (*lapps_on_close_fn)(lapps_conn *conn, const lapps_close_info *info, void *user_data);

/** Creates a service description: @p name (for logs) and the request target path it is
 *  bound to (e.g. "/echo"; the query string is not part of the match). Raw protocol,
 *  one instance per worker, the server's message limit, no callbacks.
 *  @return 0, LAPPS_ERR_INVAL (a NULL argument, or @p target not starting with '/') or
 *  LAPPS_ERR_NOMEM. Any thread. */
LAPPS_EXPORT int lapps_service_new(lapps_service **out, const char *name, const char *target);

/** Frees a service description (NULL is a no-op); a registered service keeps a copy. */
LAPPS_EXPORT void lapps_service_free(lapps_service *svc);

/** Sets the protocol. @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_service_set_protocol(lapps_service *svc, lapps_protocol protocol);

/** Sets on how many workers the service runs an instance (0: all; more than the
 *  workers: all). Connections that arrive on another worker are handed over once,
 *  after their handshake. @return 0. */
LAPPS_EXPORT int lapps_service_set_instances(lapps_service *svc, unsigned instances);

/** Sets the service's largest inbound message (0: the server's). @return 0. */
LAPPS_EXPORT int lapps_service_set_max_message_size(lapps_service *svc, size_t bytes);

/** Sets the callbacks; any may be NULL. The pointers are copied. @return 0. */
LAPPS_EXPORT int lapps_service_set_callbacks(lapps_service *svc, lapps_on_start_fn on_start,
                                             lapps_on_open_fn on_open,
                                             lapps_on_message_fn on_message,
                                             lapps_on_drain_fn on_drain, lapps_on_close_fn on_close,
                                             lapps_on_shutdown_fn on_shutdown);

/** Sets the pointer every callback of this service receives last. @return 0. */
LAPPS_EXPORT int lapps_service_set_user_data(lapps_service *svc, void *user_data);

/** A function the server calls once with the service's user data when it frees its
 *  copy of the service (lapps_server_free()), so user data that lives as long as the
 *  server has an owner. Not called when registration fails: the caller still owns it. */
typedef void (*lapps_cleanup_fn)(void *user_data);
LAPPS_EXPORT int lapps_service_set_cleanup(lapps_service *svc, lapps_cleanup_fn cleanup);

/* Handshake options (lapps.json's origins, extra_headers and proto_alias). They apply to
 * a service description before lapps_service_register(), which copies them, or to a
 * registered service (lapps_server_service()) until lapps_server_start(); after the
 * start they are read by the workers and refused with LAPPS_ERR_STATE. Not thread-safe:
 * one thread configures a service. Strings are copied. */

/** Adds an allowed Origin. Once any is set, a request whose Origin header is absent or
 *  not listed is answered 403 before the 101 (on_open never fires); without any, the
 *  Origin is not looked at. The match is exact but ignores ASCII case, against the
 *  value as the browser sends it: "scheme://host" or "scheme://host:port" (no path, no
 *  trailing '/'), or "null" (opaque origins: sandboxed frames, file: pages — allowing
 *  it allows them all). Adding one already listed does nothing.
 *  @return 0; LAPPS_ERR_INVAL (NULL, empty, longer than 512 bytes, not of that form, or
 *  holding a space, a control character, a non-ASCII byte, '/', '?', '#', '@' or ','
 *  after "://"); LAPPS_ERR_NOSPACE (64 origins already); LAPPS_ERR_STATE (a registered
 *  service of a server that has started); LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_service_add_origin(lapps_service *svc, const char *origin);

/** Adds the header line "name: value" to every 101 of the service, after the
 *  handshake's own headers (Upgrade, Connection, Sec-WebSocket-Accept and
 *  Sec-WebSocket-Protocol), in the order added; a name may be added more than once
 *  (Set-Cookie). @p name must be an HTTP token (RFC 7230: letters, digits and
 *  !#$%&'*+-.^_`|~) and none of Upgrade, Connection, Content-Length, Transfer-Encoding,
 *  Trailer, TE, Keep-Alive, Proxy-Connection or Sec-WebSocket-* (any case); @p value
 *  may be empty and holds only visible ASCII, spaces and tabs — no CR or LF, so no
 *  configuration can inject a header or end the response.
 *  @return 0; LAPPS_ERR_INVAL (a NULL or refused name or value); LAPPS_ERR_NOSPACE (32
 *  headers already, or the 101 would pass 4 KiB with them and the proto_alias);
 *  LAPPS_ERR_STATE (a registered service of a server that has started);
 *  LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_service_add_header(lapps_service *svc, const char *name, const char *value);

/** Sets the subprotocol the service answers to (LAppS's proto_alias): when a client
 *  offers @p alias among its Sec-WebSocket-Protocol values (exact, case-sensitive), the
 *  101 carries "Sec-WebSocket-Protocol: <alias>"; otherwise it carries none, and the
 *  request is not refused for it. (LAppS announced the alias in every 101, whatever
 *  the client offered; a client that did not offer it must then fail the connection,
 *  RFC 6455 §4.1, as browsers do.) Without an alias no subprotocol is ever chosen.
 *  @p alias NULL removes it.
 *  @return 0; LAPPS_ERR_INVAL (not an HTTP token); LAPPS_ERR_NOSPACE (the 101 would
 *  pass 4 KiB); LAPPS_ERR_STATE (a registered service of a server that has started);
 *  LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_service_set_proto_alias(lapps_service *svc, const char *alias);

/* ------------------------------------------------------------------------------------ */
/* Server                                                                               */

/** Creates a server from @p opts (copied) and binds its listeners: a port already in
 *  use is an error here, not a silent share. Call from one thread; nothing runs yet.
 *  The certificates and keys of TLS listeners are read here.
 *  @return 0, LAPPS_ERR_INVAL (no listener), LAPPS_ERR_NOMEM, LAPPS_ERR_TLS (a TLS file
 *  unreadable, a key that does not match its certificate, a cipher list OpenSSL refuses;
 *  the reason goes to the log callback), or -errno from socket(), bind() or listen()
 *  (e.g. -EADDRINUSE). */
LAPPS_EXPORT int lapps_server_new(lapps_server **out, const lapps_opts *opts);

/** Reads the certificate, key and client CA files of every TLS listener again and uses
 *  them for connections accepted from now on; established connections keep theirs.
 *  All listeners change or none: when one fails, every listener keeps what it had.
 *  Any thread (lappsd calls it on SIGHUP), but not from a signal handler.
 *  @return 0 (also with no TLS listener), LAPPS_ERR_INVAL or LAPPS_ERR_TLS (logged). */
LAPPS_EXPORT int lapps_server_reload_tls(lapps_server *srv);

/** Stops the server if it runs (gracefully: see lapps_server_stop()), waits for its
 *  threads, and frees it (NULL is a no-op). Not from a callback of this server. */
LAPPS_EXPORT void lapps_server_free(lapps_server *srv);

/** Registers a service (copied) before the server starts.
 *  @return 0, LAPPS_ERR_INVAL (NULL, or another service has that target),
 *  LAPPS_ERR_STATE (already started) or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_service_register(lapps_server *srv, const lapps_service *svc);

/** The registered service called @p name (a C service or a Lua one, which
 *  lapps_lua_service_register() registers under its name), or NULL. The server owns it:
 *  the lapps_service_set_*() functions may change it until lapps_server_start(), never
 *  after; do not free it. Not thread-safe (like registering). */
LAPPS_EXPORT lapps_service *lapps_server_service(lapps_server *srv, const char *name);

/** The port of listener @p index (in the order added), useful after binding port 0.
 *  @return the port, or 0 for an index out of range. Any thread. */
LAPPS_EXPORT uint16_t lapps_server_port(const lapps_server *srv, size_t index);

/** Starts the worker threads and returns; with workers = 0 it prepares the embedded
 *  loop instead (nothing runs until lapps_server_dispatch()). Calls every instance's
 *  on_start first.
 *  @return 0, LAPPS_ERR_STATE (already started), an on_start error, or -errno from
 *  creating threads or descriptors. */
LAPPS_EXPORT int lapps_server_start(lapps_server *srv);

/** Starts the server and blocks until it has stopped (see lapps_server_stop()).
 *  @return 0, or what lapps_server_start() returns; LAPPS_ERR_STATE in embedded mode. */
LAPPS_EXPORT int lapps_server_run(lapps_server *srv);

/** Asks the server to stop gracefully: listeners close, every client gets a close frame
 *  with 1001, the server waits for their close frames up to the close timeout, then
 *  calls every instance's on_shutdown. Returns at once; lapps_server_run() returns (or,
 *  embedded, lapps_server_dispatch() returns LAPPS_ERR_STATE) when all is done.
 *  Any thread, including callbacks; async-signal-safe (it only writes to an eventfd).
 *  @return 0. */
LAPPS_EXPORT int lapps_server_stop(lapps_server *srv);

/** Embedded mode: a descriptor that becomes readable when lapps_server_dispatch() has
 *  work (network, timers, cross-thread sends). @return the fd, or LAPPS_ERR_STATE when
 *  the server has worker threads or is not started. Owned by the server. */
LAPPS_EXPORT int lapps_server_get_fd(const lapps_server *srv);

/** Embedded mode: handles whatever is ready without blocking, flushes output, and
 *  returns. Call it from the thread that started the server whenever the fd is
 *  readable (or periodically).
 *  @return 0 while the server runs; LAPPS_ERR_STATE once it has stopped completely (or
 *  when the server is not in embedded mode). */
LAPPS_EXPORT int lapps_server_dispatch(lapps_server *srv);

/** Counters, summed over the workers. Begins with its own size so it can grow. */
typedef struct lapps_stats {
    size_t size;                /**< set to sizeof(lapps_stats) before calling */
    uint64_t connections;       /**< open now (after the handshake) */
    uint64_t accepted;          /**< TCP connections accepted */
    uint64_t handshakes_failed; /**< HTTP error, timeout, TLS failure or peer gone before 101 */
    uint64_t messages_in;
    uint64_t messages_out;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t reads;       /**< recv system calls (TLS: record reads) */
    uint64_t writes;      /**< send system calls (TLS: record writes) */
    uint64_t handed_over; /**< connections moved to another worker after the handshake */
    /* Fields added later go here, at the end; a caller built against an older header
     * passes a smaller size and gets the fields it knows. */
    uint64_t acl_refused; /**< peers an ACL refused: closed at accept (server ACL, counted in
                               accepted too) or answered 403 (a service's, counted in
                               handshakes_failed too); see lapps/acl.h */
} lapps_stats;

/** Fills @p out with counters summed over every worker (each is read without locks,
 *  so the sum is approximate while the server runs). Only the fields that fit in
 *  out->size are written, so a caller built against an older header, whose struct
 *  ended with handed_over, still works. Any thread.
 *  @return 0 or LAPPS_ERR_INVAL (@p out NULL, or out->size too small to reach
 *  handed_over). */
LAPPS_EXPORT int lapps_server_stats(const lapps_server *srv, lapps_stats *out);

/** Writes a line to the server's log (lapps_opts_set_log()), printf-style; lines longer
 *  than 1 KiB are cut. Any thread. */
LAPPS_EXPORT void lapps_log(lapps_server *srv, lapps_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ------------------------------------------------------------------------------------ */
/* Instances and connections (on their worker only)                                      */

/** The worker an instance runs on (0-based). */
LAPPS_EXPORT unsigned lapps_instance_worker(const lapps_instance *inst);
/** The server the instance belongs to. */
LAPPS_EXPORT lapps_server *lapps_instance_server(const lapps_instance *inst);
/** The open connection of this instance with id @p conn_id, or NULL (stale or unknown
 *  id, another instance's connection, or one that is closing). */
LAPPS_EXPORT lapps_conn *lapps_instance_conn(lapps_instance *inst, uint64_t conn_id);
/** The instance a connection belongs to. */
LAPPS_EXPORT lapps_instance *lapps_conn_instance(const lapps_conn *conn);
/** Per-instance data for the service's own use (NULL until set). */
LAPPS_EXPORT void lapps_instance_set_data(lapps_instance *inst, void *data);
LAPPS_EXPORT void *lapps_instance_get_data(const lapps_instance *inst);

/** Sends one message. Within a callback that handles this connection's input the
 *  message is corked: the replies to one read leave together in one system call.
 *  @return 0; LAPPS_ERR_INVAL (bad opcode, or text that is not UTF-8 is not checked:
 *  the caller owns that); LAPPS_ERR_STATE (closing); LAPPS_ERR_LIMIT (past the outbound
 *  limit: the connection is being closed with 1008); LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_conn_send(lapps_conn *conn, lapps_opcode op, const void *data, size_t len);

/** Starts the close handshake with @p code (1000–1003, 1007–1014, 3000–4999) and an
 *  optional UTF-8 @p reason (cut to 123 bytes). on_close follows.
 *  @return 0, LAPPS_ERR_INVAL (code) or LAPPS_ERR_STATE (already closing). */
LAPPS_EXPORT int lapps_conn_close(lapps_conn *conn, uint16_t code, const char *reason);

/** The connection's id: below 2^46, unique while the connection lives, never reused
 *  for a while after. Safe to keep and use from any thread with lapps_send(). */
LAPPS_EXPORT uint64_t lapps_conn_id(const lapps_conn *conn);

/** The worker that holds the connection (0-based). */
LAPPS_EXPORT unsigned lapps_conn_worker(const lapps_conn *conn);

/** Whether the connection came through a TLS listener (wss://). */
LAPPS_EXPORT int lapps_conn_is_tls(const lapps_conn *conn);

/** Writes the peer's address as "a.b.c.d:port" or "[v6]:port" into @p buf.
 *  @return the length, or LAPPS_ERR_NOSPACE (64 bytes always suffice). */
LAPPS_EXPORT int lapps_conn_peer(const lapps_conn *conn, char *buf, size_t size);

/** The query string of the request target (after '?'), borrowed while the connection
 *  lives; "" when there was none. */
LAPPS_EXPORT const char *lapps_conn_query(const lapps_conn *conn);

/** Bytes queued for this connection and not yet accepted by the kernel. */
LAPPS_EXPORT size_t lapps_conn_buffered(const lapps_conn *conn);

LAPPS_EXPORT void lapps_conn_set_user_data(lapps_conn *conn, void *data);
LAPPS_EXPORT void *lapps_conn_get_user_data(const lapps_conn *conn);

/* ------------------------------------------------------------------------------------ */
/* Any thread, by connection id                                                         */

/** Sends a message to a connection from any thread (copied; it leaves from the
 *  connection's worker, after the messages sent before it from the same thread).
 *  @return 0; LAPPS_ERR_NOT_FOUND when no such connection is open (checked again on
 *  the worker: a message to a connection that closes meanwhile is dropped);
 *  LAPPS_ERR_AGAIN when the worker's inbox is full; LAPPS_ERR_INVAL; LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_send(lapps_server *srv, uint64_t conn_id, lapps_opcode op, const void *data,
                            size_t len);

/** Closes a connection from any thread, as lapps_conn_close() does.
 *  @return 0, LAPPS_ERR_NOT_FOUND, LAPPS_ERR_AGAIN, LAPPS_ERR_INVAL or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_close(lapps_server *srv, uint64_t conn_id, uint16_t code,
                             const char *reason);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_SERVER_H */
