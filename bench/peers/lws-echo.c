/* lws-echo — minimal libwebsockets echo server, a peer for the echo benchmark.
 *
 * ws://127.0.0.1:PORT/echo, one service thread. Each message (text or binary) is sent
 * back whole, with the same opcode, once its last fragment arrived. Messages wait in a
 * per-connection FIFO laid out as lws_write() wants them (LWS_PRE bytes of headroom in
 * front of each payload), so an echo is written without another copy; lws allows one
 * lws_write() per writable callback, so a connection with several messages queued asks
 * for another callback after each. Reading pauses when a connection has more than
 * FIFO_HIGH bytes queued (a client that does not read) and resumes below FIFO_LOW.
 *
 * Buffers are sized for 16 KiB messages: a 16 KiB frame reaches the callback in one
 * piece and its echo leaves in one send(). */
#include <libwebsockets.h>

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define RX_BUFFER  (16u << 10)
#define TX_PACKET  (RX_BUFFER + 14) /* a 16 KiB payload plus the largest frame header */
#define SERV_BUF   (64u << 10)
#define FIFO_HIGH  (4u << 20)
#define FIFO_LOW   (1u << 20)
#define ENTRY_HEAD 8 /* struct entry, then LWS_PRE, then the payload */

struct entry {
    uint32_t len;
    uint32_t binary;
};

struct session {
    unsigned char *buf;
    size_t cap;
    size_t head;    /* first queued entry */
    size_t tail;    /* end of the data */
    size_t cur;     /* entry being received, when receiving */
    bool receiving; /* a message is partly received */
    bool paused;    /* rx flow control is off */
};

static volatile sig_atomic_t stop;
static struct lws_context *ctx;

static size_t
align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static int
reserve(struct session *s, size_t n)
{
    if (s->tail + n <= s->cap)
        return 0;
    if (s->head > 0) { /* slide the queue to the front */
        memmove(s->buf, s->buf + s->head, s->tail - s->head);
        s->tail -= s->head;
        s->cur -= s->receiving ? s->head : 0;
        s->head = 0;
        if (s->tail + n <= s->cap)
            return 0;
    }
    size_t cap = s->cap ? s->cap : 32768;
    while (cap < s->tail + n)
        cap *= 2;
    unsigned char *p = realloc(s->buf, cap);
    if (!p)
        return -1;
    s->buf = p;
    s->cap = cap;
    return 0;
}

/* End of the complete entries: a partly received message stays out of reach. */
static size_t
ready_end(const struct session *s)
{
    return s->receiving ? s->cur : s->tail;
}

static int
on_receive(struct lws *wsi, struct session *s, const void *in, size_t len)
{
    if (!s->receiving) {
        if (reserve(s, ENTRY_HEAD + LWS_PRE))
            return -1;
        s->cur = s->tail;
        struct entry e = {0, (uint32_t)lws_frame_is_binary(wsi)};
        memcpy(s->buf + s->cur, &e, sizeof e);
        s->tail += ENTRY_HEAD + LWS_PRE;
        s->receiving = true;
    }
    if (len) {
        if (reserve(s, len))
            return -1;
        memcpy(s->buf + s->tail, in, len);
        s->tail += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    struct entry e;
    memcpy(&e, s->buf + s->cur, sizeof e);
    e.len = (uint32_t)(s->tail - s->cur - ENTRY_HEAD - LWS_PRE);
    memcpy(s->buf + s->cur, &e, sizeof e);
    size_t pad = align8(s->tail) - s->tail;
    if (reserve(s, pad))
        return -1;
    s->tail += pad;
    s->receiving = false;
    if (s->tail - s->head > FIFO_HIGH && !s->paused) {
        lws_rx_flow_control(wsi, 0);
        s->paused = true;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

static int
on_writeable(struct lws *wsi, struct session *s)
{
    if (s->head >= ready_end(s))
        return 0;
    struct entry e;
    memcpy(&e, s->buf + s->head, sizeof e);
    unsigned char *payload = s->buf + s->head + ENTRY_HEAD + LWS_PRE;
    int n = lws_write(wsi, payload, e.len, e.binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (n < (int)e.len)
        return -1;
    s->head += align8(ENTRY_HEAD + LWS_PRE + e.len);
    if (s->head == s->tail)
        s->head = s->tail = 0;
    if (s->paused && s->tail - s->head < FIFO_LOW) {
        lws_rx_flow_control(wsi, 1);
        s->paused = false;
    }
    if (s->head < ready_end(s))
        lws_callback_on_writable(wsi);
    return 0;
}

static int
callback_echo(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/echo") != 0)
            return 1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof *s);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
        free(s->buf);
        s->buf = NULL;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {
        .name = "echo",
        .callback = callback_echo,
        .per_session_data_size = sizeof(struct session),
        .rx_buffer_size = RX_BUFFER,
        .tx_packet_size = TX_PACKET,
    },
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
    if (ctx)
        lws_cancel_service(ctx);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lws-echo PORT\n");
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "lws-echo: bad port \"%s\"\n", argv[1]);
        return 2;
    }
    /* lws sizes its fd table from the soft limit: raise it first */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = (int)port;
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.count_threads = 1;
    info.pt_serv_buf_size = SERV_BUF;
    ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "lws-echo: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "lws-echo: listening on ws://127.0.0.1:%ld/echo (libwebsockets %s)\n", port,
            lws_get_library_version());
    while (!stop)
        if (lws_service(ctx, 0) < 0)
            break;
    lws_context_destroy(ctx);
    return 0;
}
