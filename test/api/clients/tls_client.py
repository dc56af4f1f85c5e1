#!/usr/bin/python3
"""tls_client.py — wss:// clients for the API tests: python3-websockets over Python's
ssl (Debian's, run with /usr/bin/python3), hand-driven TLS through ssl.MemoryBIO for
the misbehaving peers, and `openssl s_client` / `s_server` for protocol versions.
Server certificates are always verified against the test CA (CA argument).

usage: tls_client.py MODE ARGS...
  echo URI CA [large]       text, binary, empty text, empty binary and 64 KiB messages
                            (large: 4 MiB binary and text too) come back unchanged; asks
                            the service "!cmd:tls" and prints its answer ("tls 1");
                            prints "fingerprint HEX" of the server's certificate (wss)
  connect URI CA [CERT KEY] opens one connection (presenting CERT/KEY when given), echoes
                            one message: "opened", "fingerprint HEX", "close 1000";
                            or, when the server will not have it, "refused ERROR"
  many URI CA N             N connections open at once, each echoes one message while all
                            are open: "ok N"
  load URI CA N TRIGGER     opens N connections ("open N"), then each echoes messages in
                            a loop until the file TRIGGER exists; then each echoes once
                            more and closes: "after-trigger N", "fingerprints K HEX"
                            (K distinct peer certificates, the first), "echoes TOTAL"
  sclient PORT ws|tls -- ARGS...
                            runs `openssl s_client -connect 127.0.0.1:PORT -brief ARGS`;
                            with ws it also sends a WebSocket upgrade for /echo through
                            the session and waits for the answer. Prints "established
                            VERSION SUITE" (and "http 101") or "refused"
  control CERT KEY SERVER_ARGS... -- CLIENT_ARGS...
                            starts `openssl s_server` with CERT/KEY and SERVER_ARGS on a
                            free port and runs the tls variant of sclient against it
  garbage PORT              sends a plain HTTP upgrade request (no ClientHello) and reads
                            until the server closes: "bytes N", then "eof" / "reset" /
                            "timeout"
  partial PORT N            sends the first N bytes of a real ClientHello (made by
                            Python's ssl through a memory BIO) and nothing more, then
                            reads until the server closes: "hello LEN", "bytes N",
                            "eof" / "reset" / "timeout", "elapsed-ms MS"
  stall PORT CA             TLS handshake and WebSocket upgrade, one echo ("open"), then
                            half of the TLS record of a frame, and nothing more
                            ("stalled"); prints what the server sends after that
                            ("close CODE REASON") and how it ends ("eof" / "reset" /
                            "timeout")
  pipelined PORT CA N       N connections one after another, each sending the upgrade
                            request and a frame in one TLS record and a second frame in
                            the next (one TCP segment): both echoed, then a clean close;
                            "ok N"
  cycles PORT CA N          N connections one after another, ended six ways in turn:
                            0 TLS + upgrade + echo + close handshake; 1 TLS + upgrade,
                            then TCP closed without a close frame; 2 TLS handshake, then
                            a reset; 3 half a ClientHello, then close; 4 garbage, then
                            close; 5 TCP connect and close. "opened K" (101s), "clean K"
Options: --timeout S (each read's deadline, default 20 s). Every mode prints "done"
last; any surprise exits non-zero with the reason on stderr.
"""
import asyncio
import hashlib
import os
import re
import resource
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import time

import websockets

