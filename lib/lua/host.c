/* host.c — being written. */
typedef int lapps__host_placeholder;
