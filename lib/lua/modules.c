/* modules.c — being written. */
typedef int lapps__modules_placeholder;
