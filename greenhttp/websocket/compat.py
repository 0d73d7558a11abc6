"""Environ keys that existing WebSocket libraries look for, so they run unchanged.

* ``werkzeug.socket`` — simple-websocket (hence Flask-Sock, and python-engineio's
  gevent driver without gevent-websocket) takes the raw socket from here, writes the
  101 itself and speaks WebSocket on it. The value is a :class:`TakeoverSocket`: the
  first use detaches the connection from greenhttp's loop (which then neither reads,
  writes a response nor closes it), the bytes the loop had already read past the
  head come first out of ``recv``, and the socket is closed when the app returns.
* ``wsgi.websocket`` — gevent-websocket's API (receive/send/close/closed), which
  python-engineio's gevent driver and gevent-websocket apps use. It is lazy: the 101
  is sent on first use, so an app that ignores it answers the request as plain HTTP.

Both are set only on requests carrying ``Upgrade: websocket``.
"""

from __future__ import annotations

import socket as _stdlib_socket
from typing import Any, Optional, Union

import gevent
import gevent.event
from gevent.lock import Semaphore
from wsproto.frame_protocol import FrameProtocol

from .core import Message, WebSocket
from .errors import GOING_AWAY, ConnectionClosed
from .server import accept, end_with_request, is_websocket_request, on_server_stop


def add_environ(environ: dict[str, Any], conn: Any) -> None:
    if not is_websocket_request(environ):
        return
    environ["werkzeug.socket"] = TakeoverSocket(conn)
    environ["wsgi.websocket"] = GeventWebSocket(environ)
    environ["wsgi.websocket_version"] = environ.get("HTTP_SEC_WEBSOCKET_VERSION", "")


class TakeoverSocket:
    """The connection's socket, detached from the HTTP loop on first use."""

    #: How long the app's return waits for the library's reader to let go of the socket.
    RELEASE_WAIT = 2.0
    #: After our 1001 on shutdown, how long the library gets to see the peer's Close
    #: and return before the socket is shut down under it.
    GOING_AWAY_WAIT = 2.0

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._sock: Any = None
        self._early = b""
        self._closed = gevent.event.Event()
        # One frame at a time: our shutdown Close must not land inside the library's frame.
        self._send_lock = Semaphore()

    def _take(self) -> Any:
        sock = self._sock
        if sock is None:
            sock, self._early = self._conn.detach()
            self._sock = sock
            end_with_request(self._conn, self._release)
            on_server_stop(getattr(self._conn, "server", None), self)
        return sock

    def going_away(self) -> None:
        """Server shutdown: the library (simple-websocket) keeps its own wsproto state
        and knows nothing of greenhttp's stop, so send its peer a Close 1001 ourselves
        (RFC 6455 §7.4.1 "going away"; a server frame, unmasked, §5.1). The peer answers
        with its Close, which the library reads and ends on as on any close; if it has not
        let go in GOING_AWAY_WAIT, the socket is shut down, which ends its reader."""
        if self._sock is None or self._closed.is_set():
            return
        frame = FrameProtocol(client=False, extensions=[]).close(GOING_AWAY, "server shutting down")
        try:
            with self._send_lock:
                self._sock.sendall(frame)
        except OSError:
            pass
        if not self._closed.wait(self.GOING_AWAY_WAIT):
            try:
                self._sock.shutdown(_stdlib_socket.SHUT_RDWR)
            except OSError:
                pass

    def _release(self) -> None:
        """The app returned. simple-websocket's reader greenlet may still be waiting on
        this socket in a selector of its own; closing the descriptor under that
        selector's watcher would leave libev watching a dead (later reused) fd, which
        aborts the process. So wake the reader with EOF first (shutdown), let it close
        the socket itself, and close it here only if it does not in time."""
        try:
            self._sock.shutdown(_stdlib_socket.SHUT_RDWR)
        except OSError:
            pass
        self._closed.wait(self.RELEASE_WAIT)
        self._close_quietly()

    def _close_quietly(self) -> None:
        self._closed.set()
        try:
            self._sock.close()
        except OSError:
            pass

    def recv(self, size: int, *flags: int) -> bytes:
        sock = self._take()
        if self._early:
            data, self._early = self._early[:size], self._early[size:]
            return data
        return sock.recv(size, *flags)

    def send(self, data: bytes, *flags: int) -> int:
        # simple-websocket calls send() once per frame and ignores the count: a
        # partial send would corrupt the stream, so send everything.
        sock = self._take()
        with self._send_lock:
            sock.sendall(data, *flags)
        return len(data)

    def sendall(self, data: bytes, *flags: int) -> None:
        sock = self._take()
        with self._send_lock:
            sock.sendall(data, *flags)

    def fileno(self) -> int:
        return int(self._take().fileno())

    def close(self) -> None:
        if self._sock is not None:
            self._close_quietly()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._take(), name)


class GeventWebSocket:
    """gevent-websocket's ``WebSocket`` interface over :func:`accept`.

    ``receive()`` returns ``None`` once closed and ``send()`` on a closed socket
    raises (gevent-websocket's ``WebSocketError`` is a socket.error; ours is a
    :class:`ConnectionClosed`, also an OSError subclass via ConnectionError).
    """

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self._ws: Optional[WebSocket] = None

    @property
    def websocket(self) -> WebSocket:
        if self._ws is None:
            self._ws = accept(self.environ)
        return self._ws

    # gevent-websocket's attributes, read by python-engineio before the first message.
    @property
    def version(self) -> str:
        return str(self.environ.get("HTTP_SEC_WEBSOCKET_VERSION", ""))

    @property
    def path(self) -> str:
        return str(self.environ.get("PATH_INFO", ""))

    @property
    def origin(self) -> Optional[str]:
        return self.environ.get("HTTP_ORIGIN")

    @property
    def protocol(self) -> Optional[str]:
        return self._ws.subprotocol if self._ws is not None else None

    @property
    def closed(self) -> bool:
        return self._ws is not None and self._ws.closed

    def receive(self) -> Optional[Message]:
        return self.websocket.receive()

    read_message = receive

    def send(self, message: Union[str, bytes], binary: Optional[bool] = None) -> None:
        if binary is None:
            binary = not isinstance(message, str)
        if binary and isinstance(message, str):
            message = message.encode("utf-8")
        elif not binary and isinstance(message, (bytes, bytearray)):
            message = bytes(message).decode("utf-8")
        self.websocket.send(message)

    send_frame = send

    def close(self, code: int = 1000, message: Union[str, bytes] = b"") -> None:
        if self._ws is None and self.environ.get("greenhttp.connection") is not None \
                and self.environ["greenhttp.connection"].detached:
            return
        reason = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        try:
            self.websocket.close(code, reason)
        except ConnectionClosed:
            pass


__all__ = ["add_environ", "TakeoverSocket", "GeventWebSocket"]
