"""One WebSocket connection: a socket driven through wsproto's sans-I/O state machine.

The server (after a 101) and the client (after reading the 101) both end up here. The
greenlet that calls :meth:`WebSocket.receive` does the reading, exactly like the HTTP
connection loop does for requests; any greenlet may :meth:`send`. wsproto does all of
RFC 6455's framing, masking, fragmentation, control frames, UTF-8 checks and
permessage-deflate (RFC 7692); this module only moves bytes and keeps the rules that
need a clock or a memory bound.
"""

from __future__ import annotations

import socket as _stdlib_socket
import ssl
import time
import weakref
from typing import Any, Callable, Iterable, Iterator, Optional, Union

import gevent
from gevent import socket as _gsocket
from gevent.lock import Semaphore
from wsproto.connection import Connection, ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError as _WSLocalProtocolError

from .deflate import BoundedDeflate
from .sending import Data, send_message
from .errors import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    INTERNAL_ERROR,
    MESSAGE_TOO_BIG,
    NORMAL_CLOSURE,
    ConcurrentReceive,
    ConnectionClosed,
    WebSocketTimeout,
)

Message = Union[str, bytes]

RECV_SIZE = 65536
#: How long close() waits for the peer's Close frame before dropping the TCP connection.
CLOSE_TIMEOUT = 5.0
#: How long one send may make no progress before the peer counts as gone.
SEND_TIMEOUT = 30.0
#: While the app is not in ``receive``, the keepalive timer reads for it (to see Pongs
#: and Close frames) only while fewer unread message bytes than this are queued; past
#: it, TCP backpressure holds the peer back and a dead peer shows as a send timeout.
KEEPALIVE_UNREAD_LIMIT = 1024 * 1024
#: How often the keepalive timer polls for the peer's Close while nobody receives.
CLOSING_POLL = 0.05

_timeouts = (_stdlib_socket.timeout, _gsocket.timeout, TimeoutError)
# A non-blocking recv (the keepalive's poll) with nothing to read.
_would_block = (BlockingIOError, ssl.SSLWantReadError)


