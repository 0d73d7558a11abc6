"""Drive the real connection loop with no socket: scripted request bytes in, response bytes out.

uvicorn tests its protocol with a mock transport and httpcore ships its mock stream
in the package; this is the same for greenhttp's server, and useful to apps too::

    from greenhttp.server.testing import replay
    out = replay(app, b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    assert out.startswith(b"HTTP/1.1 200 OK\\r\\n")

Everything between the bytes is the real code: :class:`HTTPConnection` (keep-alive,
pipelining, 100-continue, draining, rejections) and the WSGI adapter. Only the
socket is fake, so there is no listener, no reaper and no sendfile(2) (file
responses take the read/send path). A timeout is scripted by putting
``socket.timeout()`` in the chunks, as the reaper would throw it.
"""

from __future__ import annotations

from typing import Any, Iterable, Union

from .connection import HTTPConnection
from .listener import Server
from .wsgi import WSGIApp, WSGIHandler

Chunk = Union[bytes, BaseException]


class FakeSocket:
    """A socket that replays ``chunks`` to ``recv`` (an exception item is raised there;
    after the last item, EOF) and records what is sent, one entry per send call."""

    def __init__(self, chunks: Iterable[Chunk] = ()) -> None:
        self.chunks: list[Chunk] = list(chunks)
        self.sends: list[bytes] = []
        self.closed = False
        self.shut_down = False

    @property
    def sent(self) -> bytes:
        return b"".join(self.sends)

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        item = self.chunks[0]
        if isinstance(item, BaseException):
            self.chunks.pop(0)
            raise item
        if len(item) > size:
            self.chunks[0] = item[size:]
            return item[:size]
        self.chunks.pop(0)
        return item

    def send(self, data: Any) -> int:
        if self.closed:
            raise OSError("send on a closed socket")
        self.sends.append(bytes(data))
        return len(data)

    def sendall(self, data: Any) -> None:
        self.send(data)

    def shutdown(self, how: int) -> None:
        self.shut_down = True

    def close(self) -> None:
        self.closed = True

    def setsockopt(self, *args: Any) -> None:
        pass

    def settimeout(self, timeout: float | None) -> None:
        pass

    def fileno(self) -> int:
        return -1


def connection(app: WSGIApp, sock: FakeSocket, server: Server | None = None,
               **settings: Any) -> HTTPConnection:
    """An :class:`HTTPConnection` for ``app`` on ``sock``, ready to ``run()``."""
    if server is None:
        settings.setdefault("access_log", False)
        server = Server(app, **settings)
        server.handler = WSGIHandler(app, "testserver", 80)
    return HTTPConnection(server, sock, ("127.0.0.1", 40000))  # type: ignore[arg-type]


def replay(app: WSGIApp, *chunks: Chunk, **settings: Any) -> bytes:
    """Run one connection of ``app`` over the scripted ``chunks``; return all bytes sent.

    ``settings`` are :class:`ServerConfig` settings (``max_body_size=...``).
    """
    sock = FakeSocket(chunks)
    connection(app, sock, **settings).run()
    return sock.sent


__all__ = ["FakeSocket", "connection", "replay"]
