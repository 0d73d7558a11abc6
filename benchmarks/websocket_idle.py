"""RSS per idle WebSocket: a greenhttp server (`greenhttp benchmarks/websocket_idle.py:app`,
its own process) holds N open WebSockets whose clients say nothing; we read the server's
VmRSS before and after and divide.

    python benchmarks/websocket_idle.py [N] [--pings]     # default 5000

``--pings`` keeps the default 20 s ping interval, so every WebSocket also holds its
keepalive timer (a libev timer; it does not fire during the measurement).

The clients are raw sockets in this process (one handshake each, then silence), so the
measurement is the server's cost alone: socket, greenlet, wsproto state, WebSocket object.
"""

from __future__ import annotations

import base64
import os
import pathlib
import resource
import socket
import subprocess
import sys
import time

from greenhttp.websocket import WebSocket, endpoint

ROOT = pathlib.Path(__file__).resolve().parent.parent


@endpoint
def app(ws: WebSocket) -> None:
    for message in ws:
        ws.send(message)


def rss_kib(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_websocket(address: tuple[str, int], compression: bool) -> socket.socket:
    sock = socket.create_connection(address)
    key = base64.b64encode(os.urandom(16))
    extension = b"Sec-WebSocket-Extensions: permessage-deflate\r\n" if compression else b""
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" + extension + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            raise RuntimeError("server closed during the handshake")
        head += data
    if not head.startswith(b"HTTP/1.1 101 "):
        raise RuntimeError(head[:100].decode("latin-1"))
    return sock


def measure(count: int, compression: bool, pings: bool = False) -> float:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 2 + 100)), hard))
    proc = subprocess.Popen([sys.executable, "-m", "greenhttp", f"{__file__}:app", "-p", "0",
                             "--no-access-log", "--backlog", "4096",
                             *(() if pings else ("--websocket-ping-interval", "0"))],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        host, port = url.removeprefix("http://").rsplit(":", 1)
        address = (host, int(port))
        # Warm up: the first WebSocket imports wsproto and allocates its caches.
        warm = [open_websocket(address, compression) for _ in range(50)]
        time.sleep(0.5)
        before = rss_kib(proc.pid)
        held = [open_websocket(address, compression) for _ in range(count)]
        time.sleep(1.0)
        after = rss_kib(proc.pid)
        per = (after - before) / count
        print(f"{count} idle WebSockets{' (permessage-deflate negotiated)' if compression else ''}"
              f"{', pings every 20 s' if pings else ', pings off'}: "
              f"server RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB, {per:.1f} KiB each")
        for sock in held + warm:
            sock.close()
        return per
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--pings"]
    n = int(args[0]) if args else 5000
    pings = "--pings" in sys.argv[1:]
    measure(n, compression=False, pings=pings)
    measure(n, compression=True, pings=pings)
