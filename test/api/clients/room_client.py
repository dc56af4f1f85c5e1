#!/usr/bin/python3
"""room_client.py — subscribers of the room test service (test/api/lua/room.lua) on two
targets (the service on workers and isolated), printing what each connection gets.

usage: room_client.py URI1 URI2

Three connections to each URI subscribe; connection a1 says "hello": all six get it.
Then b1 unsubscribes and a1 says "again": the five others get it, b1 nothing.
"""
import asyncio
import sys

import websockets

TIMEOUT = 10


async def recv(name, ws, timeout=TIMEOUT):
    try:
        return await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        return "(nothing)"


async def main():
    conns = {}
    for tag, uri in (("a", sys.argv[1]), ("b", sys.argv[2])):
        for i in (1, 2, 3):
            conns[tag + str(i)] = await websockets.connect(uri)
    for name, ws in conns.items():
        await ws.send("sub")
        print(name, await recv(name, ws), flush=True)
    await conns["a1"].send("say hello")
    print("a1", await recv("a1", conns["a1"]), flush=True)
    for name, ws in conns.items():
        print(name, await recv(name, ws), flush=True)
    await conns["b1"].send("unsub")
    print("b1", await recv("b1", conns["b1"]), flush=True)
    await conns["a1"].send("say again")
    print("a1", await recv("a1", conns["a1"]), flush=True)
    for name, ws in conns.items():
        print(name, await recv(name, ws, 1 if name == "b1" else TIMEOUT), flush=True)
    for ws in conns.values():
        await ws.close()
    print("done", flush=True)


asyncio.run(main())
