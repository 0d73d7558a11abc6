"""The connection's ends: what a stopping server asks, handing the socket over, closing.

:meth:`Takeover.input_waiting` tells a stopping server whether a request already
arrived; :meth:`Takeover.detach` hands the socket and the unparsed bytes to a CONNECT
tunnel or a WebSocket, and :meth:`Takeover.after_detached` lets that owner let go
before the listener closes the descriptor; :meth:`Takeover._close_socket` ends a
connection with a bounded lingering read so an error response is not lost to a RST.
"""

from __future__ import annotations

import socket as _stdlib_socket
import time
from typing import TYPE_CHECKING, Any, Callable

from gevent import socket as gsocket

from ..log import error_logger
from .output import RECV_SIZE, TIMEOUT_ERRORS
from .phase import DETACHED

if TYPE_CHECKING:
    from ..protocol import ServerProtocol
    from .phase import Phase

# Lingering close (nginx's lingering_time/lingering_timeout idea): bounded in time and bytes.
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024


class Takeover:
    """Mixin of :class:`HTTPConnection`: shutdown and takeover. Slots live on the connection."""

    if not TYPE_CHECKING:
        __slots__ = ()
    sock: gsocket.socket
    _raw_sock: Any
    protocol: "ServerProtocol"
    phase: "Phase"
    client: str
    deadline: float
    _linger: bool
    _release_callbacks: list[Callable[[], None]] | None
    flush: Callable[[], None]  # Output's

    def input_waiting(self) -> bool:
        """Whether request bytes already arrived that the loop has not served: parsed
        events not yet consumed, or bytes in the kernel's receive buffer (a peek, no
        wait). EOF and errors count as nothing waiting."""
        if self.protocol.has_buffered_events():
            return True
        raw = self._raw_sock
        if raw is None:
            return False
        try:
            return bool(raw.recv(1, _stdlib_socket.MSG_PEEK))
        except OSError:  # BlockingIOError: nothing there
            return False

    def detach(self) -> tuple[gsocket.socket, bytes]:
        """Hand the raw socket and any unparsed bytes to the caller (CONNECT tunnels).

        The connection loop stops; the caller owns and must close the socket.
        """
        self.flush()
        self.phase = DETACHED
        return self.sock, self.protocol.trailing_data

    def after_detached(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` in this connection's greenlet once the app that detached the
        socket has returned, before the listener closes the socket.

        In the greenlet, not in a hub callback, so the callback may block briefly: a
        library that took the socket (simple-websocket) may still be watching it from
        another greenlet, and must be woken and let go before the file descriptor is
        closed (libev aborts the process on a watcher whose fd was closed under it).
        """
        if self._release_callbacks is None:
            self._release_callbacks = []
        self._release_callbacks.append(callback)

    def _release_detached(self) -> None:
        callbacks, self._release_callbacks = self._release_callbacks, None
        for callback in callbacks or ():
            try:
                callback()
            except Exception:  # noqa: BLE001 - one bad callback must not skip the others
                error_logger.exception("%s: error releasing a detached connection", self.client)

    def _close_socket(self) -> None:
        sock = self.sock
        try:
            sock.shutdown(_stdlib_socket.SHUT_WR)
            if self._linger:
                self._linger_read()
        except OSError:
            pass
        finally:
            sock.close()

    def _linger_read(self) -> None:
        # Closing with unread input makes the kernel send RST, which can destroy the
        # error response we just sent before the client reads it. Like nginx's
        # lingering_close, read and drop for a bounded time and amount first.
        self.deadline = time.monotonic() + LINGER_SECONDS
        dropped = 0
        while dropped < LINGER_BYTES:
            try:
                data = self.sock.recv(RECV_SIZE)
            except (OSError, *TIMEOUT_ERRORS):
                return
            if not data:
                return
            dropped += len(data)
