/* net.h — the server's internal structures: workers, connections, services and the
 * messages that cross threads. Shared by lib/net/ and lib/server.c only. */
#ifndef LAPPS_NET_NET_H
#define LAPPS_NET_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <lapps/acl.h>
#include <lapps/error.h>
#include <lapps/protocol.h>
#include <lapps/server.h>

#include "util/mpsc.h"
#include "proto/cbor.h"
#include "tls/tls.h"
#include "util/arena.h"
#include "util/clock.h"
#include "util/timer.h"
#include "ws/frame.h"
#include "ws/handshake.h"

#define LAPPS__MAX_WORKERS   256u
#define LAPPS__MAX_LISTENERS 16u
#define LAPPS__READ_BUF      (64u << 10) /* one worker's read buffer */
#define LAPPS__CORK_BUF      (64u << 10) /* replies corked during one read */
#define LAPPS__CORK_IOV      64u         /* pieces one corked sendmsg may carry */
#define LAPPS__RBUF_SIZE     (LAPPS__READ_BUF + LAPPS__FRAME_MAX_HEADER + LAPPS__FRAME_MAX_CONTROL)
#define LAPPS__INBOX_SIZE    4096u /* cross-thread messages waiting per worker */
#define LAPPS__FAN_BATCH     32    /* broadcasts written to a subscriber in one system call */

/* Connection ids: worker (8 bits) | slot (24 bits) | generation (14 bits), below 2^46. */
#define LAPPS__ID_GEN_BITS  14u
#define LAPPS__ID_SLOT_BITS 24u
#define LAPPS__ID_GEN_MASK  ((1u << LAPPS__ID_GEN_BITS) - 1)
#define LAPPS__ID_SLOT_MASK ((1u << LAPPS__ID_SLOT_BITS) - 1)

struct lapps_opts {
    unsigned workers;
    size_t n_listeners;
    struct {
        char addr[64];
        uint16_t port;
        struct lapps_tls *tls; /* owned by the options; NULL for ws:// */
    } listeners[LAPPS__MAX_LISTENERS];
    size_t max_connections; /* per worker */
    size_t max_message;
    size_t max_outbound;
    size_t max_handshake;
    size_t fragment; /* outbound frame size for long messages; 0: one frame each */
    uint32_t handshake_ms, close_ms, idle_ms, ping_ms;
    lapps_log_fn log_fn;
    lapps_log_level log_level;
    void *log_user_data;
    struct lapps_acl *acl; /* owned; applied at accept; NULL: everyone */
};

/* A service's handshake options (lib/service-hs.c): owned by the service description,
 * deep-copied by lapps_service_register(), read by the workers once the server started
 * (never written then). */
#define LAPPS__SVC_MAX_ORIGINS    64u
#define LAPPS__SVC_MAX_HEADERS    32u
#define LAPPS__SVC_MAX_ORIGIN_LEN 512u
struct lapps__svc_hs {
    char **origins; /* allowed Origin values; none: any request, with or without Origin */
    unsigned n_origins;
    struct lapps__hs_extra *headers; /* name and value: one allocation each, name first */
    unsigned n_headers;
    char *proto_alias; /* the subprotocol the service answers to, or NULL */
};

struct lapps_service {
    char *name;
    char *target;
    lapps_protocol protocol;
    unsigned instances; /* 0: every worker */
    size_t max_message; /* 0: the server's */
    lapps_on_start_fn on_start;
    lapps_on_open_fn on_open;
    lapps_on_message_fn on_message;
    lapps_on_drain_fn on_drain;
    lapps_on_close_fn on_close;
    lapps_on_shutdown_fn on_shutdown;
    lapps_on_request_fn on_request; /* LAPPS_PROTO_LAPPS */
    void *user_data;
    lapps_cleanup_fn cleanup; /* called with user_data by the server's copy only */
    struct lapps_acl *acl;    /* owned (each copy has its own); before the 101; NULL: all */
    struct lapps__svc_hs hs;
    /* set at registration */
    struct lapps_server *owner; /* the server holding this copy (NULL: a description) */
    size_t index;
    size_t target_len;
    unsigned *hosts; /* the workers with an instance, n_hosts of them */
    unsigned n_hosts;
    atomic_uint next_host; /* round-robin for hand-over */
};

struct lapps_instance {
    struct lapps_service *svc;
    struct lapps__worker *w;
    void *data;
    bool started;
};

/* A frame built once and written to many connections (a broadcast): reference-counted,
 * freed by whoever drops the last reference, on any thread. */
