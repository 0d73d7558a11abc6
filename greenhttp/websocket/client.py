"""The client side: ``connect("ws://..." or "wss://...")``.

The TCP connection, TLS and proxy tunnel come from greenhttp's client transport
(``client.transport.connect``, the same code path HTTPS requests take). Through a
proxy the WebSocket always goes through a CONNECT tunnel, for ``ws://`` as for
``wss://``: an HTTP proxy would otherwise strip ``Upgrade``, which is hop-by-hop
(RFC 9110 §7.8). The 101 response is parsed by greenhttp's HTTP core.
"""

from __future__ import annotations

import base64
import os
from typing import Any, Mapping, Optional, Sequence, Union

from wsproto.connection import Connection, ConnectionType
from wsproto.handshake import client_extensions_handshake
from wsproto.utilities import ProtocolError as _WSProtocolError
from wsproto.utilities import generate_accept_token, split_comma_header

from ..client import transport
from ..client.exchange import tunnel_through
from ..client.routing import USER_AGENT, _parse_url, _select_proxy
from ..errors import ConnectError, InvalidURL, ResponseProtocolError
from ..protocol import NEED_DATA, ClientProtocol, InformationalResponse, ResponseHead
from .core import WebSocket
from .deflate import BoundedDeflate

HeadersLike = Union[Mapping[str, str], Sequence[tuple[str, str]], None]
MAX_RESPONSE_HEAD = 64 * 1024


