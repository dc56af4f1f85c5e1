/* bcast.c — broadcast channels from C: a room where every message a client sends goes to
 * every connected client (its sender included), plus a "tick N" from a standalone task
 * every second. Serves ws://127.0.0.1:PORT/room; stop it with Ctrl-C.
 *   cc bcast.c $(pkg-config --cflags --libs liblapps) -o bcast && ./bcast 5083 [workers]
 * The broadcast benchmark (bench/bcast) drives it with 10 000 clients. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <lapps/lapps.h>

#define ROOM 1

static lapps_server *server;

static void
on_open(lapps_conn *conn, void *user_data)
{
    (void)user_data;
    /* On the connection's worker, so it takes effect at once. Leaving is automatic. */
    if (lapps_bcast_subscribe(server, ROOM, lapps_conn_id(conn)) != 0)
        lapps_conn_close(conn, 1011, "cannot join the room");
}

static int
on_message(lapps_conn *conn, const lapps_message *msg, void *user_data)
{
    (void)conn;
    (void)user_data;
    /* One frame is built and each worker writes it to its own subscribers; a client that
     * does not read is dropped by its own outbound limit, nobody waits for it. */
    int rv = lapps_bcast_send(server, ROOM, msg->opcode, msg->data, msg->len);
    return rv == 0 || rv == LAPPS_ERR_AGAIN ? 0 : -1;
}

/* A standalone task: "tick N" every second until the server stops. */
static void
ticker(lapps_task *task, void *user_data)
{
    (void)user_data;
    char text[32];
    for (unsigned n = 1; !lapps_task_sleep(task, 1000); n++) {
        int len = snprintf(text, sizeof text, "tick %u", n);
        lapps_bcast_send(lapps_task_server(task), ROOM, LAPPS_OP_TEXT, text, (size_t)len);
    }
}

static void
on_signal(int sig)
{
    (void)sig;
    lapps_server_stop(server); /* async-signal-safe */
}

static void
log_line(lapps_log_level level, const char *msg, void *user_data)
{
    (void)level;
    (void)user_data;
    fprintf(stderr, "bcast: %s\n", msg);
}

int
main(int argc, char **argv)
{
    uint16_t port = (uint16_t)(argc > 1 ? atoi(argv[1]) : 5083);
    unsigned workers = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
    lapps_opts *opts;
    lapps_service *room;
    int rv;
    if ((rv = lapps_opts_new(&opts)) != 0 || (rv = lapps_opts_set_workers(opts, workers)) != 0 ||
        (rv = lapps_opts_set_max_connections(opts, 65536)) != 0 ||
        (rv = lapps_opts_add_listener(opts, "127.0.0.1", port, NULL)) != 0 ||
        (rv = lapps_opts_set_log(opts, log_line, LAPPS_LOG_INFO, NULL)) != 0 ||
        (rv = lapps_server_new(&server, opts)) != 0) {
        fprintf(stderr, "bcast: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_opts_free(opts);
    if ((rv = lapps_bcast_create(server, ROOM)) != 0 ||
        (rv = lapps_service_new(&room, "room", "/room")) != 0 ||
        (rv = lapps_service_set_callbacks(room, NULL, on_open, on_message, NULL, NULL, NULL)) !=
            0 ||
        (rv = lapps_service_register(server, room)) != 0 ||
        (rv = lapps_task_register(server, "ticker", 1, ticker, NULL, NULL)) != 0) {
        fprintf(stderr, "bcast: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_service_free(room);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("bcast: ws://127.0.0.1:%u/room\n", lapps_server_port(server, 0));
    fflush(stdout);
    rv = lapps_server_run(server);
    lapps_server_free(server);
    return rv == 0 ? 0 : 1;
}