struct lapps__shared {
    atomic_uint refs;
    bool lapps; /* a LAppS message: LAppS-protocol connections take it too */
    uint32_t len;
    uint8_t data[]; /* header and payload */
};

/* A chunk of queued output: bytes of its own, or (ref not NULL) the unsent tail of a
 * shared frame, which is then not copied. */
struct lapps__chunk {
    struct lapps__chunk *next;
    uint32_t off, len, cap;
    struct lapps__shared *ref;
    uint8_t data[];
};

/* Broadcast channels (bcast.c). A channel is created once and lives as long as the
 * server. Its subscribers are kept per worker, in a member list that only that worker
 * touches; each connection lists its own memberships, so either side is removed in O(1). */
struct lapps__member {
    struct lapps_conn *c;
    uint32_t sub; /* index in c->subs */
};
struct lapps__chan_worker {
    /* Subscriptions on this worker, live or requested by another thread and not yet
     * applied: a sender skips the workers where it is 0. Written by any thread. */
    atomic_uint count;
    /* Worker only. */
    struct lapps__member *m;
    uint32_t n, cap;
};
struct lapps__chan {
    struct lapps__chan *next; /* hash chain */
    uint64_t id;
    struct lapps__chan_worker w[]; /* by worker index */
};
struct lapps__sub {
    struct lapps__chan *ch;
    uint32_t member; /* index in ch->w[worker].m */
};

enum lapps__conn_state {
    CONN_HANDSHAKE, /* reading the HTTP request */
    CONN_OPEN,      /* frames flow both ways */
    CONN_CLOSING,   /* we sent a close frame; waiting for the peer's */
    CONN_DRAINING,  /* the close handshake is over (or failed): FIN sent, reading to EOF */
    CONN_DEAD,      /* to be freed at the end of the current event */
};

enum {
    CF_OPENED = 1u << 0,               /* on_open ran: on_close is owed */
    CF_EPOLLOUT = 1u << 1,             /* EPOLLOUT is armed */
    CF_CLOSE_SENT = 1u << 2,           /* our close frame is queued or sent */
    CF_SHUT_WR = 1u << 3,              /* FIN to send once the output is flushed */
    CF_WANT_DRAIN = 1u << 4,           /* on_drain is owed once output falls below half the limit */
    CF_PING_OUT = 1u << 5,             /* a keep-alive ping waits for any frame from the peer */
    CF_IN_BATCH = 1u << 6,             /* its input is being handled: sends are corked */
    CF_TLS_READ_WANTS_WRITE = 1u << 7, /* a TLS read (handshake) waits for a writable socket */
};

/* Handshake state kept only while a request spans several reads. */
struct lapps__hs_state {
    struct lapps__hs_parser parser;
    struct lapps__hs_request req;
    size_t len;
    char buf[]; /* max_handshake bytes */
};

struct lapps_conn {
    int fd;
    uint8_t state;
    uint8_t flags;
    uint8_t close_reason; /* lapps_close_reason, set by the first close event */
    uint8_t carry_len;    /* unconsumed frame bytes kept between reads (<= 139) */
    uint16_t close_code;
    uint32_t slot;
    uint16_t gen;
    uint32_t last_rx; /* worker clock (ms, truncated) of the last frame from the peer */
    struct lapps__worker *w;
    struct lapps_instance *inst; /* NULL during the handshake */
    struct lapps__frame_parser fp;
    struct lapps__timer timer;
    struct lapps__hs_state *hs; /* during a handshake spread over reads */
    uint8_t *carry;             /* 139 bytes while carry_len > 0 */
    uint8_t *msg;               /* a fragmented message being assembled */
    size_t msg_len, msg_cap;
    struct lapps__chunk *out_head, *out_tail;
    size_t out_bytes;
    struct lapps__tls *tls; /* NULL for ws:// */
    /* LAppS protocol: responses leave in request order (rpc.c) */
    uint64_t rq_next;         /* sequence number of the next request */
    uint64_t rq_sent;         /* sequence number of the next response to send */
    struct lapps__held *held; /* responses waiting for earlier ones, by sequence */
    size_t held_bytes;
    char *query;
    void *user_data;
    struct lapps__sub *subs; /* broadcast channels this connection receives */
    uint32_t n_subs, cap_subs;
};

/* What crosses threads through a worker's inbox. */
enum lapps__post_kind {
    POST_SEND,        /* lapps_send() */
    POST_CLOSE,       /* lapps_close() */
    POST_ADOPT,       /* a connection handed over after its handshake */
    POST_REPLY,       /* a deferred LAppS response (seq: its request) */
    POST_BCAST,       /* a broadcast frame (shared) for this worker's subscribers of chan */
    POST_SUBSCRIBE,   /* subscribe connection id to chan */
    POST_UNSUBSCRIBE, /* the reverse */
};

