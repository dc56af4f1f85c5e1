#!/usr/bin/python3
"""ws_client.py — normal WebSocket traffic for the API tests, through Debian's
python3-websockets (an independent client implementation). Run with /usr/bin/python3.

usage: ws_client.py MODE URI [ARGS]
  echo URI [large]    text, binary, empty, non-ASCII, 64 KiB, (large: 16 MiB binary and
                      text) messages must come back unchanged
  fragments URI       fragmented text and binary messages come back whole
  ping URI            a ping with a payload is answered with a matching pong
  close URI CODE [R]  closes with CODE and reason R; prints "close CODE REASON" of the
                      server's answer
  many URI N          N connections open at once; each echoes one message while all are
                      open; prints "ok N"
  hold URI N          opens N connections, prints "open N", waits until the server closes
                      them, prints "closed CODE COUNT" lines
  wait-msg URI        waits for one message from the server ("msg TEXT"), then for the
                      server's close ("close CODE REASON")
  tryopen URI N       opens N connections one after another, keeping those that got
                      101; prints "opened K refused R" (R: answered 503), closes all
  count URI N         receives N text messages that must read "0", "1", ... in order
                      ("ok N"), then waits for the server's close ("close CODE REASON")
  idle URI SECONDS    stays idle (no client pings) for SECONDS, then echoes a message
Every mode prints "done" last; any mismatch exits non-zero with the reason on stderr.
"""
import asyncio
import collections
import resource
import sys

import websockets

TIMEOUT = 60


def fail(msg):
    print("FAIL:", msg, file=sys.stderr, flush=True)
    sys.exit(1)


def out(*a):
    print(*a, flush=True)


