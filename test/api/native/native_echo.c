/* native_echo.c — a native C service loaded by lappsd from a shared object
 * (lapps.json "lang": "c", "library", "symbol"): an echo that prefixes text with
 * "native: ". Its entry point only sets the callbacks of the service lappsd made. */
#include <stdio.h>
#include <string.h>

#include <lapps/lapps.h>

static int
on_message(lapps_conn *conn, const lapps_message *msg, void *user_data)
{
    (void)user_data;
    if (msg->opcode != LAPPS_OP_TEXT)
        return lapps_conn_send(conn, msg->opcode, msg->data, msg->len) == 0 ? 0 : -1;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "native: %.*s", (int)(msg->len > 200 ? 200 : msg->len),
                     (const char *)msg->data);
    return lapps_conn_send(conn, LAPPS_OP_TEXT, buf, (size_t)n) == 0 ? 0 : -1;
}

int native_echo_init(lapps_service *svc, lapps_server *server);

int
native_echo_init(lapps_service *svc, lapps_server *server)
{
    (void)server;
    return lapps_service_set_callbacks(svc, NULL, NULL, on_message, NULL, NULL, NULL);
}

/* An entry point that refuses: lappsd must report it and exit 2. */
int native_refuse_init(lapps_service *svc, lapps_server *server);

int
native_refuse_init(lapps_service *svc, lapps_server *server)
{
    (void)svc;
    (void)server;
    return LAPPS_ERR_INVAL;
}
