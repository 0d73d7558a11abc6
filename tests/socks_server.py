"""A minimal SOCKS server for the client's tests: SOCKS5 (RFC 1928 CONNECT, RFC 1929
user/password) and SOCKS4/4a (CONNECT; 4a carries the host name for the proxy to resolve).

Written here because no maintained pure-Python SOCKS5 *server* package is on PyPI (the
client side uses python-socks); it does what a test needs and nothing more.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import gevent
import gevent.server
from gevent import socket as gsocket


def _exactly(sock: Any, n: int) -> bytes:
    data = b""
    while len(data) < n:
        piece = sock.recv(n - len(data))
        if not piece:
            raise ConnectionError("client went away")
        data += piece
    return data


def _pipe(src: Any, dst: Any) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _until_nul(sock: Any) -> bytes:
    data = b""
    while (byte := _exactly(sock, 1)) != b"\0":
        data += byte
    return data


def _relay(sock: Any, upstream: Any) -> None:
    back = gevent.spawn(_pipe, upstream, sock)
    _pipe(sock, upstream)
    back.join()
    upstream.close()


class SocksServer:
    """``with SocksServer(credentials=("u", "p")) as proxy:`` (``proxy.port``, ``proxy.seen``:
    the (host, port, address type) of every CONNECT: "domain" or "ipv4"/"ipv6", and for
    SOCKS4 "socks4-ipv4" or "socks4a-domain"). SOCKS4 has no password: with credentials,
    a SOCKS4 CONNECT is granted only to the user id ``credentials[0]``."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.seen: list[tuple[str, int, str]] = []
        self.users: list[str] = []  # SOCKS4 user ids, as sent
        self.server = gevent.server.StreamServer(("127.0.0.1", 0), self.handle)

    @property
    def port(self) -> int:
        return self.server.server_port

    def url(self, scheme: str = "socks5") -> str:
        auth = "%s:%s@" % self.credentials if self.credentials else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    def handle(self, sock: Any, address: Any) -> None:
        try:
            version, count = _exactly(sock, 2)
            if version == 4:
                self._socks4(sock, count)
                return
            methods = _exactly(sock, count)
            wanted = 2 if self.credentials else 0
            if version != 5 or wanted not in methods:
                sock.sendall(b"\x05\xff")
                return
            sock.sendall(bytes([5, wanted]))
            if wanted == 2:
                _, ulen = _exactly(sock, 2)
                user = _exactly(sock, ulen).decode()
                plen = _exactly(sock, 1)[0]
                password = _exactly(sock, plen).decode()
                ok = (user, password) == self.credentials
                sock.sendall(b"\x01\x00" if ok else b"\x01\x01")
                if not ok:
                    return
            _, command, _, kind = _exactly(sock, 4)
            if kind == 1:
                host, kind_name = socket.inet_ntoa(_exactly(sock, 4)), "ipv4"
            elif kind == 3:
                host, kind_name = _exactly(sock, _exactly(sock, 1)[0]).decode(), "domain"
            else:
                host, kind_name = socket.inet_ntop(socket.AF_INET6, _exactly(sock, 16)), "ipv6"
            port = struct.unpack("!H", _exactly(sock, 2))[0]
            self.seen.append((host, port, kind_name))
            if command != 1:
                sock.sendall(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")  # command not supported
                return
            try:
                upstream = gsocket.create_connection((host, port), timeout=5)
            except OSError:
                sock.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")  # connection refused
                return
            sock.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack("!H", port))
            _relay(sock, upstream)
        except (OSError, ConnectionError):
            pass
        finally:
            sock.close()

    def _socks4(self, sock: Any, command: int) -> None:
        """SOCKS4: VN=4 CD DSTPORT DSTIP USERID NUL; 4a: DSTIP 0.0.0.x, then HOST NUL.
        Replies VN=0 CD=90 (granted) or 91 (rejected or failed)."""
        port = struct.unpack("!H", _exactly(sock, 2))[0]
        address = _exactly(sock, 4)
        user = _until_nul(sock).decode()
        if address[:3] == b"\0\0\0" and address[3]:
            host, kind_name = _until_nul(sock).decode(), "socks4a-domain"
        else:
            host, kind_name = socket.inet_ntoa(address), "socks4-ipv4"
        self.seen.append((host, port, kind_name))
        self.users.append(user)
        rejected = b"\x00\x5b" + b"\x00" * 6
        if command != 1 or (self.credentials and user != self.credentials[0]):
            sock.sendall(rejected)
            return
        try:
            upstream = gsocket.create_connection((host, port), timeout=5)
        except OSError:
            sock.sendall(rejected)
            return
        sock.sendall(b"\x00\x5a" + struct.pack("!H", port) + b"\x7f\x00\x00\x01")
        _relay(sock, upstream)

    def __enter__(self) -> "SocksServer":
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop(timeout=1)
