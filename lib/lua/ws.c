/* ws.c — being written. */
typedef int lapps__ws_placeholder;
