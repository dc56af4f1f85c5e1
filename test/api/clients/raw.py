#!/usr/bin/python3
"""raw.py — a WebSocket client built on plain sockets, for the API tests: it sends
exactly the bytes it is told to (hand-built frames, broken requests) and prints what
the server sends back, one event per line, so a test can assert the exact answer.

usage: raw.py PORT [options] ACTION...

options
  --rcvbuf N      shrink SO_RCVBUF to N bytes before connecting
  --hold N        first open N WebSocket connections (each must get 101) and keep them
                  open until the end
  --trickle       send buffered bytes one byte per write
  --timeout S     deadline of each read step (default 10 s)
  --no-close-reply  do not answer a close frame with one
  --answer-pings  answer each ping with a pong carrying its payload
  --repeat N      run the actions N times, each time on a new connection

actions (sends are buffered and leave in one write at the next read, sleep or flush,
so a request and the frames after it can share one segment)
  hs                 a valid handshake request for /echo
  hs:PATH            the same for another request target
  text:STRING        the bytes of STRING as they are
  hex:HEX            raw bytes
  frame:K=V,...      a frame: fin=1 rsv=0 op=1 mask=1, payload from str=, hex=,
                     len=N ('a' * N), code=N (close code first) then reason=/rhex=;
                     hdrlen=N declares a payload length of N but sends only the
                     payload given
  flush              send what is buffered
  sleep:MS           flush, then sleep
  http               read the response head: "http STATUS", then "header name: value"
  readn:N            read N frames and print them
  read               read frames until the server closes TCP: prints each frame,
                     "close CODE REASON" (or "close empty"), then "eof" / "reset" /
                     "timeout"
  flood:N,SIZE       send N masked binary messages of SIZE bytes, never reading;
                     prints "flood sent K" (K < N when the server cut us off)
  pingflood:N        send N masked pings of 125 bytes, never reading; prints
                     "pingflood sent K"
  eof                read and discard until the server closes: "bytes N" and
                     "eof" / "reset" / "timeout"
Lines: "frame OP FIN LEN HEX" (HEX: the first 64 payload bytes), "pong HEX",
"ping HEX", "text STRING" for whole text frames up to 200 bytes.
"""
import os
import socket
import struct
import sys
import time

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def out(*a):
    print(*a, flush=True)


def request(path):
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")


