"""WebSockets (RFC 6455) on greenhttp: server, client and proxy, framed by wsproto.

Server: ``ws = accept(environ)`` inside a WSGI app, or ``@endpoint`` over ``def
handler(ws)``. Client: ``ws = connect("ws://...")``. Both give a :class:`WebSocket`
with ``receive()`` (str/bytes, ``None`` once closed), ``send()``, ``ping()``,
``close(code, reason)`` and iteration. docs/websocket.md has the details.
"""

from typing import TYPE_CHECKING

from .core import WebSocket
from .errors import ConcurrentReceive, ConnectionClosed, WebSocketTimeout
from .server import HandshakeError, accept, endpoint, is_websocket_request

if TYPE_CHECKING:
    from .client import connect


def __getattr__(name: str) -> object:
    # The client pulls in greenhttp's HTTP client; a server-only process need not.
    if name == "connect":
        from .client import connect

        return connect
    raise AttributeError(name)


__all__ = ["accept", "endpoint", "connect", "WebSocket", "ConnectionClosed", "WebSocketTimeout", "ConcurrentReceive",
           "HandshakeError", "is_websocket_request"]
