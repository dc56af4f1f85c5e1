/* liblapps — an application server over WebSockets (RFC 6455).
 *
 * This umbrella header includes every public liblapps header. Public headers are
 * self-contained, include no third-party header and compile as C99 and as C++. */
#ifndef LAPPS_LAPPS_H
#define LAPPS_LAPPS_H

#include <lapps/acl.h>
#include <lapps/bcast.h>
#include <lapps/common.h>
#include <lapps/config.h>
#include <lapps/error.h>
#include <lapps/lua.h>
#include <lapps/protocol.h>
#include <lapps/server.h>
#include <lapps/task.h>
#include <lapps/tls.h>
#include <lapps/value.h>
#include <lapps/version.h>

#endif /* LAPPS_LAPPS_H */
