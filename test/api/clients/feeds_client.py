#!/usr/bin/python3
"""feeds_client.py — drives the broadcast examples of examples/lua through lappsd:
echo_lapps's "subscribe" to the time feed (time_broadcast, cid 5) and the chat room.
Prints one line per event, so a test can compare the output exactly.

usage: feeds_client.py HOST:PORT
"""
import asyncio
import json
import sys

import cbor2
import websockets

TIMEOUT = 10


def req(method, params=None):
    m = {"lapps": 1, "method": method}
    if params is not None:
        m["params"] = params
    return cbor2.dumps(m)


def cn(method, params):
    return cbor2.dumps({"lapps": 1, "method": method, "params": params, "cid": 1})


async def recv(ws, who=""):
    try:
        r = cbor2.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    except websockets.exceptions.ConnectionClosed as e:
        print(who + "close", e.rcvd.code if e.rcvd else "none", flush=True)
        return None
    except asyncio.TimeoutError:
        print(who + "timeout", flush=True)
        return None
    return r


def show(who, r):
    if r is not None:
        print(who + json.dumps(r, sort_keys=True), flush=True)


async def time_feed(base):
    uri = "ws://" + base + "/echo_lapps"
    async with websockets.connect(uri) as ws:
        await ws.send(req("login", [{"user": "guest", "password": "guest"}]))
        key = (await recv(ws))["result"][0]["authkey"]
        await ws.send(cn("subscribe", [key]))
        for _ in range(2):
            r = await recv(ws)
            ok = (r is not None and r.get("cid") == 5 and
                  r["message"][0].startswith("Server time: "))
            print("time feed", "ok" if ok else r, flush=True)
    async with websockets.connect(uri) as ws:
        await ws.send(cn("subscribe", [12345]))
        await recv(ws, "no key: ")


async def chat(base):
    uri = "ws://" + base + "/chat"
    a = await websockets.connect(uri)
    b = await websockets.connect(uri)
    await a.send(req("join", ["ann"]))
    show("ann: ", await recv(a))
    show("ann: ", await recv(a))
    await b.send(req("join", ["bob"]))
    show("bob: ", await recv(b))
    show("bob: ", await recv(b))
    show("ann: ", await recv(a))
    await b.send(req("join", ["bob"]))
    show("bob: ", await recv(b))
    await a.send(req("say", ["hello"]))
    show("ann: ", await recv(a))
    show("ann: ", await recv(a))
    show("bob: ", await recv(b))
    await b.send(req("members"))
    show("bob: ", await recv(b))
    await b.close()
    show("ann: ", await recv(a))
    await a.send(req("members"))
    show("ann: ", await recv(a))
    await a.close()


async def main():
    await time_feed(sys.argv[1])
    await chat(sys.argv[1])
    print("done", flush=True)


asyncio.run(main())
