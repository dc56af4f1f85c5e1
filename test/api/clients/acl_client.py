#!/usr/bin/python3
"""acl_client.py — connects from a chosen source address and says how the server
answered a WebSocket handshake, for the ACL tests.

usage: acl_client.py HOST PORT SOURCE [--path P] [--count N] [--timeout S]

Each of N connections (default 1) binds SOURCE (port 0), connects to HOST:PORT, sends
a handshake for P (default /echo) and prints one line:
  "http STATUS"  the status line of the answer (after a 101 it closes cleanly: a close
                 frame 1000, then it reads until the server's FIN; after anything else it
                 reads until the FIN);
  "closed"       the server closed or reset the connection before any answer;
  "timeout"      nothing came within S seconds (default 5).
Exit status 0 unless an argument is wrong or a socket cannot be bound.
"""
import os
import socket
import struct
import sys
import time


def request(host, path):
    h = "[%s]" % host if ":" in host else host
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (path, h)).encode()


def close_frame():
    mask = os.urandom(4)
    payload = struct.pack("!H", 1000)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x88, 0x80 | len(payload)]) + mask + masked


def read_to_eof(s, deadline):
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            if not s.recv(4096):
                return
    except OSError:
        return


def one(host, port, source, path, timeout):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
    except OSError as e:
        print("cannot bind %s: %s" % (source, e), file=sys.stderr)
        sys.exit(2)
    deadline = time.monotonic() + timeout
    s.settimeout(timeout)
    head = b""
    try:
        s.connect((host, port))
        s.sendall(request(host, path))
        while b"\r\n\r\n" not in head:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    except socket.timeout:
        print("timeout", flush=True)
        s.close()
        return
    except OSError:  # reset, broken pipe: refused at accept
        pass
    if not head:
        print("closed", flush=True)
        s.close()
        return
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    print("http %s" % (parts[1] if len(parts) > 1 else "?"), flush=True)
    try:
        if len(parts) > 1 and parts[1] == "101":
            s.sendall(close_frame())
        read_to_eof(s, deadline)
    except OSError:
        pass
    s.close()


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    host, port, source = args[0], int(args[1]), args[2]
    path, count, timeout = "/echo", 1, 5.0
    i = 3
    while i < len(args):
        if args[i] == "--path":
            path = args[i + 1]
        elif args[i] == "--count":
            count = int(args[i + 1])
        elif args[i] == "--timeout":
            timeout = float(args[i + 1])
        else:
            print("unknown argument " + args[i], file=sys.stderr)
            sys.exit(2)
        i += 2
    for _ in range(count):
        one(host, port, source, path, timeout)


if __name__ == "__main__":
    main()
