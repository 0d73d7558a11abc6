"""Transports for users' tests: ``Client(transport=...)`` sends requests here, no socket.

``MockTransport(handler)`` calls ``handler(request)`` and sends back what it returns;
``WSGITransport(app)`` runs a WSGI application in-process (httpx's ``MockTransport``
and ``WSGITransport`` are the model). Everything above the wire still happens: head
fields, auth flows, cookies, redirects, retries, hooks, content decoding. Bodies
stream both ways: the handler or app reads the request body as it is produced (a
generator body is pulled piece by piece), and the response body is pulled from the
handler's iterable or the app's result only as the caller reads it (``stream=True``).

The WSGI environ is built by the server's own builder (``server.wsgi.WSGIHandler``),
imported when a ``WSGITransport`` is first used: an app under test sees exactly the
environ it gets in production (PEP 3333, plus the ``greenhttp.*`` keys).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Protocol

from ..body import Body
from ..errors import LocalProtocolError
from ..headers import Headers
from ..protocol import RequestHead, ResponseHead
from ..protocol import reason as status_reason
from .payload import _Payload
from .request import Request
from .routing import _URL


class Transport(Protocol):
    """What ``Client(transport=...)`` needs: the request on its way, the response head, an
    exchange-like body source (``pull``, ``body_complete``, ``release``, ``close``,
    ``abandon``, ``trailers``) and, when the whole body is known at once, its bytes."""

    def handle(self, method: str, url: _URL, headers: list[tuple[str, str]],
               payload: _Payload | None, length: int | None, chunked: bool
               ) -> tuple[ResponseHead, Any, bytes | None]: ...


def request_body(payload: _Payload | None, length: int | None) -> Body:
    """The request body as the far side reads it: pulled from the payload piece by piece."""
    if payload is None:
        return Body.from_bytes(b"")
    pieces = payload.pieces(False)

    def pull() -> bytes | None:
        piece = next(pieces, None)
        return None if piece is None else bytes(piece)

    return Body(pull, length)


class _LocalExchange:
    """The response side of an in-process exchange: pulls the body from an iterator and
    calls ``close`` (PEP 3333's ``close()`` of the app's result) exactly once."""

    __slots__ = ("chunks", "on_close", "released", "trailers")

    def __init__(self, chunks: Iterator[bytes], on_close: Callable[[], Any] | None) -> None:
        self.chunks = chunks
        self.on_close = on_close
        self.released = False
        self.trailers: list[tuple[bytes, bytes]] | None = None

    def pull(self) -> bytes | None:
        try:
            chunk = next(self.chunks, None)
        except BaseException:
            self.release()
            raise
        if chunk is None:
            return None
        if isinstance(chunk, str):
            raise LocalProtocolError("a response body must be bytes, not str")
        return bytes(chunk)

    def body_complete(self, body: Body) -> None:
        self.release()

    def release(self, reusable: bool = False) -> None:
        if self.released:
            return
        self.released = True
        if self.on_close is not None:
            self.on_close()

    close = abandon = release


def _head(status: int, reason: str | None, headers: Iterable[tuple[str, str]]) -> ResponseHead:
    raw = [(str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in headers]
    length = None
    codings: list[bytes] = []
    sets_cookie = False
    for name, value in raw:
        lname = name.lower()
        if lname == b"content-length":
            length = int(value)
        elif lname == b"content-encoding":
            codings.append(value)
        elif lname == b"set-cookie":
            sets_cookie = True
    if reason is None:
        reason = status_reason(status)
    return ResponseHead(status, reason, "1.1", raw, True, length, False,
                        b", ".join(codings) if codings else None, sets_cookie)


class MockTransport:
    """``handler(request)`` answers every request; no socket, no server.

    The handler gets a :class:`~greenhttp.Request` (method, URL, the header fields as
    they would go on the wire, and ``body``: a :class:`~greenhttp.Body` to read) and
    returns a status, ``(status, headers)`` or ``(status, headers, body)``; ``body`` is
    bytes, str (UTF-8), or an iterable of bytes (pulled as the caller reads). ::

        def handler(request):
            return 200, {"Content-Type": "application/json"}, b'{"ok": true}'

        client = greenhttp.Client(transport=greenhttp.MockTransport(handler))
    """

    def __init__(self, handler: Callable[[Request], Any]) -> None:
        self.handler = handler

    def handle(self, method: str, url: _URL, headers: list[tuple[str, str]],
               payload: _Payload | None, length: int | None, chunked: bool
               ) -> tuple[ResponseHead, Any, bytes | None]:
        request = Request(method, str(url), Headers(headers), payload)
        request.body = request_body(payload, length)
        answer = self.handler(request)
        if isinstance(answer, int):
            answer = (answer,)
        status, answer_headers, body = (tuple(answer) + ({}, b""))[:3]
        items = Headers(list(answer_headers.items()) if hasattr(answer_headers, "items")
                        else list(answer_headers)).items()
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(body, (bytes, bytearray)):
            if not any(k.lower() == "content-length" for k, _ in items):
                items.append(("Content-Length", str(len(body))))
            exchange = _LocalExchange(iter(()), None)
            return _head(int(status), None, items), exchange, bytes(body)
        close = getattr(body, "close", None)
        return _head(int(status), None, items), _LocalExchange(iter(body), close), None


class _Connection:
    """What the server's environ builder reads from a connection."""

    __slots__ = ("remote_addr", "remote_port", "server")

    def __init__(self, remote_addr: str, remote_port: int) -> None:
        self.remote_addr = remote_addr
        self.remote_port = remote_port
        self.server = None