struct lapps__post {
    uint8_t kind;
    uint8_t opcode;
    uint16_t code;
    uint64_t id;
    uint64_t seq; /* POST_REPLY */
    /* POST_ADOPT */
    int fd;
    struct lapps__tls *tls;
    struct lapps_service *svc;
    char *query;
    /* POST_BCAST, POST_SUBSCRIBE, POST_UNSUBSCRIBE */
    struct lapps__chan *chan;
    struct lapps__shared *shared;
    /* payload: message (SEND), reason (CLOSE), bytes after the request (ADOPT) */
    size_t len;
    uint8_t data[];
};

struct lapps__stats {
    _Atomic uint64_t connections, accepted, handshakes_failed, messages_in, messages_out, bytes_in,
        bytes_out, reads, writes, handed_over, acl_refused;
};

/* One writer per counter (its worker): a relaxed load and store, not a locked add. */
#define STAT_ADD(w, field, n)                                                                      \
    atomic_store_explicit(&(w)->stats.field,                                                       \
                          atomic_load_explicit(&(w)->stats.field, memory_order_relaxed) + (n),     \
                          memory_order_relaxed)

struct lapps__worker {
    struct lapps_server *srv;
    unsigned index;
    int epfd;
    int wakefd;  /* eventfd: the inbox has posts, or the server stops */
    int timerfd; /* embedded mode only: the timer wheel's next expiry */
    int listen_fds[LAPPS__MAX_LISTENERS];
    pthread_t thread;
    bool has_thread;
    bool stopping; /* graceful stop begun */
    bool stopped;  /* loop finished */
    uint64_t now_ms;
    uint64_t stop_deadline;
    struct lapps__wheel wheel;
    struct lapps__mpsc inbox;
    struct lapps__post *held_post; /* popped from the inbox, to handle first */
    struct lapps_conn **conns;     /* by slot */
    _Atomic uint32_t *slot_live;   /* by slot: gen << 1 | open, read by other threads */
    uint32_t *free_slots;          /* FIFO of free slots, oldest first */
    size_t free_head, free_count, n_slots;
    size_t n_conns;                    /* connections in any state */
    struct lapps_instance **instances; /* by service index; NULL when not hosted here */
    uint8_t *rbuf;                     /* LAPPS__READ_BUF + carry room */
    uint8_t *cork;                     /* LAPPS__CORK_BUF: copied headers and small payloads */
    size_t cork_len;                   /* bytes used in cork */
    size_t cork_total;                 /* bytes corked in all, copied or referenced */
    struct iovec cork_iov[LAPPS__CORK_IOV];
    int cork_n;
    struct lapps_conn *cork_conn;
    struct lapps_conn **dead; /* freed at the end of the event */
    size_t n_dead;
    struct lapps__hs_request hs_req; /* scratch for requests that arrive in one read */
    uint8_t *spare_msg; /* a message buffer kept for the next spanning message (<= 1 MiB) */
    size_t spare_cap;
    struct lapps__arena arena; /* the decoded LAppS message being handled */
    struct lapps__wbuf wbuf;   /* LAppS responses being encoded */
    struct lapps__stats stats;
};

/* lapps_server.state */
enum { SRV_NEW, SRV_RUNNING, SRV_STOPPING, SRV_STOPPED };

/* Service handshake options (lib/service-hs.c). */
/* Copies src into dst (zero-filled by the caller). @return 0 or LAPPS_ERR_NOMEM; on error
 * dst holds what was copied, for lapps__svc_hs_free(). */
int lapps__svc_hs_copy(struct lapps__svc_hs *dst, const struct lapps__svc_hs *src);
void lapps__svc_hs_free(struct lapps__svc_hs *hs);
/* Whether the service accepts a request with this Origin (empty view: none sent). */
bool lapps__svc_origin_allowed(const struct lapps_service *s, const struct lapps__str *origin);
/* Writes the service's 101 for req into out[0..cap) (LAPPS__HS_MAX_RESPONSE suffices).
 * @return its length, or what lapps__hs_response_101() returns. */
lapps_ssize lapps__svc_response_101(const struct lapps_service *s,
                                    const struct lapps__hs_request *req, char *out, size_t cap);

