"""``CONNECT`` tunnels: take over the client connection and copy bytes both ways.

RFC 9110 §9.3.6: once the tunnel is up the proxy relays octets blindly until either
side closes. :func:`tunnel` answers the CONNECT and runs :func:`pump` on the detached
client socket and a fresh upstream socket (never a pooled one: a tunnel owns its
connection for its whole life).
"""

from __future__ import annotations

import socket as _stdlib_socket
import time
from typing import Any, Iterable

import gevent

from ..client.transport import connect as _connect
from ..log import access_line, access_logger
from .request import ANSWERED, StartResponse, _failure, _log_failure, _plain, _request_line


def tunnel(environ: dict[str, Any], start_response: StartResponse, conn: Any, host: str, port: int,
           connect_timeout: float, idle_timeout: float | None) -> Iterable[bytes]:
    """Connect to ``host:port``, answer 200 and relay until both sides end.

    ``conn`` is the server's connection (``environ["greenhttp.connection"]``), which
    the tunnel takes over. A failed connect is an ordinary 502/504 answer instead.
    """
    target = environ.get("REQUEST_URI", "")
    log_as = _request_line(environ)
    try:
        upstream = _connect(host, port, connect_timeout).sock
    except ANSWERED as exc:
        status, text = _failure(exc)
        _log_failure(log_as, f"{host}:{port}", status, exc)
        return _plain(status, text, error=exc)(environ, start_response)
    started = time.perf_counter()
    sock, early = conn.detach()
    try:
        # RFC 9110 §9.3.6: any 2xx means the tunnel is up; it has no body, and
        # curl and browsers expect exactly this line.
        sock.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        up, down = pump(sock, upstream, early, idle_timeout)
    except OSError:
        up = down = 0
    finally:
        sock.close()
        upstream.close()
    server = environ.get("greenhttp.server")
    if server is None or getattr(server, "access_log", True):
        access_logger.info(access_line(conn.client, "CONNECT", target.encode("latin-1"), "1.1",
                                       200, down, time.perf_counter() - started)
                           + f" tunnel up={up} down={down}")
    return []

def pump(client: Any, upstream: Any, early: bytes = b"", idle_timeout: float | None = 300.0,
         size: int = 65536) -> tuple[int, int]:
    """Copy bytes both ways until both directions end; returns (bytes up, bytes down).

    Each direction runs until EOF, then half-closes the other side (``SHUT_WR``), so a
    peer that finishes sending still gets its answer. ``idle_timeout`` ends a direction
    that sees no byte for that long. Memory: one ``size`` buffer per direction.
    """
    for sock in (client, upstream):
        sock.settimeout(idle_timeout)
    counts = [0, 0]

    def one_way(src: Any, dst: Any, index: int) -> None:
        try:
            while True:
                data = src.recv(size)
                if not data:
                    break
                dst.sendall(data)
                counts[index] += len(data)
        except (OSError, _stdlib_socket.timeout):
            pass  # reset, or idle too long: the tunnel ends either way
        finally:
            try:
                dst.shutdown(_stdlib_socket.SHUT_WR)
            except OSError:
                pass

    if early:
        upstream.sendall(early)
        counts[0] += len(early)
    back = gevent.spawn(one_way, upstream, client, 1)
    try:
        one_way(client, upstream, 0)
        back.join()
    finally:
        back.kill()
    return counts[0], counts[1]