TIMEOUT = 20.0
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
REQUEST = (b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY +
           b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def fail(msg):
    print("FAIL:", msg, file=sys.stderr, flush=True)
    sys.exit(1)


def out(*a):
    print(*a, flush=True)


def client_context(ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def fingerprint(ssl_object):
    return hashlib.sha256(ssl_object.getpeercert(binary_form=True)).hexdigest()


# ---- websockets ----

def connect(uri, ctx, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", TIMEOUT)
    kw.setdefault("close_timeout", 10)
    if uri.startswith("wss:"):
        kw["ssl"] = ctx
    return websockets.connect(uri, **kw)


def ws_fingerprint(ws):
    obj = ws.transport.get_extra_info("ssl_object")
    return fingerprint(obj) if obj else None


async def expect_echo(ws, msg, name=None):
    await ws.send(msg)
    got = await asyncio.wait_for(ws.recv(), TIMEOUT)
    if type(got) is not type(msg) or got != msg:
        fail(f"{name or 'echo'}: echo differs (sent {type(msg).__name__} of {len(msg)}, "
             f"got {type(got).__name__} of {len(got)})")
    if name:
        out("ok", name, len(msg))


async def mode_echo(uri, ca, large=None):
    async with connect(uri, client_context(ca)) as ws:
        await expect_echo(ws, "hello", "text")
        await expect_echo(ws, bytes(range(256)), "binary")
        await expect_echo(ws, "", "empty-text")
        await expect_echo(ws, b"", "empty-binary")
        await expect_echo(ws, bytes(i * 7 & 255 for i in range(65536)), "binary-64k")
        if large:
            await expect_echo(ws, bytes(i * 31 & 255 for i in range(1 << 16)) * 64, "binary-4m")
            await expect_echo(ws, "\u00e9" * (1 << 21), "text-4m")
        await ws.send("!cmd:tls")
        out(await asyncio.wait_for(ws.recv(), TIMEOUT))
        fp = ws_fingerprint(ws)
        if fp:
            out("fingerprint", fp)
        await ws.close()
        out("close", ws.close_code)


async def mode_connect(uri, ca, cert=None, key=None):
    try:
        ws = await connect(uri, client_context(ca, cert, key))
        await expect_echo(ws, "hello")
    except (OSError, ssl.SSLError, asyncio.TimeoutError,
            websockets.exceptions.WebSocketException) as e:
        out("refused", type(e).__name__, str(e).replace("\n", " "))
        return
    out("opened")
    out("fingerprint", ws_fingerprint(ws))
    await ws.close()
    out("close", ws.close_code)


async def mode_many(uri, ca, n):
    n = int(n)
    ctx = client_context(ca)
    all_open, all_answered = asyncio.Event(), asyncio.Event()
    opened = answered = 0
    sem = asyncio.Semaphore(100)

    async def one(i):
        nonlocal opened, answered
        async with sem:
            ws = await connect(uri, ctx)
        try:
            opened += 1
            if opened == n:
                all_open.set()
            await asyncio.wait_for(all_open.wait(), 60)
            await expect_echo(ws, f"client {i}")
            await expect_echo(ws, bytes([i & 255]) * (1000 + 37 * i))
            answered += 1
            if answered == n:
                all_answered.set()
            await asyncio.wait_for(all_answered.wait(), 60)
        finally:
            await ws.close()
        return ws.close_code == 1000

    res = await asyncio.gather(*(one(i) for i in range(n)))
    out("ok", sum(1 for r in res if r))


async def mode_load(uri, ca, n, trigger):
    n = int(n)
    ctx = client_context(ca)
    conns = [await connect(uri, ctx) for _ in range(n)]
    for i, ws in enumerate(conns):
        await expect_echo(ws, f"first {i}")
    out("open", n)
    echoes = 0

    async def loop(i, ws):
        nonlocal echoes
        k = 0
        while not os.path.exists(trigger):
            await expect_echo(ws, f"load {i} {k}" + "x" * (k % 3000))
            echoes += 1
            k += 1
            await asyncio.sleep(0.005)
        await expect_echo(ws, bytes([i]) * 100000)  # after the reload: still served

    await asyncio.gather(*(loop(i, ws) for i, ws in enumerate(conns)))
    out("after-trigger", n)
    fps = [ws_fingerprint(ws) for ws in conns]
    out("fingerprints", len(set(fps)), fps[0])
    out("echoes", echoes)
    for ws in conns:
        await ws.close()
        if ws.close_code != 1000:
            fail(f"close code {ws.close_code}")


# ---- openssl s_client / s_server ----

def read_until(proc, pred, deadline):
    """Reads proc's stdout into a string until pred(text) or EOF or the deadline."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    text = b""
    while not pred(text.decode(errors="replace")):
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            break
        d = os.read(proc.stdout.fileno(), 65536)
        if not d:
            break
        text += d
    sel.close()
    return text.decode(errors="replace")


def run_sclient(port, args, ws):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief"] + args
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    if ws:
        p.stdin.write(REQUEST)  # s_client sends it once the handshake is done
        p.stdin.flush()
    deadline = time.monotonic() + TIMEOUT

    def finished(t):
        if "CONNECTION ESTABLISHED" in t:
            return not ws or "\r\n\r\n" in t.split("CONNECTION ESTABLISHED", 1)[1]
        return False

    text = read_until(p, finished, deadline)
    p.stdin.close()  # s_client ends the session at the end of its input
    text += read_until(p, lambda t: False, deadline)
    try:
        p.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        fail("s_client did not finish:\n" + text)
    if "CONNECTION ESTABLISHED" in text:
        ver = re.search(r"Protocol version: (\S+)", text)
        suite = re.search(r"Ciphersuite: (\S+)", text)
        out("established", ver.group(1) if ver else "?", suite.group(1) if suite else "?")
        if ws:
            status = re.search(r"HTTP/1.1 (\d+)", text)
            out("http", status.group(1) if status else "none")
    else:
        out("refused")
        print(text, file=sys.stderr, flush=True)


def split_args(args):
    if "--" not in args:
        fail("expected -- in the arguments")
    i = args.index("--")
    return args[:i], args[i + 1:]


def mode_sclient(port, kind, *args):
    _, client_args = split_args(list(args))
    run_sclient(port, client_args, kind == "ws")


def mode_control(cert, key, *args):
    server_args, client_args = split_args(list(args))
    cmd = ["openssl", "s_server", "-accept", "0", "-naccept", "1", "-cert", cert,
           "-key", key] + server_args
    # Its standard input stays open: s_server ends at the end of its input.
    srv = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        text = read_until(srv, lambda t: re.search(r"ACCEPT .*:(\d+)\n", t),
                          time.monotonic() + TIMEOUT)
        m = re.search(r"ACCEPT .*:(\d+)\n", text)
        if not m:
            fail("s_server did not start:\n" + text)
        run_sclient(int(m.group(1)), client_args, False)
    finally:
        srv.kill()
        srv.wait()


# ---- TLS by hand, through memory BIOs ----

class TLS:
    def __init__(self, port, ctx=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.inc, self.outg = ssl.MemoryBIO(), ssl.MemoryBIO()
        if ctx:
            self.obj = ctx.wrap_bio(self.inc, self.outg, server_hostname="127.0.0.1")
        self.plain = b""
        self.ended = None  # "eof" / "reset" / "timeout"

    def client_hello(self):
        """The ClientHello the handshake starts with, not sent."""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outg.read()

    def flush(self):
        data = self.outg.read()
        if data:
            self.sock.sendall(data)

    def fill(self):
        """Moves what the socket has into the session; False when it ended."""
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            self.ended = "timeout"
            return False
        except ConnectionResetError:
            self.ended = "reset"
            return False
        if not d:
            self.ended = "eof"
            self.inc.write_eof()
            return False
        self.inc.write(d)
        return True

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self.fill():
                    fail("the server ended the TLS handshake: " + str(self.ended))
        self.flush()

    def encrypt(self, data):
        """The TLS record(s) carrying data, not sent."""
        self.obj.write(data)
        return self.outg.read()

    def send(self, data):
        self.sock.sendall(self.encrypt(data))

    def read_some(self):
        """Some plaintext into self.plain; False once the session or socket ended."""
        while True:
            try:
                d = self.obj.read(1 << 20)
                if not d:
                    self.ended = self.ended or "eof"
                    return False
                self.plain += d
                return True
            except ssl.SSLWantReadError:
                if not self.fill():
                    return False
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                self.ended = self.ended or "eof"
                return False

    def need(self, n):
        while len(self.plain) < n:
            if not self.read_some():
                return False
        return True

    def upgrade(self, extra=b""):
        self.send(REQUEST + extra)
        while b"\r\n\r\n" not in self.plain:
            if not self.read_some():
                fail("no answer to the upgrade request: " + str(self.ended))
        head, self.plain = self.plain.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101 "):
            fail(f"no 101: {head[:60]!r}")

    def frame(self):
        """The next frame from the server: (opcode, payload), or None when it ended."""
        if not self.need(2):
            return None
        b0, b1 = self.plain[0], self.plain[1]
        n, off = b1 & 127, 2
        if n == 126:
            if not self.need(4):
                return None
            n, off = struct.unpack("!H", self.plain[2:4])[0], 4
        elif n == 127:
            if not self.need(10):
                return None
            n, off = struct.unpack("!Q", self.plain[2:10])[0], 10
        if not self.need(off + n):
            return None
        payload = self.plain[off:off + n]
        self.plain = self.plain[off + n:]
        return b0 & 15, payload

    def drain(self):
        """Reads until the socket ends."""
        while self.read_some():
            pass
        return self.ended

    def close(self):
        self.sock.close()


def ws_frame(op, payload):
    """A masked frame (mask key 0: the payload reads as sent)."""
    n = len(payload)
    head = bytes([0x80 | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + b"\0\0\0\0" + payload


CLOSE_1000 = ws_frame(8, struct.pack("!H", 1000))


def expect_frame(t, op, payload, what):
    f = t.frame()
    if f != (op, payload):
        fail(f"{what}: expected ({op}, {payload[:40]!r}), got {f!r:.100} ({t.ended})")


def read_to_end(sock):
    """Reads until the server closes: (bytes read, how it ended)."""
    n = 0
    while True:
        try:
            d = sock.recv(65536)
        except socket.timeout:
            return n, "timeout"
        except ConnectionResetError:
            return n, "reset"
        if not d:
            return n, "eof"
        n += len(d)


def mode_garbage(port):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=TIMEOUT)
    s.sendall(REQUEST)
    n, how = read_to_end(s)
    out("bytes", n)
    out(how)
    s.close()


def mode_partial(port, n):
    t0 = time.monotonic()
    t = TLS(int(port), ssl.create_default_context())
    hello = t.client_hello()
    out("hello", len(hello))
    if len(hello) <= int(n):
        fail("the ClientHello is not longer than what should be sent of it")
    t.sock.sendall(hello[:int(n)])
    got, how = read_to_end(t.sock)
    out("bytes", got)
    out(how)
    out("elapsed-ms", int((time.monotonic() - t0) * 1000))
    t.close()


def mode_stall(port, ca):
    t = TLS(int(port), client_context(ca))
    t.handshake()
    t.upgrade()
    t.send(ws_frame(1, b"before the stall"))
    expect_frame(t, 1, b"before the stall", "echo")
    out("open")
    record = t.encrypt(ws_frame(1, b"never completed " * 64))
    if len(record) < 100:
        fail("record too short")
    t.sock.sendall(record[:len(record) // 2])
    out("stalled")
    while True:
        f = t.frame()
        if f is None:
            break
        op, payload = f
        if op == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            out("close", code, payload[2:].decode(errors="replace"))
        else:
            out("frame", op, len(payload))
    out(t.ended)
    t.close()


def mode_pipelined(port, ca, n):
    ctx = client_context(ca)
    for i in range(int(n)):
        t = TLS(int(port), ctx)
        t.handshake()
        first = t.encrypt(REQUEST + ws_frame(1, f"early {i}".encode()))
        second = t.encrypt(ws_frame(2, bytes([i & 255]) * 3000))
        t.sock.sendall(first + second)
        while b"\r\n\r\n" not in t.plain:
            if not t.read_some():
                fail(f"connection {i}: no answer: {t.ended}")
        head, t.plain = t.plain.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101 "):
            fail(f"connection {i}: no 101: {head[:60]!r}")
        expect_frame(t, 1, f"early {i}".encode(), f"connection {i}")
        expect_frame(t, 2, bytes([i & 255]) * 3000, f"connection {i}")
        t.send(CLOSE_1000)
        expect_frame(t, 8, struct.pack("!H", 1000), f"connection {i} close")
        if t.drain() != "eof":
            fail(f"connection {i}: ended by {t.ended}")
        t.close()
    out("ok", n)


def mode_cycles(port, ca, n):
    port = int(port)
    ctx = client_context(ca)
    opened = clean = 0
    for i in range(int(n)):
        kind = i % 6
        t = TLS(port, ctx if kind <= 3 else None)
        if kind <= 2:
            t.handshake()
        if kind <= 1:
            t.upgrade()
            opened += 1
        if kind == 0:
            t.send(ws_frame(1, b"hello"))
            expect_frame(t, 1, b"hello", f"cycle {i}")
            t.send(CLOSE_1000)
            expect_frame(t, 8, struct.pack("!H", 1000), f"cycle {i} close")
            if t.drain() != "eof":
                fail(f"cycle {i}: ended by {t.ended}")
            clean += 1
        elif kind == 2:
            t.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == 3:
            hello = t.client_hello()
            t.sock.sendall(hello[:len(hello) // 2])
        elif kind == 4:
            t.sock.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(64))
        t.close()
    out("opened", opened)
    out("clean", clean)


def main():
    global TIMEOUT
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--timeout":
        TIMEOUT = float(args[1])
        args = args[2:]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    mode, *rest = args
    aio = {"echo": mode_echo, "connect": mode_connect, "many": mode_many, "load": mode_load}
    plain = {"sclient": mode_sclient, "control": mode_control, "garbage": mode_garbage,
             "partial": mode_partial, "stall": mode_stall, "pipelined": mode_pipelined,
             "cycles": mode_cycles}
    if mode in aio:
        asyncio.run(aio[mode](*rest))
    elif mode in plain:
        plain[mode](*rest)
    else:
        fail("unknown mode " + mode)
    out("done")


if __name__ == "__main__":
    main()
