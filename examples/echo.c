/* echo.c — a native C service: every message comes back as it came (text stays text,
 * binary stays binary). Serves ws://127.0.0.1:PORT/echo; stop it with Ctrl-C.
 *   cc echo.c $(pkg-config --cflags --libs liblapps) -o echo && ./echo 5083 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <lapps/lapps.h>

static lapps_server *server;

static int
on_message(lapps_conn *conn, const lapps_message *msg, void *user_data)
{
    (void)user_data;
    /* The reply is corked: the replies to one read leave in one system call. */
    return lapps_conn_send(conn, msg->opcode, msg->data, msg->len) == 0 ? 0 : -1;
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
    fprintf(stderr, "echo: %s\n", msg);
}

int
main(int argc, char **argv)
{
    uint16_t port = (uint16_t)(argc > 1 ? atoi(argv[1]) : 5083);
    lapps_opts *opts;
    lapps_service *echo;
    int rv;
    if ((rv = lapps_opts_new(&opts)) != 0 ||
        (rv = lapps_opts_add_listener(opts, "127.0.0.1", port, NULL)) != 0 ||
        (rv = lapps_opts_set_log(opts, log_line, LAPPS_LOG_INFO, NULL)) != 0 ||
        (rv = lapps_server_new(&server, opts)) != 0) {
        fprintf(stderr, "echo: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_opts_free(opts);
    if ((rv = lapps_service_new(&echo, "echo", "/echo")) != 0 ||
        (rv = lapps_service_set_callbacks(echo, NULL, NULL, on_message, NULL, NULL, NULL)) != 0 ||
        (rv = lapps_service_register(server, echo)) != 0) {
        fprintf(stderr, "echo: %s\n", lapps_strerror(rv));
        return 1;
    }
    lapps_service_free(echo);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("echo: ws://127.0.0.1:%u/echo\n", lapps_server_port(server, 0));
    fflush(stdout);
    rv = lapps_server_run(server);
    lapps_server_free(server);
    return rv == 0 ? 0 : 1;
}
