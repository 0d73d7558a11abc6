"""The server side: validate the opening handshake, answer 101, take the connection over.

greenhttp's HTTP core parses the handshake request like any other (it ignores
``Upgrade``, as RFC 9110 §7.8 lets a server do), so an app that never calls
:func:`accept` simply answers it as plain HTTP. :func:`accept` checks the request
against RFC 6455 §4.2.1, detaches the socket from the connection loop
(``HTTPConnection.detach``: the loop neither reads, writes nor closes it any more) and
writes the 101 itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time
import weakref
from typing import Any, Callable, Iterable, Optional, Sequence

import gevent
from wsproto.connection import Connection, ConnectionType
from wsproto.handshake import server_extensions_handshake
from wsproto.utilities import generate_accept_token, split_comma_header

from ..protocol.status import status_line
from ..log import access_line, access_logger, error_logger
from .deflate import BoundedDeflate
from .core import WebSocket
from .errors import GOING_AWAY, INTERNAL_ERROR, ConnectionClosed

_UNSET: Any = object()

StartResponse = Callable[..., Any]


class HandshakeError(Exception):
    """The request is not an acceptable WebSocket opening handshake.

    Also a WSGI app: ``return exc(environ, start_response)`` sends the right answer
    (400, or 426 with ``Sec-WebSocket-Version: 13`` for an unsupported version,
    RFC 6455 §4.4).
    """

    def __init__(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.headers = list(headers)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = f"{self.status} {self}\n".encode("utf-8")
        start_response(status_line(self.status), [("Content-Type", "text/plain; charset=utf-8"),
                                                   ("Content-Length", str(len(body))), *self.headers])
        return [body]


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]


def is_websocket_request(environ: dict[str, Any]) -> bool:
    """Does the request ask for a WebSocket (``Upgrade: websocket`` + ``Connection: upgrade``)?"""
    return ("websocket" in _tokens(environ.get("HTTP_UPGRADE", ""))
            and "upgrade" in _tokens(environ.get("HTTP_CONNECTION", "")))


def check_handshake(environ: dict[str, Any]) -> bytes:
    """RFC 6455 §4.2.1; returns the Sec-WebSocket-Key or raises :class:`HandshakeError`."""
    if environ.get("REQUEST_METHOD") != "GET":
        raise HandshakeError(400, "a WebSocket handshake must be a GET")
    if environ.get("SERVER_PROTOCOL", "HTTP/1.1") in ("HTTP/1.0", "HTTP/0.9"):
        raise HandshakeError(400, "a WebSocket handshake needs HTTP/1.1")
    if not is_websocket_request(environ):
        raise HandshakeError(426, "this resource speaks WebSocket only",
                             [("Upgrade", "websocket"), ("Connection", "Upgrade")])
    version = environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip()
    if version != "13":
        # RFC 6455 §4.4: answer with the versions we do speak.
        raise HandshakeError(426, f"unsupported Sec-WebSocket-Version {version!r}",
                             [("Sec-WebSocket-Version", "13")])
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError(key)
    except (binascii.Error, ValueError):
        raise HandshakeError(400, "Sec-WebSocket-Key must be 16 bytes in base64") from None
    return key.encode("ascii")


# -- shutdown: every server's open WebSockets get 1001 Going Away ------------------------

_open: "weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]]" = weakref.WeakKeyDictionary()


def on_server_stop(server: Any, ws: Any) -> None:
    """Have ``ws`` told 1001 when ``server`` stops: a :class:`WebSocket`, or any object
    with a ``going_away()`` method (compat's TakeoverSocket)."""
    if server is None:
        return
    sockets = _open.get(server)
    if sockets is None:
        sockets = _open[server] = weakref.WeakSet()
        hooks = getattr(server, "on_stop", None)
        if hooks is not None:
            hooks.append(functools.partial(_going_away, sockets))
    sockets.add(ws)


def _going_away(sockets: "weakref.WeakSet[Any]") -> None:
    for ws in list(sockets):
        # RFC 6455 §7.4.1: 1001, "a server going down". One greenlet each: a peer that
        # reads nothing must not hold up the others' Close frames.
        if isinstance(ws, WebSocket):
            gevent.spawn(_close_quietly, ws, GOING_AWAY, "server shutting down")
        else:
            gevent.spawn(ws.going_away)


def _close_quietly(ws: WebSocket, code: int, reason: str) -> None:
    try:
        ws.close(code, reason)
    except Exception:  # noqa: BLE001 - shutting down; the socket is dropped anyway
        ws.abandon()


# -- accept -------------------------------------------------------------------------------


def accept(environ: dict[str, Any], subprotocols: Sequence[str] = (), *,
           max_message_size: Optional[int] = _UNSET, compression: bool = True,
           ping_interval: Optional[float] = _UNSET, ping_timeout: Optional[float] = _UNSET,
           idle_timeout: Optional[float] = _UNSET, fragment_size: Optional[int] = _UNSET,
           headers: Sequence[tuple[str, str]] = ()) -> WebSocket:
    """Answer the WebSocket handshake of this request with 101 and return the connection.

    ``subprotocols``: those the app speaks, best first; the first the client offered
    is chosen (none if there is no overlap). ``compression``: accept
    permessage-deflate when offered. Unset limits come from the server's settings
    (``websocket_max_message_size``, ``websocket_ping_interval``,
    ``websocket_fragment_size``...). Raises
    :class:`HandshakeError` (a WSGI app answering 400/426) for a bad handshake, and
    RuntimeError when not running under greenhttp's server. The WebSocket lives as
    long as the app's call: when it returns, the connection is closed.
    """
    key = check_handshake(environ)
    conn = environ.get("greenhttp.connection")
    if conn is None:
        raise RuntimeError("greenhttp.websocket.accept needs greenhttp's server "
                           "(environ['greenhttp.connection'] is missing)")
    if conn.detached:
        raise RuntimeError("this connection was already taken over")
    config = conn.config
    offered = [p for p in split_comma_header(environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL", "").encode("latin-1")) if p]
    chosen = next((p for p in offered if p in subprotocols), None)
    extensions: list[Any] = []
    accepted_extensions: list[str] = []
    response = [
        f"HTTP/1.1 {status_line(101)}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {generate_accept_token(key).decode('ascii')}",
    ]
    if chosen is not None:
        response.append(f"Sec-WebSocket-Protocol: {chosen}")
    max_size = config.websocket_max_message_size if max_message_size is _UNSET else max_message_size
    deflate = None
    if compression:
        requested = [e for e in split_comma_header(
            environ.get("HTTP_SEC_WEBSOCKET_EXTENSIONS", "").encode("latin-1")) if e]
        offer = BoundedDeflate(max_size or None)
        agreed = server_extensions_handshake(requested, [offer])
        if agreed:
            deflate = offer
            extensions.append(offer)
            accepted_extensions.append(agreed.decode("ascii"))
            response.append(f"Sec-WebSocket-Extensions: {agreed.decode('ascii')}")
    if config.server_header:
        response.append(f"Server: {config.server_header}")
    for name, value in headers:
        response.append(f"{name}: {value}")
    head = ("\r\n".join(response) + "\r\n\r\n").encode("latin-1")

    # Bytes the client sent right behind its head (already read by the HTTP loop) are
    # WebSocket frames: ``early`` hands them over.
    sock, early = conn.detach()
    started = time.perf_counter()
    server = conn.server
    log = getattr(server, "access_log", False)
    target = environ.get("RAW_URI", environ.get("PATH_INFO", "/"))

    def on_close(ws: WebSocket) -> None:
        if log:
            access_logger.info(access_line(conn.client, "GET", target.encode("latin-1"), "1.1", 101, 0,
                                           time.perf_counter() - started)
                               + f" websocket in={ws.messages_in} out={ws.messages_out} close={ws.close_code}")

    ws = WebSocket(
        sock, Connection(ConnectionType.SERVER, extensions=extensions), early=early,
        subprotocol=chosen, extensions=accepted_extensions,
        max_message_size=max_size, deflate=deflate,
        ping_interval=config.websocket_ping_interval if ping_interval is _UNSET else ping_interval,
        ping_timeout=config.websocket_ping_timeout if ping_timeout is _UNSET else ping_timeout,
        idle_timeout=config.websocket_idle_timeout if idle_timeout is _UNSET else idle_timeout,
        fragment_size=config.websocket_fragment_size if fragment_size is _UNSET else fragment_size,
        on_close=on_close,
    )
    ws.environ = environ
    ws.owner = getattr(conn, "greenlet", None)
    try:
        sock.sendall(head)
    except OSError:
        ws.abandon()
        raise ConnectionClosed(1006, "client left during the handshake") from None
    on_server_stop(server, ws)
    if server.closing:
        _close_quietly(ws, GOING_AWAY, "server shutting down")
    end_with_request(conn, ws.abandon)
    return ws


def end_with_request(conn: Any, callback: Callable[[], None]) -> None:
    """Run ``callback`` in the connection's greenlet when the app that took the socket
    returns, before the listener closes it (``HTTPConnection.after_detached``)."""
    after_detached = getattr(conn, "after_detached", None)
    if after_detached is not None:
        after_detached(callback)


def endpoint(handler: Callable[[WebSocket], Any] | None = None, *, subprotocols: Sequence[str] = (),
             **options: Any) -> Any:
    """Turn ``def handler(ws)`` into a WSGI app (``@endpoint`` or ``@endpoint(subprotocols=...)``).

    A request that is not a WebSocket handshake gets 426 Upgrade Required; a bad one
    400/426. When ``handler`` returns the connection is closed with 1000; if it
    raises, with 1011 (and the error is logged). ``ConnectionClosed`` escaping the
    handler is the normal end of a conversation whose peer left. ``ws.environ`` is
    the request's environ.
    """
    def wrap(fn: Callable[[WebSocket], Any]) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
        @functools.wraps(fn)
        def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            try:
                ws = accept(environ, subprotocols, **options)
            except HandshakeError as exc:
                return exc(environ, start_response)
            try:
                fn(ws)
            except ConnectionClosed:
                pass
            except Exception:
                error_logger.exception("WebSocket handler %s failed", getattr(fn, "__name__", fn))
                _close_quietly(ws, INTERNAL_ERROR, "internal error")
            finally:
                _close_quietly(ws, 1000, "")
            return []
        return app

    if handler is not None:
        return wrap(handler)
    return wrap
