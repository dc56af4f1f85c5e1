#!/usr/bin/python3
"""subproto.py — opens one connection with python3-websockets (an RFC 6455 client that
fails the connection when the server selects a subprotocol it did not offer) and prints
what the handshake gave, for the service handshake options tests. Run with
/usr/bin/python3.

usage: subproto.py URI [--origin ORIGIN] [--protocol P]... [--header NAME]...
Prints "open SUBPROTOCOL" ("open none" when the server chose none) and, for each
--header NAME, "header NAME: VALUE" for every such header of the 101 in order; then
echoes one message and closes. A refused handshake prints "status CODE"; a handshake the
client itself failed prints "failed REASON". Then "done".
"""
import asyncio
import sys

import websockets
import websockets.exceptions


def out(*a):
    print(*a, flush=True)


async def main(argv):
    uri = argv.pop(0)
    origin, protocols, headers = None, [], []
    while argv:
        o = argv.pop(0)
        if o == "--origin":
            origin = argv.pop(0)
        elif o == "--protocol":
            protocols.append(argv.pop(0))
        elif o == "--header":
            headers.append(argv.pop(0))
        else:
            sys.exit("subproto.py: unknown option " + o)
    try:
        async with websockets.connect(uri, origin=origin, subprotocols=protocols or None,
                                      compression=None, ping_interval=None,
                                      open_timeout=20, close_timeout=10) as ws:
            out("open", ws.subprotocol or "none")
            for name in headers:
                for value in ws.response_headers.get_all(name):
                    out("header", name + ":", value)
            await ws.send("hello")
            got = await asyncio.wait_for(ws.recv(), 20)
            if got != "hello":
                sys.exit("subproto.py: the echo differs")
    except websockets.exceptions.InvalidStatusCode as e:
        out("status", e.status_code)
    except websockets.exceptions.InvalidHandshake as e:
        out("failed", e.__class__.__name__)
    out("done")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