class WebSocket:
    """A WebSocket connection, server or client side.

    ``receive()`` blocks the calling greenlet and returns ``str`` (text message) or
    ``bytes`` (binary message), or ``None`` once the connection is closed, however it
    closed: ``close_code``/``close_reason`` then say why (1000 normal, 1001 going away,
    1006 vanished without a Close frame, 1009 message too big...). Iterating yields
    messages until the close. ``send()`` after the close raises :class:`ConnectionClosed`.
    One greenlet receives at a time; any number may send.
    """

    __slots__ = (
        "sock", "subprotocol", "extensions", "max_message_size", "ping_interval",
        "ping_timeout", "idle_timeout", "close_code", "close_reason", "environ", "headers",
        "messages_in", "messages_out", "_ws", "_early", "_messages", "_parts", "_size",
        "_text", "_closed", "_send_lock", "_last_recv", "_ping_sent", "_close_sent",
        "_reader", "_on_close", "owner", "_deflate", "_timer", "_keeper", "_fragment_size",
        "_message_lock", "_sender", "_held", "_held_size", "__weakref__",
    )

    def __init__(self, sock: Any, connection: Connection, *, early: bytes = b"",
                 subprotocol: str | None = None, extensions: list[str] | None = None,
                 max_message_size: int | None = 16 * 1024 * 1024,
                 ping_interval: float | None = 20.0, ping_timeout: float | None = 20.0,
                 idle_timeout: float | None = None,
                 on_close: Callable[["WebSocket"], None] | None = None,
                 deflate: BoundedDeflate | None = None, fragment_size: int | None = None) -> None:
        self.sock = sock
        #: The negotiated subprotocol (Sec-WebSocket-Protocol), or None.
        self.subprotocol = subprotocol
        #: Negotiated extensions as sent in Sec-WebSocket-Extensions (e.g. permessage-deflate).
        self.extensions = extensions or []
        self.max_message_size = max_message_size or None
        self.ping_interval = ping_interval or None
        self.ping_timeout = ping_timeout or None
        self.idle_timeout = idle_timeout or None
        self.close_code: int | None = None
        self.close_reason = ""
        #: Server side: the WSGI environ of the handshake request.
        self.environ: dict[str, Any] | None = None
        #: Client side: the 101 response's header fields.
        self.headers: Any = None
        self.messages_in = 0
        self.messages_out = 0
        self._ws = connection
        self._early = early
        self._messages: list[Message] = []
        self._parts: list[Any] = []
        self._size = 0
        self._text = False
        self._closed = False
        self._send_lock = Semaphore()
        self._message_lock = Semaphore()  # one data message at a time (sending.py)
        self._sender: Any = None
        #: Whole messages other greenlets sent while a streamed one goes out (sending.py).
        self._held: list[Any] | None = None
        self._held_size = 0
        self._last_recv = time.monotonic()
        self._ping_sent = 0.0
        self._close_sent = 0.0
        self._reader: Any = None
        self._on_close = on_close
        #: The greenlet that reads (the request's, on the server); close() from any
        #: other only sends the Close frame: two greenlets never read one socket.
        self.owner: Any = None
        #: Our permessage-deflate, if negotiated: it says when a message overflowed.
        self._deflate = deflate
        self._fragment_size: int | None = None
        self.fragment_size = fragment_size or None
        self._timer: Any = None
        self._keeper: Any = None
        if self.ping_interval or self.idle_timeout:
            self._arm(self._wait_time(self._last_recv, None))

    # -- public API ------------------------------------------------------------------

    @property
    def fragment_size(self) -> int | None:
        """Largest frame payload a sent message is cut into (None: one frame per message),
        compressed payloads included: under permessage-deflate every frame is then flushed
        (websocket/deflate.py)."""
        return self._fragment_size

    @fragment_size.setter
    def fragment_size(self, size: int | None) -> None:
        self._fragment_size = size
        if self._deflate is not None:
            self._deflate.flush_every_frame = size is not None

    @property
    def closed(self) -> bool:
        """True once the connection is closed (no more messages will arrive)."""
        return self._closed

    def receive(self, timeout: float | None = None) -> Optional[Message]:
        """The next message (``str`` or ``bytes``), or ``None`` once the connection is closed.

        ``timeout``: raise :class:`WebSocketTimeout` if no message came in that many
        seconds (the connection stays usable).
        """
        messages = self._messages
        if messages:
            return messages.pop(0)
        self._start_reading()
        try:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not messages:
                if self._closed:
                    return None
                self._read(deadline)
            return messages.pop(0)
        finally:
            self._reader = None

    def __iter__(self) -> Iterator[Message]:
        while True:
            message = self.receive()
            if message is None:
                return
            yield message

    def send(self, data: Union[Data, Iterable[Data]]) -> None:
        """Send one message: text for ``str``, binary for bytes-like, in frames of at most
        ``fragment_size`` bytes; or an iterable of parts (all str or all bytes-like), each
        sent as a frame as soon as it is produced. Other senders wait for the whole message."""
        send_message(self, data)

    def ping(self, payload: bytes = b"") -> None:
        """Send a Ping (RFC 6455 §5.5.2); the peer's Pong is consumed by ``receive``."""
        self._send(Ping(payload=payload))

    def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2) and wait, bounded, for its end.

        Messages still arriving meanwhile are dropped. Safe to call more than once and
        from another greenlet than the reader (the reader then finishes the handshake).
        """
        if self._closed:
            return
        if self._ws.state is ConnectionState.OPEN:
            try:
                self._send(CloseConnection(code=code, reason=reason or None))
            except ConnectionClosed:
                return
        current = gevent.getcurrent()
        keeper = self._keeper
        if keeper is not None and keeper is not current and self._reader is keeper:
            keeper.join()  # the keepalive's poll is brief; then this greenlet may read
        if (self._reader is not None and self._reader is not current) or (
                self.owner is not None and self.owner is not current):
            # The reading greenlet sees the peer's Close (or the close timeout); if
            # nobody is receiving, the keepalive timer polls for it.
            self._arm(CLOSING_POLL)
            return
        reentrant = self._reader is current
        if not reentrant:
            self._start_reading()
        try:
            while not self._closed:
                self._read(None)
        finally:
            if not reentrant:
                self._reader = None
        self._messages.clear()

    def _start_reading(self) -> None:
        """Become the one greenlet reading the socket (RFC 6455 frames cannot be split
        between two readers); wait out the keepalive's brief poll, refuse a second app reader."""
        current = gevent.getcurrent()
        while self._reader is not None and self._reader is not current:
            keeper = self._keeper
            if keeper is None or self._reader is not keeper:
                raise ConcurrentReceive("another greenlet is already receiving on this WebSocket; "
                                        "one greenlet receives, any number may send")
            keeper.join()
        self._reader = current

    # -- reading ---------------------------------------------------------------------

    def _read(self, deadline: float | None, poll: bool = False) -> None:
        """One recv (or one timer expiry) and the events it produced. ``poll``: only
        what is already there, without waiting (the keepalive's read)."""
        sock = self.sock
        try:
            data = self._early
            if data:
                self._early = b""
            else:
                sock.settimeout(0.0 if poll else self._wait_time(time.monotonic(), deadline))
                data = sock.recv(RECV_SIZE)
        except _would_block:
            return
        except _timeouts:
            if not poll:
                self._on_timer(deadline)
            return
        except OSError as exc:
            self._lost(f"connection error: {exc}")
            return
        finally:
            if poll and not self._closed:
                sock.settimeout(None)  # sends on this socket must not be non-blocking
        if not data:
            # RFC 6455 §7.1.5: closed without a Close frame is 1006.
            self._lost("peer closed the TCP connection without a Close frame")
            return
        self._last_recv = time.monotonic()
        self._ping_sent = 0.0
        self._ws.receive_data(data)
        self._process()

    def _wait_time(self, now: float, deadline: float | None) -> float | None:
        times = []
        if deadline is not None:
            times.append(deadline)
        if self._close_sent:
            times.append(self._close_sent + CLOSE_TIMEOUT)
        elif self._ping_sent:
            if self.ping_timeout:
                times.append(self._ping_sent + self.ping_timeout)
        elif self.ping_interval:
            times.append(self._last_recv + self.ping_interval)
        if self.idle_timeout and not self._close_sent:
            times.append(self._last_recv + self.idle_timeout)
        if not times:
            return None
        return max(min(times) - now, 0.001)

    def _on_timer(self, deadline: float | None) -> None:
        now = time.monotonic()
        if self._close_sent:
            if now >= self._close_sent + CLOSE_TIMEOUT:
                # RFC 6455 §7.1.1: the peer did not answer our Close; drop TCP anyway.
                self._finish(self.close_code or ABNORMAL_CLOSURE, self.close_reason)
            return
        if self._ping_sent and self.ping_timeout and now >= self._ping_sent + self.ping_timeout:
            # No byte at all since our Ping: the peer vanished without a FIN (a pulled
            # cable, a dead NAT entry). RFC 6455 §7.1.7 "Fail the WebSocket Connection".
            self._fail(INTERNAL_ERROR, "keepalive ping timeout")
            return
        if self.idle_timeout and now >= self._last_recv + self.idle_timeout:
            self._fail(GOING_AWAY, "idle timeout", linger=True)
            return
        if deadline is not None and now >= deadline:
            raise WebSocketTimeout("no WebSocket message within the timeout")
        if self.ping_interval and not self._ping_sent and now >= self._last_recv + self.ping_interval:
            self._ping_sent = now
            try:
                self.ping(b"greenhttp")
            except ConnectionClosed:
                pass

    def _process(self) -> None:
        max_size = self.max_message_size
        for event in self._ws.events():
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                if self._close_sent:
                    continue  # closing: data still in flight is dropped, not buffered
                # wsproto hands over frame payloads as they arrive (partial frames
                # too), so the only place a message accumulates is here, bounded.
                data = event.data  # type: ignore[attr-defined]
                self._parts.append(data)
                self._size += len(data)
                self._text = kind is TextMessage
                deflate = self._deflate
                if max_size is not None and (self._size > max_size or (
                        deflate is not None and deflate.overflowed)):
                    self._parts = []
                    self._size = 0
                    # RFC 6455 §7.4.1: 1009, "a message that is too big for it to process".
                    self._fail(MESSAGE_TOO_BIG, f"message larger than {max_size} bytes", linger=True)
                    return
                if event.message_finished:  # type: ignore[attr-defined]
                    parts = self._parts
                    if self._text:
                        message: Message = parts[0] if len(parts) == 1 else "".join(parts)
                    else:
                        message = bytes(parts[0]) if len(parts) == 1 else b"".join(parts)
                    self._parts = []
                    self._size = 0
                    self._messages.append(message)
                    self.messages_in += 1
            elif kind is Ping:
                # RFC 6455 §5.5.3: answer a Ping with a Pong carrying its payload.
                try:
                    self._send(event.response())  # type: ignore[attr-defined]
                except ConnectionClosed:
                    return
            elif kind is Pong:
                pass  # any byte received already proved the peer alive
            elif kind is CloseConnection:
                code = int(event.code)  # type: ignore[attr-defined]
                reason = event.reason or ""  # type: ignore[attr-defined]
                state = self._ws.state
                if state is ConnectionState.REMOTE_CLOSING:
                    # RFC 6455 §5.5.1: echo the Close, then the connection is done
                    # (§7.1.1: the server closes TCP first; a client may too once done).
                    try:
                        self._send(event.response())  # type: ignore[attr-defined]
                    except ConnectionClosed:
                        pass
                    self._finish(code, reason)
                elif state is ConnectionState.OPEN:
                    # wsproto turned a protocol violation (bad UTF-8 → 1007, bad frame
                    # → 1002) into this event: fail the connection with that code.
                    self._fail(code, reason)
                else:
                    # The answer to our own Close: the handshake is complete.
                    self._finish(self.close_code or code, self.close_reason or reason)
                return

    # -- writing and ending ---------------------------------------------------------

    def _send(self, event: Event) -> None:
        if self._closed:
            raise ConnectionClosed(self.close_code or ABNORMAL_CLOSURE, self.close_reason)
        try:
            data = self._ws.send(event)
        except _WSLocalProtocolError:
            # Closing or closed already: messages can no longer be sent (RFC 6455 §5.5.1).
            raise ConnectionClosed(self.close_code or NORMAL_CLOSURE, self.close_reason) from None
        if isinstance(event, CloseConnection) and not self._close_sent:
            self._close_sent = time.monotonic()
            if self.close_code is None:
                self.close_code = int(event.code)
                self.close_reason = event.reason or ""
        try:
            with self._send_lock:
                timer = gevent.Timeout(SEND_TIMEOUT)
                timer.start()
                try:
                    self.sock.sendall(data)
                finally:
                    timer.close()
        except gevent.Timeout:
            self._lost(f"peer read nothing for {SEND_TIMEOUT}s")
            raise ConnectionClosed(ABNORMAL_CLOSURE, "send timed out") from None
        except (OSError, *_timeouts) as exc:
            self._lost(f"connection error while sending: {exc}")
            raise ConnectionClosed(ABNORMAL_CLOSURE, str(exc)) from None

    def _fail(self, code: int, reason: str, linger: bool = False) -> None:
        """RFC 6455 §7.1.7: send a Close with ``code`` if still possible, then drop TCP.

        ``linger``: the peer is alive (it sent too much, or idled), so read and discard
        until its Close or CLOSE_TIMEOUT, as §7.1.1 asks: dropping TCP while it is still
        sending would reset the connection and lose our Close frame and its code.
        """
        if self._ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            self.close_code = code
            self.close_reason = reason
            try:
                self._send(CloseConnection(code=code, reason=reason))
            except ConnectionClosed:
                pass
            if linger and not self._closed and self._ws.state is ConnectionState.LOCAL_CLOSING:
                return
        self._finish(code, reason)

    def _lost(self, why: str) -> None:
        self._finish(self.close_code or ABNORMAL_CLOSURE, self.close_reason or why)

    def _finish(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.close()
        if self.close_code is None or self.close_code == ABNORMAL_CLOSURE:
            self.close_code = code
            self.close_reason = reason
        sock = self.sock
        try:
            sock.shutdown(_stdlib_socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass
        callback = self._on_close
        if callback is not None:
            self._on_close = None
            callback(self)

    # -- keepalive while the app is not in receive() ----------------------------------

    def _arm(self, delay: float | None) -> None:
        """(Re)start the keepalive timer: a libev timer, no greenlet, while nothing is due."""
        if self._closed or delay is None:
            return
        timer = self._timer
        if timer is not None:
            timer.close()
        timer = self._timer = gevent.get_hub().loop.timer(delay, ref=False)
        timer.start(_keepalive_tick, weakref.ref(self))

    def _keepalive(self) -> None:
        """The timer fired and no greenlet is receiving: read what has arrived (Pongs, a
        Close, messages for a later receive), then do what is due (ping, ping timeout,
        idle timeout, close timeout), as ``receive`` would while waiting."""
        try:
            if self._closed or self._reader is not None:
                return
            unread = sum(len(m) for m in self._messages) + self._size
            if unread > KEEPALIVE_UNREAD_LIMIT:
                return  # the app is not reading: leave the rest in TCP's window
            self._reader = gevent.getcurrent()
            try:
                self._read(None, poll=True)
                if not self._closed:
                    self._on_timer(None)
            finally:
                self._reader = None
        finally:
            self._keeper = None
            if not self._closed:
                self._arm(CLOSING_POLL if self._close_sent else
                          self._wait_time(time.monotonic(), None) or self.ping_interval)

    def abandon(self) -> None:
        """End without blocking (the owner is gone): a Close if the kernel takes it, then drop."""
        if self._closed:
            return
        if self._ws.state is ConnectionState.OPEN:
            try:
                data = self._ws.send(CloseConnection(code=GOING_AWAY if self.close_code == GOING_AWAY
                                                     else NORMAL_CLOSURE))
                raw = getattr(self.sock, "_sock", None)
                if raw is not None:
                    raw.send(data)
            except (OSError, _WSLocalProtocolError):
                pass
        self._finish(self.close_code or NORMAL_CLOSURE, self.close_reason)

    def __repr__(self) -> str:
        state = f"closed {self.close_code}" if self._closed else "open"
        return f"<WebSocket {state} subprotocol={self.subprotocol!r}>"


def _keepalive_tick(ref: "weakref.ReferenceType[WebSocket]") -> None:
    """Runs in the hub when a WebSocket's keepalive timer fires."""
    ws = ref()
    if ws is None or ws._closed:
        return
    if ws._reader is not None:  # a receive() is waiting: its own recv timeout does the work
        ws._arm(ws.ping_interval or ws.idle_timeout)
        return
    ws._keeper = gevent.spawn(ws._keepalive)
