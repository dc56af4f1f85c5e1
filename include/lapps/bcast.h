/* liblapps — broadcast channels: one message to every connection subscribed to a
 * channel, on every worker (a time feed, a chat room, market ticks).
 *
 * A send builds its frame once, in one reference-counted buffer, and posts it to each
 * worker that has subscribers of the channel; each such worker writes that same buffer
 * to its own sockets. Nobody waits for a slow subscriber: what one does not read is
 * queued for it alone, counted in full against its own outbound limit
 * (lapps_opts_set_max_outbound()), and past that limit that connection alone is closed
 * with 1008. Subscribers receive the messages of one sender in the order it sent them;
 * a broadcast never lands between the fragments of another message. A connection that
 * closes leaves every channel by itself. */
#ifndef LAPPS_BCAST_H
#define LAPPS_BCAST_H

#include <lapps/common.h>
#include <lapps/protocol.h>
#include <lapps/server.h>
#include <lapps/value.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Creates channel @p channel (any number; creating one that exists does nothing).
 *  Channels live as long as the server. Any thread.
 *  @return 0, LAPPS_ERR_INVAL or LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_bcast_create(lapps_server *srv, uint64_t channel);

/** Subscribes the open connection @p conn_id to @p channel (again: nothing changes).
 *  Any thread. On the connection's own worker it takes effect at once; from another
 *  thread it is posted to that worker and takes effect before any broadcast sent after
 *  this call returns (unless the connection closes first).
 *  @return 0; LAPPS_ERR_NOT_FOUND for an unknown channel or a connection that is not
 *  open; LAPPS_ERR_AGAIN when the worker's inbox is full; LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_bcast_subscribe(lapps_server *srv, uint64_t channel, uint64_t conn_id);

/** Ends a subscription. Any thread, with the same rules as lapps_bcast_subscribe(); on
 *  the connection's own worker, LAPPS_ERR_NOT_FOUND also when it was not subscribed. */
LAPPS_EXPORT int lapps_bcast_unsubscribe(lapps_server *srv, uint64_t channel, uint64_t conn_id);

/** Broadcasts one text or binary frame to the subscribers of @p channel on raw
 *  (LAPPS_PROTO_RAW) services; LAppS-protocol connections only take LAppS messages
 *  (lapps_bcast_notify()), so they skip it. Text must be valid UTF-8. Any thread.
 *  A thread that is not a worker of this server waits while a worker's inbox is full
 *  (at most until the server stops); a worker never waits.
 *  @return 0 (also when nobody is subscribed); LAPPS_ERR_INVAL; LAPPS_ERR_NOT_FOUND for
 *  an unknown channel; LAPPS_ERR_STATE when the server is not running; LAPPS_ERR_AGAIN
 *  when called on a worker and another worker's inbox was full: that worker's
 *  subscribers miss this message (the others get it); LAPPS_ERR_NOMEM. */
LAPPS_EXPORT int lapps_bcast_send(lapps_server *srv, uint64_t channel, lapps_opcode op,
                                  const void *data, size_t len);

/** Broadcasts the LAppS notification {cid: @p cid, message: @p message}
 *  (@p cid ≠ 0, @p message an array; only read, encoded once) to every subscriber of
 *  @p channel. Same rules and results as lapps_bcast_send(). */
LAPPS_EXPORT int lapps_bcast_notify(lapps_server *srv, uint64_t channel, uint64_t cid,
                                    const lapps_value *message);

/** The subscriptions to @p channel, counting those requested from other threads and not
 *  yet applied. Any thread. @return the count, 0 for an unknown channel. */
LAPPS_EXPORT size_t lapps_bcast_subscribers(lapps_server *srv, uint64_t channel);

#ifdef __cplusplus
}
#endif

#endif /* LAPPS_BCAST_H */
