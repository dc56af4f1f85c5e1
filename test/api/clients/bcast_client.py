#!/usr/bin/python3
"""bcast_client.py — many subscribers of a broadcast, for the API tests.

usage: bcast_client.py PORT N [--stall M] [--path P] [--timeout S]

Opens N WebSocket connections to ws://127.0.0.1:PORT/P (default /echo) that read, and
M more that shrink SO_RCVBUF to 4096 bytes, ask the harness's service to fill their
pipe ("!cmd:produce", which stops at half the outbound limit) and never read. Prints
"ready" once all are open, then reads on the N until each has received the text
message "end". Every other message must be text "S:I" (sender S, its I-th message),
maybe followed by a space and padding:
each connection must see, per sender, I = 0, 1, 2, ... with none missing or repeated.
Prints "ok N MESSAGES" (MESSAGES: what each connection got before "end", the same for
all) or one "bad ..." line per fault, then exits (status 0 either way; the test judges
the lines). Plain sockets and selectors, so a thousand connections stay cheap.
"""
import os
import selectors
import socket
import sys
import time

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def out(*a):
    print(*a, flush=True)


def connect(port, path, rcvbuf, deadline):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(max(0.1, deadline - time.monotonic()))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + KEY +
              b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise OSError("closed during the handshake")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise OSError("no 101: " + head.split(b"\r\n")[0].decode("latin-1"))
    return s, rest


class Reader:
    def __init__(self, sock, rest):
        self.s = sock
        self.buf = bytearray(rest)
        self.next = {}  # sender → next index
        self.count = 0
        self.done = False
        self.fault = None

    def parse(self):
        """Takes the whole frames in buf."""
        b, off = self.buf, 0
        while not self.done and len(b) - off >= 2:
            op, n, h = b[off] & 15, b[off + 1] & 127, 2
            if n == 126:
                if len(b) - off < 4:
                    break
                n, h = int.from_bytes(b[off + 2:off + 4], "big"), 4
            elif n == 127:
                if len(b) - off < 10:
                    break
                n, h = int.from_bytes(b[off + 2:off + 10], "big"), 10
            if len(b) - off < h + n:
                break
            payload = bytes(b[off + h:off + h + n])
            off += h + n
            self.frame(op, payload)
        del b[:off]

    def frame(self, op, payload):
        if op == 8:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 0
            self.fault = "closed %d" % code
            self.done = True
            return
        if op != 1:
            self.fault = "opcode %d" % op
            self.done = True
            return
        if payload == b"end":
            self.done = True
            return
        sender, _, i = payload.decode().partition(":")
        i = i.split(" ", 1)[0]  # padding may follow
        want = self.next.get(sender, 0)
        if int(i) != want:
            self.fault = "sender %s: got %s, expected %d" % (sender, i, want)
            self.done = True
            return
        self.next[sender] = want + 1
        self.count += 1


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    stall, path, timeout = 0, "/echo", 60.0
    args = sys.argv[3:]
    while args:
        o = args.pop(0)
        if o == "--stall":
            stall = int(args.pop(0))
        elif o == "--path":
            path = args.pop(0)
        elif o == "--timeout":
            timeout = float(args.pop(0))
    deadline = time.monotonic() + timeout
    readers = []
    stalled = []
    for _ in range(n):
        s, rest = connect(port, path, 0, deadline)
        readers.append(Reader(s, rest))
    for _ in range(stall):
        s = connect(port, path, 4096, deadline)[0]
        cmd = b"!cmd:produce 1000000 4096"
        key = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(cmd)]) + key +
                  bytes(b ^ key[i % 4] for i, b in enumerate(cmd)))
        stalled.append(s)
    out("ready")
    sel = selectors.DefaultSelector()
    for r in readers:
        r.s.setblocking(False)
        sel.register(r.s, selectors.EVENT_READ, r)
        r.parse()
    left = sum(1 for r in readers if not r.done)
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            r = key.data
            try:
                d = r.s.recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError as e:
                d, r.fault = b"", "error " + e.__class__.__name__
            if not d:
                r.fault = r.fault or "eof"
                r.done = True
            else:
                r.buf += d
                r.parse()
            if r.done:
                sel.unregister(r.s)
                left -= 1
    faults = 0
    for i, r in enumerate(readers):
        if not r.done:
            r.fault = "timeout after %d" % r.count
        if r.fault:
            faults += 1
            if faults <= 10:
                out("bad conn %d: %s" % (i, r.fault))
    counts = {r.count for r in readers}
    if not faults and len(counts) > 1:
        out("bad counts differ:", sorted(counts)[:5])
    elif not faults:
        out("ok", n, counts.pop() if counts else 0)
    for r in readers:
        r.s.close()
    for s in stalled:
        s.close()


if __name__ == "__main__":
    main()
