#!/usr/bin/python3
"""echo_lapps_client.py — drives the echo_lapps example (examples/lua) through its whole
protocol with python3-websockets and python3-cbor2, printing one line per answer with the
random authkey replaced by "KEY", so a test can compare the output exactly.

usage: echo_lapps_client.py URI
"""
import asyncio
import json
import sys

import cbor2
import websockets

TIMEOUT = 30


def req(method, params=None):
    m = {"lapps": 1, "method": method}
    if params is not None:
        m["params"] = params
    return cbor2.dumps(m)


async def answer(ws, key=None):
    try:
        r = cbor2.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    except websockets.exceptions.ConnectionClosed as e:
        print("close", e.rcvd.code if e.rcvd else "none", flush=True)
        return None
    if key == "login":
        key = r.get("result", [{}])[0].get("authkey")
    text = json.dumps(r, sort_keys=True, default=lambda b: "hex:" + b.hex())
    if key is not None:
        text = text.replace(str(key), "KEY")
    print(text, flush=True)
    return r


async def main():
    uri = sys.argv[1]
    async with websockets.connect(uri) as ws:
        await ws.send(req("echo", [1, "x"]))
        await answer(ws)
        await ws.send(req("login", [{"user": "admin", "password": "wrong"}]))
        await answer(ws)
        await answer(ws)
    async with websockets.connect(uri) as ws:
        await ws.send(req("login", [{"user": "guest", "password": "guest"}]))
        r = await answer(ws, "login")
        key = r["result"][0]["authkey"]
        print("key is an integer:", isinstance(key, int) and not isinstance(key, bool), flush=True)
        await ws.send(req("echo", [key, "a", 1, b"\x00\xff", {"k": [True, None]}]))
        await answer(ws, key)
        await ws.send(req("echo", [key + 1, "a"]))
        await answer(ws, key)
        await ws.send(req("nope"))
        await answer(ws, key)
        await ws.send(cbor2.dumps({"lapps": 1, "method": "logout", "cid": 1}))
        await answer(ws, key)
    print("done", flush=True)


asyncio.run(main())