def mask(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def build_frame(spec):
    kv = {}
    for part in spec.split(",") if spec else []:
        k, _, v = part.partition("=")
        kv[k] = v
    fin = int(kv.get("fin", 1))
    rsv = int(kv.get("rsv", 0))
    op = int(kv.get("op", 1))
    masked = int(kv.get("mask", 1))
    payload = b""
    if "code" in kv:
        payload += struct.pack("!H", int(kv["code"]))
    if "reason" in kv:
        payload += kv["reason"].encode()
    if "rhex" in kv:
        payload += bytes.fromhex(kv["rhex"])
    if "str" in kv:
        payload += kv["str"].encode()
    if "hex" in kv:
        payload += bytes.fromhex(kv["hex"])
    if "len" in kv:
        payload += b"a" * int(kv["len"])
    n = int(kv["hdrlen"]) if "hdrlen" in kv else len(payload)
    return encode(fin, rsv, op, masked, payload, n)


def encode(fin, rsv, op, masked, payload, n=None):
    if n is None:
        n = len(payload)
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (op & 15)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if masked:
        key = os.urandom(4)
        return head + key + mask(payload, key)
    return head + payload


class Conn:
    def __init__(self, port, rcvbuf=0, timeout=10.0):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""
        self.pending = b""
        self.timeout = timeout
        self.trickle = False
        self.closed = None  # "eof" / "reset" once the server closed

    def flush(self):
        data, self.pending = self.pending, b""
        try:
            if self.trickle:
                for i in range(len(data)):
                    self.s.sendall(data[i:i + 1])
                    time.sleep(0.001)
            else:
                self.s.sendall(data)
        except OSError as e:
            out("send-error", e.__class__.__name__)

    def fill(self, deadline):
        """Reads more bytes; returns False once the server closed or the deadline
        passed (and prints which)."""
        if self.closed:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            self.closed = "timeout"
            return False
        self.s.settimeout(left)
        try:
            d = self.s.recv(1 << 20)
        except socket.timeout:
            self.closed = "timeout"
            return False
        except ConnectionResetError:
            self.closed = "reset"
            return False
        if not d:
            self.closed = "eof"
            return False
        self.buf += d
        return True

    def need(self, n, deadline):
        while len(self.buf) < n:
            if not self.fill(deadline):
                return None
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def http(self):
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if not self.fill(deadline):
                out("http none", self.closed)
                return False
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        out("http", parts[1] if len(parts) > 1 else "?")
        out("status-line", lines[0])
        for ln in lines[1:]:
            name, _, value = ln.partition(":")
            out("header", name.strip().lower() + ":", value.strip())
            if name.strip().lower() == "sec-websocket-accept" and value.strip() != ACCEPT:
                out("bad-accept")
        return parts[1] == "101" if len(parts) > 1 else False

    def frame(self, deadline):
        h = self.need(2, deadline)
        if h is None:
            return None
        fin, rsv, op = h[0] >> 7, (h[0] >> 4) & 7, h[0] & 15
        masked, n = h[1] >> 7, h[1] & 127
        if n == 126:
            e = self.need(2, deadline)
            if e is None:
                return None
            n = struct.unpack("!H", e)[0]
        elif n == 127:
            e = self.need(8, deadline)
            if e is None:
                return None
            n = struct.unpack("!Q", e)[0]
        if masked:
            out("server-frame-masked")
            if self.need(4, deadline) is None:
                return None
        if rsv:
            out("server-frame-rsv", rsv)
        p = self.need(n, deadline)
        if p is None:
            out("partial-frame", op, n)
            return None
        return fin, op, p

    def show(self, fin, op, p, answer_pings, close_reply):
        out("frame", op, fin, len(p), p[:64].hex())
        if op == 1 and fin and len(p) <= 200:
            out("text", p.decode("utf-8", "replace"))
        elif op == 9:
            out("ping", p.hex())
            if answer_pings:
                self.pending += encode(1, 0, 10, 1, p)
                self.flush()
        elif op == 10:
            out("pong", p.hex())
        elif op == 8:
            if len(p) >= 2:
                code = struct.unpack("!H", p[:2])[0]
                out("close", code, p[2:].decode("utf-8", "replace"))
            else:
                out("close", "empty" if not p else "short")
            if close_reply:
                self.pending += encode(1, 0, 8, 1, p[:2])
                self.flush()
            return True
        return False


def main():
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
    args = sys.argv[1:]
    port = int(args.pop(0))
    rcvbuf = 0
    hold = 0
    trickle = False
    timeout = 10.0
    close_reply = True
    answer_pings = False
    repeat = 1
    while args and args[0].startswith("--"):
        o = args.pop(0)
        if o == "--rcvbuf":
            rcvbuf = int(args.pop(0))
        elif o == "--hold":
            hold = int(args.pop(0))
        elif o == "--trickle":
            trickle = True
        elif o == "--timeout":
            timeout = float(args.pop(0))
        elif o == "--no-close-reply":
            close_reply = False
        elif o == "--answer-pings":
            answer_pings = True
        elif o == "--repeat":
            repeat = int(args.pop(0))
        else:
            sys.exit("raw.py: unknown option " + o)

    held = []
    for _ in range(hold):
        h = Conn(port, timeout=timeout)
        h.pending = request("/echo")
        h.flush()
        if not h.http():
            sys.exit("raw.py: a held connection was refused")
        held.append(h)
    if hold:
        out("held", len(held))

    for _ in range(repeat):
        c = Conn(port, rcvbuf, timeout)
        c.trickle = trickle
        for a in args:
            verb, _, arg = a.partition(":")
            if verb == "hs":
                c.pending += request(arg or "/echo")
            elif verb == "text":
                c.pending += arg.encode("utf-8", "surrogateescape")
            elif verb == "hex":
                c.pending += bytes.fromhex(arg)
            elif verb == "frame":
                c.pending += build_frame(arg)
            elif verb == "flush":
                c.flush()
            elif verb == "sleep":
                c.flush()
                time.sleep(int(arg) / 1000)
            elif verb == "http":
                c.flush()
                c.http()
            elif verb == "readn":
                c.flush()
                deadline = time.monotonic() + timeout
                for _ in range(int(arg)):
                    f = c.frame(deadline)
                    if f is None:
                        out(c.closed)
                        break
                    c.show(*f, answer_pings, close_reply)
            elif verb == "read":
                c.flush()
                deadline = time.monotonic() + timeout
                while True:
                    f = c.frame(deadline)
                    if f is None:
                        break
                    c.show(*f, answer_pings, close_reply)
                if c.buf:
                    out("trailing", len(c.buf))
                out(c.closed)
            elif verb == "flood":
                c.flush()
                n, size = (int(x) for x in arg.split(","))
                sent = 0
                c.s.settimeout(timeout)
                try:
                    for _ in range(n):
                        c.s.sendall(encode(1, 0, 2, 1, b"f" * size))
                        sent += 1
                except OSError as e:
                    out("send-error", e.__class__.__name__)
                out("flood sent", sent)
            elif verb == "pingflood":
                c.flush()
                n, sent = int(arg), 0
                ping = encode(1, 0, 9, 1, b"p" * 125)
                c.s.settimeout(timeout)
                try:
                    while sent < n:
                        k = min(1000, n - sent)
                        c.s.sendall(ping * k)
                        sent += k
                except OSError as e:
                    out("send-error", e.__class__.__name__)
                out("pingflood sent", sent)
            elif verb == "eof":
                c.flush()
                deadline = time.monotonic() + timeout
                total = len(c.buf)
                c.buf = b""
                while c.fill(deadline):
                    total += len(c.buf)
                    c.buf = b""
                out("bytes", total)
                out(c.closed)
            else:
                sys.exit("raw.py: unknown action " + a)
        c.flush()
        c.s.close()
    out("done")


if __name__ == "__main__":
    main()
