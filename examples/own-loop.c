/* own-loop.c — liblapps inside the host's own event loop (embedded mode, workers = 0).
 *
 * The host owns the loop: here a plain poll() over its own descriptor (standard input:
 * type "quit" to stop) and the server's one descriptor, which becomes readable when the
 * server has network, timer or cross-thread work. The server never starts a thread.
 *   ./own-loop [PORT]    then connect to ws://127.0.0.1:PORT/echo */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lapps/lapps.h>

static int
on_message(lapps_conn *conn, const lapps_message *msg, void *user_data)
{
    unsigned long *count = user_data;
    ++*count;
    return lapps_conn_send(conn, msg->opcode, msg->data, msg->len) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    uint16_t port = (uint16_t)(argc > 1 ? atoi(argv[1]) : 5083);
    unsigned long messages = 0;
    lapps_opts *opts;
    lapps_server *srv;
    lapps_service *svc;
    int rv;
    if ((rv = lapps_opts_new(&opts)) != 0 || (rv = lapps_opts_set_workers(opts, 0)) != 0 ||
        (rv = lapps_opts_add_listener(opts, "127.0.0.1", port, NULL)) != 0 ||
        (rv = lapps_server_new(&srv, opts)) != 0) {
        fprintf(stderr, "own-loop: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_opts_free(opts);
    if ((rv = lapps_service_new(&svc, "echo", "/echo")) != 0 ||
        (rv = lapps_service_set_callbacks(svc, NULL, NULL, on_message, NULL, NULL, NULL)) != 0 ||
        (rv = lapps_service_set_user_data(svc, &messages)) != 0 ||
        (rv = lapps_service_register(srv, svc)) != 0 || (rv = lapps_server_start(srv)) != 0) {
        fprintf(stderr, "own-loop: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_service_free(svc);
    printf("own-loop: ws://127.0.0.1:%u/echo (type quit to stop)\n", lapps_server_port(srv, 0));
    fflush(stdout);

    struct pollfd fds[2] = {{.fd = lapps_server_get_fd(srv), .events = POLLIN},
                            {.fd = STDIN_FILENO, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0)
            continue;
        if (fds[1].revents) {
            char line[64];
            ssize_t n = read(STDIN_FILENO, line, sizeof line - 1);
            if (n <= 0 || strncmp(line, "quit", 4) == 0) {
                lapps_server_stop(srv);
                fds[1].fd = -1; /* stop watching stdin; keep dispatching until done */
            }
        }
        /* Dispatch also after stop: the graceful stop needs a few more turns. */
        if (lapps_server_dispatch(srv) == LAPPS_ERR_STATE)
            break;
    }
    printf("own-loop: stopped after %lu messages\n", messages);
    lapps_server_free(srv);
    return 0;
}
