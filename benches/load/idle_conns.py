#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each, reads
the response, then holds them all idle while measuring the server's RSS.

usage: idle_conns.py PORT SERVER_PID [N]
prints: rss_before_kib rss_after_kib per_connection_bytes
"""
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def still_open(s):
    """False once the server has closed `s` (a read would end it), else True."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    finally:
        s.setblocking(True)


REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def exchange(port):
    """A connection to the server that has been answered one GET."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(REQUEST)
    got = b""
    while b"Hello, World!" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("server closed a connection")
        got += chunk
    return s


def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    # One exchange before the baseline: what a server sets up once, on its
    # first request (code pages first run, per-thread caches), is not a
    # connection's cost, and spread over the N connections it would add the
    # same bytes to each server's figure, nearing their ratio to 1.
    exchange(port).close()
    time.sleep(0.5)
    before = rss_kib(pid)
    conns = [exchange(port) for _ in range(n)]
    time.sleep(1.0)
    after = rss_kib(pid)
    # Every connection must still be open as the RSS is read, or the bytes
    # per connection would divide by connections the server no longer holds.
    closed = sum(1 for s in conns if not still_open(s))
    if closed:
        raise RuntimeError(f"the server closed {closed} of the {n} idle connections")
    print(before, after, (after - before) * 1024 // n)
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
