/* json.c — being written. */
typedef int lapps__json_placeholder;
