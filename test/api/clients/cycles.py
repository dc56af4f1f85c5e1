#!/usr/bin/python3
"""cycles.py — many short connections, for the fd-leak test.

usage: cycles.py PORT N
Runs N connections one after another, rotating through five ways to end one:
  0 handshake, one echoed message, close handshake (client first), wait for the FIN
  1 handshake, then the client just closes TCP (no close frame)
  2 handshake, then the client resets TCP (SO_LINGER 0)
  3 TCP connect, half a request, close
  4 TCP connect and close at once
Prints "opened K" (how many got a 101: kinds 0-2) and "clean K" (kind 0 finished
with the server's close frame and FIN), then "done". Exits 1 on any surprise."""
import os
import socket
import struct
import sys

REQ = (b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
       b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       b"Sec-WebSocket-Version: 13\r\n\r\n")
MSG = b"\x81\x85" + b"\x00\x00\x00\x00" + b"hello"       # masked with a zero key
CLOSE = b"\x88\x82" + b"\x00\x00\x00\x00" + struct.pack("!H", 1000)


def fail(msg):
    print("FAIL:", msg, file=sys.stderr, flush=True)
    sys.exit(1)


def read_until(s, pred):
    buf = b""
    while not pred(buf):
        d = s.recv(65536)
        if not d:
            return buf, True
        buf += d
    return buf, False


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    opened = clean = 0
    for i in range(n):
        kind = i % 5
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(("127.0.0.1", port))
        if kind <= 2:
            s.sendall(REQ)
            head, eof = read_until(s, lambda b: b"\r\n\r\n" in b)
            if not head.startswith(b"HTTP/1.1 101 "):
                fail(f"cycle {i}: no 101: {head[:40]!r}")
            opened += 1
        if kind == 0:
            s.sendall(MSG)
            rest = head.split(b"\r\n\r\n", 1)[1]
            buf, eof = read_until(s, lambda b: len(b) >= len(rest) + 7)
            if (rest + buf)[:7] != b"\x81\x05hello":
                fail(f"cycle {i}: bad echo")
            s.sendall(CLOSE)
            buf, eof = read_until(s, lambda b: False)  # to the server's FIN
            if buf != b"\x88\x02\x03\xe8":
                fail(f"cycle {i}: bad close {buf!r}")
            clean += 1
        elif kind == 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == 3:
            s.sendall(REQ[:30])
        s.close()
    print("opened", opened, flush=True)
    print("clean", clean, flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
