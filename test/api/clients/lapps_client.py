#!/usr/bin/python3
"""lapps_client.py — a LAppS-protocol client for the API tests: python3-websockets for
the connection and python3-cbor2 as the independent CBOR encoder and decoder. Prints
every message the server sends as one line of JSON (byte strings as "hex:..."), so the
tests assert exact answers.

usage: lapps_client.py MODE URI [ARGS]
modes
  send URI HEX...      sends each argument as one binary message (hex of any bytes, or
                       "cbor:" + a Python literal, encoded by cbor2), reading one answer
                       after each ("N*" before an argument: N answers); "text:STRING"
                       sends a text message; "cn:" + a literal sends a client
                       notification (no answer is read)
  read URI N HEX...    sends everything first, then reads N messages
  pipeline URI N       N echo requests written back to back, then N answers read: prints
                       "ordered N" if answer i is [i]
  closing URI HEX      sends one message and closes at once without reading
  unanswered URI N     N requests of the method "hold" (which the service leaves
                       unanswered) back to back, then reads one message
Every mode prints "done" last; a close from the server prints "close CODE REASON".
"""
import ast
import asyncio
import json
import sys

import cbor2
import websockets

TIMEOUT = 30


def out(*a):
    print(*a, flush=True)


def show(obj):
    def default(o):
        if isinstance(o, (bytes, bytearray)):
            return "hex:" + o.hex()
        raise TypeError(repr(o))
    return json.dumps(obj, default=default, separators=(",", ":"))


def encode(arg):
    if arg.startswith("cbor:"):
        return cbor2.dumps(ast.literal_eval(arg[5:]))
    if arg.startswith("cn:"):
        return cbor2.dumps(ast.literal_eval(arg[3:]))
    if arg.startswith("text:"):
        return arg[5:]
    return bytes.fromhex(arg)


async def read_one(ws):
    try:
        m = await asyncio.wait_for(ws.recv(), TIMEOUT)
    except websockets.exceptions.ConnectionClosed as e:
        out("close", e.rcvd.code if e.rcvd else "none", e.rcvd.reason if e.rcvd else "")
        return False
    if isinstance(m, str):
        out("text", m)
    else:
        out(show(cbor2.loads(m)))
    return True


async def main():
    mode, uri = sys.argv[1], sys.argv[2]
    async with websockets.connect(uri, max_size=None) as ws:
        if mode == "send":
            for arg in sys.argv[3:]:
                answers = 1
                star = arg.find("*")
                if 0 < star < 4 and arg[:star].isdigit():
                    answers, arg = int(arg[:star]), arg[star + 1:]
                await ws.send(encode(arg))
                if arg.startswith("cn:"):
                    continue
                for _ in range(answers):
                    if not await read_one(ws):
                        break
        elif mode == "read":
            n = int(sys.argv[3])
            for arg in sys.argv[4:]:
                await ws.send(encode(arg))
            for _ in range(n):
                if not await read_one(ws):
                    break
        elif mode == "pipeline":
            n = int(sys.argv[3])
            msgs = [cbor2.dumps({"lapps": 1, "method": "echo", "params": [i]}) for i in range(n)]
            for m in msgs:
                await ws.send(m)
            ok = 0
            for i in range(n):
                r = cbor2.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if r == {"cid": 0, "result": [i], "status": 1}:
                    ok += 1
                else:
                    out("unexpected", i, show(r))
                    break
            out("ordered", ok)
        elif mode == "unanswered":
            n = int(sys.argv[3])
            msg = cbor2.dumps({"lapps": 1, "method": "hold"})
            for i in range(n):
                await ws.send(msg)
            await read_one(ws)
        elif mode == "closing":
            await ws.send(encode(sys.argv[3]))
        else:
            sys.exit("unknown mode " + mode)
    out("done")


asyncio.run(main())
