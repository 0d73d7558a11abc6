"""The connection's request-body side: pulling body events, 100-continue, draining.

The app's :class:`Body` pulls through ``_pull_body``: reading the body is what reads
the socket, so an app that reads slowly holds at most one ``recv`` worth of bytes in
memory. The first pull that needs bytes from the client sends ``100 Continue`` when
the client asked for it and no final response has started (RFC 9110 §10.1.1).
Whatever the app left unread is drained up to ``drain_limit`` afterwards, else the
connection closes: unread body bytes are never parsed as the next request.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional

from gevent import socket as gsocket

from ..body import Body
from ..errors import ClientDisconnected, RequestError, RequestTimeout
from ..headers import Headers
from ..protocol import CONTINUE_RESPONSE, NEED_DATA, Data, EndOfMessage, ServerProtocol
from ..settings import ServerConfig
from .output import RECV_SIZE, TIMEOUT_ERRORS
from .phase import APP


class BodyReader:
    """Mixin of :class:`HTTPConnection`: the request body. Slots live on the connection."""

    if not TYPE_CHECKING:
        # No slots of its own (two slotted bases would clash); mypy would reject
        # assignments to the connection's slots through an empty __slots__.
        __slots__ = ()
    sock: gsocket.socket
    protocol: ServerProtocol
    config: ServerConfig
    deadline: float
    _body: Body | None
    _continue_pending: bool
    phase: Any

    if TYPE_CHECKING:  # Output's; stubs only for the type checker, never in the MRO
        def _send(self, data: bytes) -> None: ...
        def flush(self) -> None: ...

    def _drain(self, body: Body) -> bool:
        if self._continue_pending:
            # The client is waiting for 100 Continue before sending the body, or will
            # send it after its own timeout: either way the stream is ambiguous.
            return False
        try:
            return body.discard(self.config.drain_limit)
        except RequestError:
            return False

    def _pull_body(self) -> Optional[bytes]:
        protocol = self.protocol
        while True:
            event = protocol.next_event()
            if event is NEED_DATA:
                if self._continue_pending:
                    self._continue_pending = False
                    if self.phase is APP:  # no final response begun (connection.Phase)
                        self._send(CONTINUE_RESPONSE)
                self.flush()
                self.deadline = time.monotonic() + self.config.body_timeout
                try:
                    data = self.sock.recv(RECV_SIZE)
                except TIMEOUT_ERRORS:
                    raise RequestTimeout(
                        f"no request body data for {self.config.body_timeout}s") from None
                except OSError as exc:
                    raise ClientDisconnected(f"connection lost while reading the body: {exc}") from exc
                finally:
                    self.deadline = 0.0
                if not data:
                    raise ClientDisconnected(
                        f"client closed the connection after {self._body.received if self._body else 0} "
                        "body bytes")
                protocol.receive_data(data)
                continue
            if type(event) is Data:
                return event.data
            if type(event) is EndOfMessage:
                if event.trailers and self._body is not None:
                    self._body.trailers = Headers.from_raw(event.trailers)
                return None
            raise AssertionError(f"unexpected {event!r} inside a request body")
