/* liblapps — services that speak the LAppS protocol: JSON-RPC-like requests and
 * notifications in CBOR, one map per binary message.
 *
 * A service registered with protocol LAPPS_PROTO_LAPPS and an on_request callback never
 * sees raw messages: liblapps decodes and validates each one, answers bad input itself
 * (undecodable CBOR: error -32700; a value that is not a request: -32600; a text
 * message: close 1003), and calls on_request with the method, params and channel.
 *
 *   request   {lapps: 1, method: "name", params?: [..]}        → owed one response
 *   client notification: the same with cid: N (N ≠ 0)          → no response
 *   response  {cid: 0, result: [..], status: 1} or {cid: 0, error: {code, message,
 *             data?}, status: 0}, in request order
 *   server notification {cid: N, message: [..]} on channel N ≠ 0, at any time
 *
 * Threads: on_request runs on the connection's worker. A request may be answered in
 * the callback, or later from any thread through lapps_request_defer(); responses
 * still leave in request order (a later response waits for earlier ones). */
#ifndef LAPPS_PROTOCOL_H
#define LAPPS_PROTOCOL_H

#include <lapps/common.h>
#include <lapps/server.h>
#include <lapps/value.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lapps_request lapps_request;

/** Receives one validated request or client notification. @p req is valid until it
 *  is answered; a request that is neither answered nor deferred when the callback
 *  returns is answered with -32603 ("no response") so later responses are not held
 *  up. For a client notification (lapps_request_cid() ≠ 0) no answer is owed or
 *  possible. */
typedef void (*lapps_on_request_fn)(lapps_conn *conn, lapps_request *req, void *user_data);

/** Sets the callback of a LAPPS_PROTO_LAPPS service. @return 0 or LAPPS_ERR_INVAL. */
LAPPS_EXPORT int lapps_service_set_on_request(lapps_service *svc, lapps_on_request_fn fn);

/** The method name, NUL-terminated (it cannot contain NUL: it is checked UTF-8 without
 *  '.' and not starting with '_'). Borrowed until the callback returns. */
LAPPS_EXPORT const char *lapps_request_method(const lapps_request *req);

/** The params array, or NULL when there are none (an empty array counts as none).
 *  Borrowed until the callback returns. */
LAPPS_EXPORT const lapps_value *lapps_request_params(const lapps_request *req);

/** 0 for a request; the channel of a client notification. */
LAPPS_EXPORT uint64_t lapps_request_cid(const lapps_request *req);

/** The whole request as received (a map with "lapps", "method" and optionally "params"
 *  and "cid"), for services that want members beyond those. Borrowed like params: valid
 *  in on_request only. */
LAPPS_EXPORT const lapps_value *lapps_request_message(const lapps_request *req);

/** Keeps a request to answer it later, from any thread, with lapps_reply_result() or
 *  lapps_reply_error(); until then the responses to later requests on the connection
 *  wait. Only in on_request. @return the handle to answer (owned by liblapps, freed by
 *  the answer), or NULL (a client notification, already answered or deferred, or out
 *  of memory: the request is then answered with -32603). */
LAPPS_EXPORT lapps_request *lapps_request_defer(lapps_request *req);

/** Frees a deferred handle without answering: for a request whose connection has closed
 *  (on_close), when an answer can no longer matter. On a connection still open, the
 *  responses to later requests would wait for this one forever. Any thread.
 *  @return 0, or LAPPS_ERR_INVAL (NULL, or not a deferred handle). */
LAPPS_EXPORT int lapps_request_cancel(lapps_request *req);

/** Answers a request with {status: 1, result: @p result}. @p result must be an array
 *  (NULL sends []); it is only read. In on_request it is sent (corked) at once; a
 *  deferred request is answered from any thread, and its handle is freed by every
 *  outcome but LAPPS_ERR_INVAL and LAPPS_ERR_AGAIN (after those it stays valid).
 *  @return 0; LAPPS_ERR_INVAL (not an array, a client notification); LAPPS_ERR_STATE
 *  (already answered, or the connection is closing); LAPPS_ERR_NOT_FOUND (the
 *  connection closed first: nothing is sent); LAPPS_ERR_AGAIN (deferred only: the
 *  worker's inbox is full; nothing is sent: answer again later); LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_reply_result(lapps_request *req, const lapps_value *result);

/** Answers a request with {status: 0, error: {code, message, data?}} (@p data may be
 *  NULL; @p message must be UTF-8). Same rules and returns as lapps_reply_result(). */
LAPPS_EXPORT int lapps_reply_error(lapps_request *req, int64_t code, const char *message,
                                   const lapps_value *data);

/** Sends the server notification {cid: @p cid, message: @p message} (@p cid ≠ 0,
 *  @p message an array; only read). On the connection's worker only (like
 *  lapps_conn_send()). @return 0 or what lapps_conn_send() returns; LAPPS_ERR_INVAL
 *  for a bad cid or message, or a service that is not LAPPS_PROTO_LAPPS. */
LAPPS_EXPORT int lapps_notify(lapps_conn *conn, uint64_t cid, const lapps_value *message);

/** Sends {cid: @p cid, error: {code, message, data?}, status: 0} on channel @p cid ≠ 0.
 *  Same rules as lapps_notify(). */
LAPPS_EXPORT int lapps_notify_error(lapps_conn *conn, uint64_t cid, int64_t code,
                                    const char *message, const lapps_value *data);

/** lapps_notify() from any thread, by connection id (encoded here, sent by the
 *  connection's worker). @return 0, LAPPS_ERR_INVAL, LAPPS_ERR_NOT_FOUND,
 *  LAPPS_ERR_AGAIN (inbox full) or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_notify_id(lapps_server *srv, uint64_t conn_id, uint64_t cid,
                                 const lapps_value *message);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_PROTOCOL_H */
