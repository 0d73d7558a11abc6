"""How a WebSocket ends: RFC 6455 close codes and the exceptions of ``greenhttp.websocket``.

Kept apart from the connection (``core.py``) so every module of the package, and the
user, can name them without importing the socket-driving code.
"""

from __future__ import annotations

from ..errors import ConnectionLost, UsageError
from ..errors import TimeoutError as _GreenTimeoutError

# RFC 6455 §7.4.1 status codes used here.
NORMAL_CLOSURE = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
ABNORMAL_CLOSURE = 1006  # never sent: "the connection was closed without a Close frame"
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011


class ConnectionClosed(ConnectionLost):
    """Raised by :meth:`WebSocket.send` (and friends) once the connection is closed.

    ``code`` and ``reason`` are the close status (RFC 6455 §7.1.5/§7.1.6); 1006 when
    the TCP connection ended without a Close frame.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f" ({reason})" if reason else ""))
        self.code = code
        self.reason = reason


class WebSocketTimeout(_GreenTimeoutError):
    """``receive(timeout=...)`` saw no message in time. The connection stays open."""


class ConcurrentReceive(UsageError):
    """``receive()`` was called while another greenlet is already receiving on the same
    WebSocket. Two readers would split frames between them; one greenlet receives,
    any number may send."""