def connect(uri, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", 20)
    kw.setdefault("close_timeout", 10)
    return websockets.connect(uri, **kw)


async def expect_echo(ws, msg, name):
    await ws.send(msg)
    got = await asyncio.wait_for(ws.recv(), TIMEOUT)
    if type(got) is not type(msg):
        fail(f"{name}: sent {type(msg).__name__}, got {type(got).__name__}")
    if got != msg:
        fail(f"{name}: echo differs (sent {len(msg)}, got {len(got)})")
    out("ok", name, len(msg))


async def mode_echo(uri, large=None):
    async with connect(uri) as ws:
        await expect_echo(ws, "hello", "text")
        await expect_echo(ws, bytes(range(256)), "binary")
        await expect_echo(ws, "", "empty-text")
        await expect_echo(ws, b"", "empty-binary")
        await expect_echo(ws, "h\u00e9llo w\u00f6rld \u20ac \U0001f600", "utf8")
        await expect_echo(ws, bytes(i * 7 & 255 for i in range(65536)), "binary-64k")
        if large:
            big = bytes(i * 31 & 255 for i in range(1 << 16)) * 256
            await expect_echo(ws, big, "binary-16m")
            await expect_echo(ws, "\u00e9" * (1 << 23), "text-16m")
        await ws.close()
        out("close", ws.close_code)


async def mode_fragments(uri):
    async with connect(uri) as ws:
        await ws.send(["frag", "ment", "ed \u00e9", ""])
        got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        if got != "fragmented \u00e9":
            fail(f"fragmented text: got {got!r}")
        out("ok fragmented-text")
        parts = [bytes([i]) * (1000 * i) for i in range(1, 40)]
        await ws.send(parts)
        got = await asyncio.wait_for(ws.recv(), TIMEOUT)
        if got != b"".join(parts):
            fail("fragmented binary differs")
        out("ok fragmented-binary", len(got))
        await ws.close()


async def mode_ping(uri):
    async with connect(uri) as ws:
        for payload in (b"", b"ping-data", bytes(125)):
            waiter = await ws.ping(payload)
            await asyncio.wait_for(waiter, TIMEOUT)
            out("ok pong", len(payload))
        await expect_echo(ws, "after pings", "text")
        await ws.close()


async def mode_close(uri, code, reason=""):
    ws = await connect(uri)
    await expect_echo(ws, "before close", "text")
    await ws.close(int(code), reason)
    rcvd = ws.close_rcvd
    if rcvd is None:
        fail("no close frame from the server")
    out("close", rcvd.code, rcvd.reason)


async def mode_many(uri, n):
    n = int(n)
    all_open, all_answered = asyncio.Event(), asyncio.Event()
    opened = answered = 0
    # At most 200 handshakes in flight, so the listen backlog never overflows.
    sem = asyncio.Semaphore(200)

    async def one(i):
        nonlocal opened, answered
        async with sem:
            ws = await connect(uri)
        try:
            opened += 1
            if opened == n:
                all_open.set()
            # Every connection is open before any of them talks, and all have been
            # answered before any closes: n connections really are open at once.
            await asyncio.wait_for(all_open.wait(), TIMEOUT)
            msg = f"client {i}"
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if got != msg:
                fail(f"echo differs: {got!r} != {msg!r}")
            answered += 1
            if answered == n:
                all_answered.set()
            await asyncio.wait_for(all_answered.wait(), TIMEOUT)
        finally:
            await ws.close()
        return ws.close_code == 1000

    res = await asyncio.gather(*(one(i) for i in range(n)))
    out("ok", sum(1 for r in res if r))


async def mode_hold(uri, n):
    n = int(n)
    conns = [await connect(uri) for _ in range(n)]
    for ws in conns:
        await expect_echo(ws, "hi", "text")
    out("open", n)
    codes = collections.Counter()
    for ws in conns:
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        codes[ws.close_rcvd.code if ws.close_rcvd else None] += 1
    for code, count in sorted(codes.items(), key=str):
        out("closed", code, count)


async def mode_wait_msg(uri):
    async with connect(uri) as ws:
        msg = await asyncio.wait_for(ws.recv(), TIMEOUT)
        out("msg", msg)
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        rcvd = ws.close_rcvd
        out("close", rcvd.code if rcvd else None, rcvd.reason if rcvd else "")


async def mode_tryopen(uri, n):
    conns, refused = [], 0
    for _ in range(int(n)):
        try:
            ws = await connect(uri)
        except websockets.exceptions.InvalidStatusCode as e:
            if e.status_code != 503:
                fail(f"status {e.status_code}")
            refused += 1
            continue
        await expect_echo_quiet(ws, "hi")
        conns.append(ws)
    out("opened", len(conns), "refused", refused)
    for ws in conns:
        await ws.close()


async def expect_echo_quiet(ws, msg):
    await ws.send(msg)
    got = await asyncio.wait_for(ws.recv(), TIMEOUT)
    if got != msg:
        fail(f"echo differs: {got!r} != {msg!r}")


async def mode_count(uri, n):
    async with connect(uri) as ws:
        for i in range(int(n)):
            msg = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if msg != str(i):
                fail(f"message {i}: got {msg!r}")
        out("ok", n)
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        rcvd = ws.close_rcvd
        out("close", rcvd.code if rcvd else None, rcvd.reason if rcvd else "")


async def mode_idle(uri, seconds):
    async with connect(uri) as ws:
        await asyncio.sleep(float(seconds))
        await expect_echo(ws, "still here", "text")
        await ws.close()
        out("close", ws.close_code)


def main():
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 20000) if hard != resource.RLIM_INFINITY else 20000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    mode, uri, *rest = sys.argv[1:]
    modes = {"echo": mode_echo, "fragments": mode_fragments, "ping": mode_ping,
             "close": mode_close, "many": mode_many, "hold": mode_hold,
             "wait-msg": mode_wait_msg, "count": mode_count, "tryopen": mode_tryopen, "idle": mode_idle}
    if mode not in modes:
        fail("unknown mode " + mode)
    asyncio.run(modes[mode](uri, *rest))
    out("done")


if __name__ == "__main__":
    main()