class WSGITransport:
    """Runs a WSGI ``app`` in-process for each request (a Flask or Django app under test).

    ``remote_addr`` is the client address the app sees; ``extra_environ`` is added to
    every environ. Exceptions the app raises reach the caller (a test wants the
    traceback, not a 500). The app's result is iterated only as the body is read, and
    its ``close()`` is called when the body ends or the response is closed.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], *, remote_addr: str = "127.0.0.1",
                 remote_port: int = 50000, extra_environ: dict[str, Any] | None = None) -> None:
        self.app = app
        self.connection = _Connection(remote_addr, remote_port)
        self.extra_environ = extra_environ
        self._handlers: dict[tuple[str, str, int], Any] = {}

    def _handler(self, url: _URL) -> Any:
        key = (url.scheme, url.host, url.port)
        handler = self._handlers.get(key)
        if handler is None:
            from ..server.wsgi import WSGIHandler  # the one environ builder (see the module doc)

            handler = self._handlers[key] = WSGIHandler(self.app, url.host, url.port, url.scheme,
                                                        self.extra_environ)
        return handler

    def handle(self, method: str, url: _URL, headers: list[tuple[str, str]],
               payload: _Payload | None, length: int | None, chunked: bool
               ) -> tuple[ResponseHead, Any, bytes | None]:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        if chunked:
            raw.append((b"Transfer-Encoding", b"chunked"))
        elif length is not None:
            raw.append((b"Content-Length", str(length).encode("ascii")))
        host = url.authority.encode("ascii")
        head = RequestHead(method, url.target.encode("latin-1"), "1.1", raw, True, length,
                           chunked, False, False, host)
        environ = self._handler(url).environ(self.connection, head, request_body(payload, length))
        state: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status: str, response_headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info is not None:
                if state.get("started"):
                    raise exc_info[1].with_traceback(exc_info[2])
            elif "status" in state:
                raise AssertionError("start_response() called twice without exc_info")
            state["status"], state["headers"] = status, list(response_headers)
            return written.append

        result = self.app(environ, start_response)
        chunks = iter(result)
        first: list[bytes] = []
        try:
            # PEP 3333: a generator app may call start_response only when first iterated.
            while "status" not in state:
                chunk = next(chunks, None)
                if chunk is None:
                    break
                if chunk:
                    first.append(chunk)
                    break
        except BaseException:
            getattr(result, "close", lambda: None)()
            raise
        if "status" not in state:
            getattr(result, "close", lambda: None)()
            raise LocalProtocolError("the WSGI app returned without calling start_response()")
        state["started"] = True
        code, _, reason = state["status"].partition(" ")

        def body() -> Iterator[bytes]:
            # write() output comes first, in order, also when made while iterating.
            while written:
                yield written.pop(0)
            yield from first
            for chunk in chunks:
                while written:
                    yield written.pop(0)
                yield chunk
            while written:
                yield written.pop(0)

        exchange = _LocalExchange(body(), getattr(result, "close", None))
        return _head(int(code), reason, state["headers"]), exchange, None