struct lapps_server {
    struct lapps_opts opts;
    struct lapps_service **services;
    size_t n_services;
    struct lapps__worker *workers;
    unsigned n_workers; /* 1 in embedded mode */
    bool embedded;
    uint16_t ports[LAPPS__MAX_LISTENERS];
    struct lapps__tls_ctx *tls[LAPPS__MAX_LISTENERS]; /* NULL for ws:// listeners */
    pthread_mutex_t reload_lock;                      /* one TLS reload at a time */
    atomic_int state;                                 /* 0 new, 1 running, 2 stopping, 3 stopped */
    atomic_uint running_workers;
    pthread_mutex_t lock; /* start-up and run() waiting */
    pthread_cond_t cond;
    int start_error;
    unsigned started_workers;
    /* standalone services (task.c) */
    struct lapps__taskset **tasksets;
    size_t n_tasksets;
    atomic_bool tasks_stop;
    pthread_mutex_t task_lock; /* with task_cond: lapps_task_sleep() wakes at the stop */
    pthread_cond_t task_cond;
    /* broadcast channels (bcast.c): a hash table of chains, grown under chan_lock */
    pthread_mutex_t chan_lock;
    struct lapps__chan **chans;
    size_t n_chans, chan_buckets;
};

/* The worker whose loop runs on this thread, if any (set by its loop). */
extern __thread struct lapps__worker *lapps__this_worker;

/* bcast.c */
void lapps__bcast_handle(struct lapps__worker *w, struct lapps__post *p);
struct lapps__post *lapps__bcast_fan_out(struct lapps__worker *w, struct lapps__post *p);
void lapps__bcast_conn_gone(struct lapps_conn *c);
void lapps__bcast_free(struct lapps_server *srv);
void lapps__shared_unref(struct lapps__shared *sh);

/* task.c */
int lapps__tasks_start(struct lapps_server *srv);
void lapps__tasks_stop(struct lapps_server *srv);
void lapps__tasks_join(struct lapps_server *srv);
void lapps__tasks_free(struct lapps_server *srv);

/* listen.c */
int lapps__listen_probe(const char *addr, uint16_t port, uint16_t *bound);
int lapps__listen_open(const char *addr, uint16_t port);

/* worker.c */
int lapps__worker_init(struct lapps__worker *w, struct lapps_server *srv, unsigned index);
void lapps__worker_free(struct lapps__worker *w);
int lapps__worker_start_instances(struct lapps__worker *w);
void lapps__worker_loop_once(struct lapps__worker *w, int timeout_ms);
void *lapps__worker_main(void *arg);
void lapps__worker_wake(struct lapps__worker *w);
int lapps__worker_post(struct lapps__worker *w, struct lapps__post *post);

/* rpc.c */
void lapps__rpc_deliver(struct lapps_conn *c, uint8_t opcode, const uint8_t *data, size_t len);
void lapps__rpc_answer(struct lapps_conn *c, uint64_t seq, const uint8_t *data, size_t len);
void lapps__rpc_conn_free(struct lapps_conn *c);

/* server.c: the worker that holds conn_id, if the id names a connection open now. */
struct lapps__worker *lapps__worker_of(struct lapps_server *srv, uint64_t id);
/* server.c: posts to the worker that holds conn_id, if it is open now. */
int lapps__post_to(struct lapps_server *srv, uint64_t id, uint8_t kind, uint8_t op, uint16_t code,
                   uint64_t seq, const void *data, size_t len);

/* conn.c */
void lapps__conn_accept(struct lapps__worker *w, int fd, struct lapps__tls_ctx *tls);
void lapps__conn_adopt(struct lapps__worker *w, struct lapps__post *post);
void lapps__conn_on_event(struct lapps_conn *c, uint32_t events);
void lapps__conn_on_timer(struct lapps__timer *t, void *arg);
void lapps__conn_begin_close(struct lapps_conn *c, uint16_t code, const char *reason,
                             size_t reason_len, lapps_close_reason why);
void lapps__conn_abort(struct lapps_conn *c, lapps_close_reason why, uint16_t code);
void lapps__conn_fail_outbound(struct lapps_conn *c);
void lapps__conn_reap(struct lapps__worker *w);
struct lapps_conn *lapps__conn_by_id(struct lapps__worker *w, uint64_t id);

/* output.c */
int lapps__out_send(struct lapps_conn *c, uint8_t opcode, const void *data, size_t len);
int lapps__out_raw(struct lapps_conn *c, const void *data, size_t len);
int lapps__out_shared(struct lapps_conn *c, struct lapps__shared *const *sh, int n);
void lapps__out_flush(struct lapps_conn *c);
void lapps__out_uncork(struct lapps__worker *w);
void lapps__out_free(struct lapps_conn *c);
lapps_ssize lapps__out_write_now(struct lapps_conn *c, const void *data, size_t len);

#endif /* LAPPS_NET_NET_H */
