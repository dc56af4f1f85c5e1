/* nljson.c — being written. */
typedef int lapps__nljson_placeholder;