class HandshakeFailed(ConnectError):
    """The server did not answer the opening handshake with a valid 101.

    ``status`` and ``headers`` are the response's (``status`` is 0 when it was not HTTP).
    """

    def __init__(self, message: str, status: int = 0, headers: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def read_head(sock: Any) -> tuple[bytes, bytes]:
    """Read up to the end of a response head ourselves: what follows it is no longer
    HTTP (after a 101, WebSocket frames), so it must not go into an HTTP parser."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            raise HandshakeFailed("the server closed the connection during the WebSocket handshake")
        buffer += data
        if len(buffer) > MAX_RESPONSE_HEAD:
            raise HandshakeFailed("response head too large")
    end = buffer.index(b"\r\n\r\n") + 4
    return buffer[:end], buffer[end:]


def connect(url: str, *, headers: HeadersLike = None, subprotocols: Sequence[str] = (),
            timeout: Optional[float] = 10.0, proxy: Any = None, verify: Union[bool, str] = True,
            cert: Any = None, compression: bool = True, max_message_size: Optional[int] = 16 * 1024 * 1024,
            ping_interval: Optional[float] = 20.0, ping_timeout: Optional[float] = 20.0,
            fragment_size: Optional[int] = None) -> WebSocket:
    """Open a WebSocket to ``url`` (``ws://`` or ``wss://``) and return it once the 101 arrived.

    ``timeout`` bounds DNS, TCP, the proxy tunnel, TLS and the handshake. ``proxy``
    and ``verify``/``cert`` mean what they mean for greenhttp's HTTP client (``proxy=None``
    reads HTTP(S)_PROXY/NO_PROXY; ``False`` for none). Raises :class:`HandshakeFailed`
    when the server refuses (``exc.status``), ``ConnectError``/``ConnectTimeout`` otherwise.
    ``fragment_size``: cut sent messages into frames of at most that many bytes (None: one
    frame per message, as browsers and `websockets` send).
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("ws", "wss"):
        raise InvalidURL(f"a WebSocket URL starts with ws:// or wss://, not {url!r}")
    http_url = ("https" if scheme == "wss" else "http") + "://" + rest
    parsed = _parse_url(http_url.split("#", 1)[0])
    route_proxy = _select_proxy(parsed, proxy)
    tls = transport.tls_context(verify, cert) if scheme == "wss" else None
    if route_proxy is not None:
        host, port = route_proxy.url.host, route_proxy.url.port
        tunnel = tunnel_through(parsed, route_proxy)
    else:
        host, port, tunnel = parsed.host, parsed.port, None
    stream = transport.connect(host, port, timeout, tls, parsed.host, tunnel)
    sock = stream.sock
    try:
        return _handshake(sock, parsed, headers, subprotocols, timeout, compression,
                          max_message_size, ping_interval, ping_timeout, fragment_size)
    except BaseException:
        sock.close()
        raise


def _handshake(sock: Any, url: Any, headers: HeadersLike, subprotocols: Sequence[str],
               timeout: Optional[float], compression: bool, max_message_size: Optional[int],
               ping_interval: Optional[float], ping_timeout: Optional[float],
               fragment_size: Optional[int] = None) -> WebSocket:
    key = base64.b64encode(os.urandom(16))  # RFC 6455 §4.1: a fresh random 16-byte nonce
    fields: list[tuple[str, str]] = [
        ("Host", url.authority),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key.decode("ascii")),
        ("Sec-WebSocket-Version", "13"),
        ("User-Agent", USER_AGENT),
    ]
    if subprotocols:
        fields.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    deflate = BoundedDeflate(max_message_size or None) if compression else None
    if deflate is not None:
        offer = deflate.offer()
        fields.append(("Sec-WebSocket-Extensions",
                       deflate.name + (f"; {offer}" if isinstance(offer, str) and offer else "")))
    if headers:
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        names = {name.lower() for name, _ in items}
        fields = [f for f in fields if f[0].lower() not in names or f[0] in ("Upgrade", "Connection")
                  or f[0].startswith("Sec-WebSocket-Key")] + items
    protocol = ClientProtocol()
    sock.settimeout(timeout)
    sock.sendall(protocol.request_head("GET", url.target, fields, None, False)[0])

    head_bytes, early = read_head(sock)
    try:
        protocol.receive_data(head_bytes)
        event: Any = protocol.next_event()
        while isinstance(event, InformationalResponse) and event.status != 101:
            event = protocol.next_event()
    except ResponseProtocolError as exc:
        raise HandshakeFailed(f"malformed handshake response: {exc}") from exc
    if event is NEED_DATA or not isinstance(event, (ResponseHead, InformationalResponse)):
        raise HandshakeFailed("malformed handshake response")
    from ..headers import Headers

    response_headers = Headers.from_raw(event.headers)
    if event.status != 101:
        raise HandshakeFailed(f"server answered {event.status} {event.reason} instead of 101",
                              event.status, response_headers)
    # RFC 6455 §4.1, the client's checks of the server's handshake.
    if "websocket" not in (response_headers.get("upgrade") or "").lower():
        raise HandshakeFailed("101 without Upgrade: websocket", 101, response_headers)
    if "upgrade" not in (response_headers.get("connection") or "").lower():
        raise HandshakeFailed("101 without Connection: upgrade", 101, response_headers)
    if (response_headers.get("sec-websocket-accept") or "").encode("ascii") != generate_accept_token(key):
        raise HandshakeFailed("wrong Sec-WebSocket-Accept", 101, response_headers)
    chosen = response_headers.get("sec-websocket-protocol")
    if chosen is not None and chosen not in subprotocols:
        raise HandshakeFailed(f"server chose subprotocol {chosen!r}, which was not offered", 101,
                              response_headers)
    accepted = [value for value in split_comma_header(
        (response_headers.get("sec-websocket-extensions") or "").encode("latin-1")) if value]
    try:
        extensions = client_extensions_handshake(accepted, [deflate] if deflate is not None else [])
    except _WSProtocolError as exc:
        raise HandshakeFailed(f"server accepted an extension not offered: {exc}", 101, response_headers) from None
    sock.settimeout(None)
    ws = WebSocket(sock, Connection(ConnectionType.CLIENT, extensions=list(extensions)), early=early,
                   subprotocol=chosen, extensions=accepted, max_message_size=max_message_size,
                   ping_interval=ping_interval, ping_timeout=ping_timeout, fragment_size=fragment_size,
                   deflate=deflate if deflate is not None and deflate in extensions else None)
    ws.headers = response_headers
    return ws


__all__ = ["connect", "HandshakeFailed"]
