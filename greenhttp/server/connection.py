"""One greenlet per connection: the server's I/O loop around :class:`ServerProtocol`.

How a request flows (docs/architecture.md has the picture):

1. ``_read_head`` reads until the protocol yields a :class:`RequestHead`. A new
   connection must send its first head within ``head_timeout``; between requests
   the keep-alive timeout applies; once a head has begun it must be complete within
   ``head_timeout`` (slowloris), whatever the client trickles.
2. The app is called at once with a :class:`Body` whose ``pull`` is
   ``_pull_body``: reading the body is what reads the socket, so an app that reads
   slowly holds at most one ``recv`` worth of bytes in memory. The first pull
   sends ``100 Continue`` when the client asked for it.
3. Responses go through ``start``/``write``/``finish``. The head waits for the
   first body bytes so head and a small body leave in one send. Output of
   complete responses is held back while more pipelined requests are already
   parsed, so sixteen pipelined GETs cost one send, not sixteen.
4. Whatever body the app left unread is drained up to ``drain_limit``, else the
   connection closes; unread body bytes are never parsed as the next request.
"""

from __future__ import annotations

import os
import socket as _stdlib_socket
import time
from typing import TYPE_CHECKING, Any, Optional

from gevent import get_hub
from gevent import socket as gsocket
from gevent.socket import cancel_wait, wait_write

from ..body import Body
from .dates import http_date
from ..errors import ClientDisconnected, ProtocolError, RequestError, RequestTimeout
from ..headers import Headers
from ..log import access_line, access_logger, error_logger
from ..protocol.core import (
    CONTINUE_RESPONSE,
    NEED_DATA,
    Data,
    EndOfMessage,
    RequestHead,
    ResponseFraming,
    ServerProtocol,
    error_response,
    simple_response,
)

if TYPE_CHECKING:
    from .listener import Server

# 64 KiB per recv: large enough for a 1 MiB upload in 16 reads, small enough that
# the per-connection bound on buffered body bytes stays small.
RECV_SIZE = 65536
# Complete responses are held back for pipelining up to this many bytes.
OUTPUT_HOLD = 65536

_timeout_errors = (gsocket.timeout, TimeoutError)
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024


def _is_tls(sock: Any) -> bool:
    # gevent's and the stdlib's SSLSocket both have getpeercert; plain sockets do not.
    return hasattr(sock, "getpeercert")


class HTTPConnection:
    """Serves one client connection until it closes, errs, or the server stops."""

    # Slots: ten thousand idle keep-alive connections should cost kilobytes each, not more.
    __slots__ = (
        "server", "config", "sock", "remote_addr", "remote_port", "client", "protocol",
        "_raw_sock", "deadline", "idle", "closing", "requests_served", "detached", "_linger",
        "_out", "_out_size", "_request", "_body", "_framing", "_head", "_continue_pending",
        "_status", "_body_sent", "greenlet", "_flush_scheduled", "__weakref__",
    )

    def __init__(self, server: "Server", sock: gsocket.socket, address: Any) -> None:
        self.server = server
        self.config = server.config
        self.sock = sock
        if isinstance(address, tuple) and len(address) >= 2:
            self.remote_addr, self.remote_port = str(address[0]), int(address[1])
        else:
            self.remote_addr, self.remote_port = str(address or ""), 0
        self.client = f"{self.remote_addr}:{self.remote_port}"
        self.protocol = ServerProtocol(server.limits)
        # gevent keeps the non-blocking stdlib socket as ``_sock``; absent on exotic wrappers.
        # Under TLS that is the ciphertext socket: writing to it would bypass TLS.
        self._raw_sock = None if _is_tls(sock) else getattr(sock, "_sock", None)
        #: monotonic time after which the server's reaper interrupts a blocked read or
        #: write (0: none). A deadline per connection instead of a socket timeout per
        #: wait: gevent starts and stops a timer for every timed wait, ~10 us a request.
        self.deadline = 0.0
        #: True between requests, until a whole head has arrived: no app is running, so
        #: shutdown may close the connection (a half-sent head is abandoned).
        self.idle = True
        self.closing = False
        self.requests_served = 0
        self.detached = False
        self._linger = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_scheduled = False
        # Per-request state, reset by _handle.
        self._request: RequestHead | None = None
        self._body: Body | None = None
        self._framing: ResponseFraming | None = None
        self._head: bytes | None = None
        self._continue_pending = False
        self._status = 0
        self._body_sent = 0
        self.greenlet: Any = None

    # -- the loop --------------------------------------------------------------

    def run(self) -> None:
        try:
            self._serve()
        except ClientDisconnected as exc:
            error_logger.info("%s: client disconnected: %s", self.client, exc)
        except OSError as exc:
            error_logger.info("%s: connection error: %s", self.client, exc)
        finally:
            if not self.detached:
                self._close_socket()

    def _serve(self) -> None:
        protocol = self.protocol
        while True:
            try:
                event: Any = protocol.next_event()
            except ProtocolError as exc:  # a bad request pipelined behind good ones
                self._reject(exc)
                return
            if event is NEED_DATA:
                self.flush()
                if self.closing:
                    return
                event = self._read_head()
                if event is None:
                    return
            self.idle = False
            if not isinstance(event, RequestHead):
                # Leftover body events here would mean a bug in draining; never guess.
                error_logger.error("%s: unexpected %r between requests", self.client, event)
                return
            if not self._handle(event) or self.closing or self.detached:
                if not self.detached:
                    self.flush()
                return
            protocol.start_next_cycle()
            self.idle = True

    def _read_head(self) -> RequestHead | None:
        protocol = self.protocol
        sock = self.sock
        config = self.config
        head_started = False
        while True:
            if protocol.in_head:
                if not head_started:
                    # The head deadline runs from its first byte and is never extended.
                    head_started = True
                    self.deadline = time.monotonic() + config.head_timeout
            elif self.requests_served:
                self.deadline = time.monotonic() + config.keepalive_timeout
            else:
                self.deadline = time.monotonic() + config.head_timeout
            try:
                data = sock.recv(RECV_SIZE)
            except _timeout_errors:
                if protocol.in_head:
                    error_logger.info("%s: request head not complete in %ss, closing",
                                      self.client, config.head_timeout)
                return None
            except OSError:
                return None
            if not data:
                return None
            try:
                protocol.receive_data(data)
                event = protocol.next_event()
            except ProtocolError as exc:
                self._reject(exc)
                return None
            if event is not NEED_DATA:
                self.deadline = 0.0  # the app may take as long as it likes
                return event  # type: ignore[return-value]

    def expire(self) -> None:
        """Called by the server's reaper once ``deadline`` passed: interrupt the blocked I/O.

        ``cancel_wait`` throws only into a greenlet still waiting on that watcher when
        the hub gets to it, so a read that completed meanwhile is never interrupted.
        """
        self.deadline = 0.0
        error = gsocket.timeout("timed out")
        cancel_wait(getattr(self.sock, "_read_event", None), error)
        cancel_wait(getattr(self.sock, "_write_event", None), error)

    def _reject(self, exc: RequestError) -> None:
        error_logger.info("%s: bad request (%d): %s", self.client, exc.status_hint, exc)
        self._linger = True
        self._send(error_response(exc, http_date(), self.config.server_header))

    # -- one request -------------------------------------------------------------

    def _handle(self, request: RequestHead) -> bool:
        """Run the app for one request. Returns whether the connection may be reused."""
        self._request = request
        self._framing = None
        self._head = None
        self._status = 0
        self._body_sent = 0
        self.requests_served += 1
        started = time.perf_counter() if self.server.access_log else 0.0
        if request.has_body:
            body = Body(self._pull_body, request.content_length)
            self._continue_pending = request.expect_continue
        else:
            body = Body.empty()
            self._continue_pending = False
            event = self.protocol.next_event()
            if not isinstance(event, EndOfMessage):
                # llhttp emits message-complete together with a bodiless head.
                raise AssertionError(f"expected end of message, got {event!r}")
        self._body = body
        keep_alive = request.keep_alive and not request.upgrade
        try:
            keep_alive = self.server.handler(self, request, body) and keep_alive
        except ClientDisconnected:
            raise  # nobody left to answer: run() logs one line
        except RequestError as exc:
            # The inbound client's fault, surfaced while the app read the request (a bad
            # chunk, too large, a stalled body) or raised by the app to mean "bad
            # request". Only this role becomes a 4xx: whatever else escapes the app,
            # greenhttp's own client errors about an upstream included, is the
            # WSGI adapter's 500 (errors.py, "Roles").
            keep_alive = False
            if not self.head_on_wire:
                self._head = None
                self._reject(exc)
                self._status = exc.status_hint
            else:
                error_logger.info("%s: bad request body after response started: %s", self.client, exc)
        if self.detached:
            return False
        framing = self._framing
        if framing is None or not framing.keep_alive:
            keep_alive = False
        if keep_alive and not body.complete:
            keep_alive = self._drain(body)
        if not body.complete:
            self._linger = True
        if self.server.access_log:
            access_logger.info(access_line(self.client, request.method, request.target,
                                           request.http_version, self._status, self._body_sent,
                                           time.perf_counter() - started))
        self._request = None
        self._body = None
        return keep_alive

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
                    if self._head is None and self._framing is None:
                        self._send(CONTINUE_RESPONSE)
                self.flush()
                self.deadline = time.monotonic() + self.config.body_timeout
                try:
                    data = self.sock.recv(RECV_SIZE)
                except _timeout_errors:
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
                return event.data  # type: ignore[union-attr]
            if type(event) is EndOfMessage:
                if event.trailers and self._body is not None:  # type: ignore[union-attr]
                    self._body.trailers = Headers.from_raw(event.trailers)  # type: ignore[union-attr]
                return None
            raise AssertionError(f"unexpected {event!r} inside a request body")

    # -- responding ------------------------------------------------------------------

    @property
    def response_started(self) -> bool:
        return self._head is not None or self._framing is not None

    @property
    def head_on_wire(self) -> bool:
        """True once response bytes were queued or sent: too late for a different status."""
        return self._framing is not None and self._head is None

    def start_response(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        """Fix the response head. It goes out with the first body bytes, or at ``finish``."""
        request = self._request
        assert request is not None
        keep_alive = request.keep_alive and not self.closing
        body = self._body
        if keep_alive and body is not None and not body.complete:
            # Announce the close now when we already know the unread body cannot be
            # drained: it was never asked for (100-continue) or is too large.
            unread = (request.content_length or 0) - body.received
            if self._continue_pending or unread > self.config.drain_limit:
                keep_alive = False
        head, framing = self.protocol.response_head(
            request, status, reason, headers, http_date(), self.config.server_header, keep_alive)
        self._head = head
        self._framing = framing
        self._status = status

    def write(self, data: bytes, flush: bool = True) -> None:
        framing = self._framing
        assert framing is not None, "write() before start_response()"
        framed = framing.frame(data)
        if framing.no_body:
            framed = b""
        else:
            self._body_sent += len(data)
        head = self._head
        if head is not None:
            self._head = None
            self._continue_pending = False
            framed = head + framed if framed else head
        if framed:
            self._queue(framed)
        if flush:
            self.flush()

    def respond_whole(self, status: int, reason: str, headers: list[tuple[str, str]],
                      body: bytes) -> None:
        """A complete response whose body is one bytes object: head, body and end in one
        queued piece (the common ``return [body]`` case, without the per-chunk path)."""
        self.start_response(status, reason, headers)
        framing = self._framing
        assert framing is not None and self._head is not None
        framed = framing.frame(body)
        if framed:
            self._body_sent = len(body)
        data = self._head + framed + framing.end() if framed else self._head + framing.end()
        self._head = None
        self._continue_pending = False
        self._out.append(data)
        self._out_size += len(data)
        if not self.protocol.has_buffered_events() or self._out_size > OUTPUT_HOLD:
            self.flush()
        else:
            self._hold()

    def finish(self) -> None:
        """End the response body (flushing is left to the loop, for pipelining)."""
        framing = self._framing
        assert framing is not None
        head = self._head
        end = framing.end()
        if head is not None:
            self._head = None
            self._continue_pending = False
            end = head + end
        if end:
            self._queue(end)
        if not self.protocol.has_buffered_events() or self._out_size > OUTPUT_HOLD:
            self.flush()
        else:
            self._hold()

    def sendfile(self, file: Any, offset: int, count: int) -> None:
        """Send ``count`` bytes of ``file`` with sendfile(2), falling back to read/send."""
        framing = self._framing
        assert framing is not None
        if self._head is not None:
            self._queue(self._head)
            self._head = None
        self.flush()
        if framing.no_body:
            return
        framing.sent += count
        self._body_sent += count
        try:
            # Under TLS the kernel would send the file's plaintext: read/send instead.
            fileno = None if _is_tls(self.sock) else file.fileno()
        except (AttributeError, OSError, ValueError):
            fileno = None
        out_fd = self.sock.fileno()
        while count > 0 and fileno is not None:
            try:
                sent = os.sendfile(out_fd, fileno, offset, count)
            except BlockingIOError:
                try:
                    wait_write(out_fd, timeout=self.config.body_timeout)
                except _timeout_errors:
                    raise ClientDisconnected(
                        f"client read nothing of the file for {self.config.body_timeout}s") from None
                continue
            except OSError as exc:
                raise ClientDisconnected(f"connection lost during sendfile: {exc}") from exc
            if sent == 0:
                break  # file shorter than promised; finish() will notice
            offset += sent
            count -= sent
        if count > 0:
            file.seek(offset)
            while count > 0:
                data = file.read(min(count, RECV_SIZE))
                if not data:
                    framing.sent -= count
                    break
                self._send(data)
                count -= len(data)

    def send_simple(self, status: int, body: bytes, close: bool = True) -> None:
        """Answer with a complete small response of the server's own (500, 502...)."""
        self._status = status
        self._framing = ResponseFraming(True, False, None, not close)
        self._head = None
        self._send(simple_response(status, body, http_date(), self.config.server_header, close))

    def _queue(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)

    def flush(self) -> None:
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_size = 0
        self._send_now(data)

    def _hold(self) -> None:
        """Keep finished output for coalescing, but no longer than this greenlet runs:
        if the next pipelined app blocks, the hub sends what is held meanwhile."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            get_hub().loop.run_callback(self._flush_held)

    def _flush_held(self) -> None:
        # Runs in the hub: must not block, so one non-blocking send; what the kernel
        # does not take stays queued for the connection's own next flush.
        self._flush_scheduled = False
        out = self._out
        raw = self._raw_sock
        if not out or raw is None:
            return
        data = b"".join(out)
        try:
            sent = raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the connection greenlet will meet the error itself
        out.clear()
        self._out_size = 0
        if sent < len(data):
            out.append(data[sent:])
            self._out_size = len(data) - sent

    def _send(self, data: bytes) -> None:
        """Send now, after anything held: responses leave in request order."""
        if self._out:
            self._queue(data)
            self.flush()
        else:
            self._send_now(data)

    def _send_now(self, data: bytes) -> None:
        try:
            # Fast path: one non-blocking send on the raw socket usually takes it all.
            raw = self._raw_sock
            view = memoryview(data)
            if raw is not None:
                try:
                    sent = raw.send(data)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return
                view = view[sent:]
            # Slow path: the client reads slower than we write. body_timeout bounds each
            # wait for progress, not the whole transfer, so a slow steady reader is fine.
            send = self.sock.send
            timeout = self.config.body_timeout
            try:
                while view:
                    self.deadline = time.monotonic() + timeout
                    view = view[send(view):]
            finally:
                self.deadline = 0.0
        except _timeout_errors:
            raise ClientDisconnected(
                f"client read nothing of the response for {self.config.body_timeout}s") from None
        except OSError as exc:
            raise ClientDisconnected(f"connection lost while sending: {exc}") from exc

    # -- shutdown and takeover -----------------------------------------------------------

    def detach(self) -> tuple[gsocket.socket, bytes]:
        """Hand the raw socket and any unparsed bytes to the caller (CONNECT tunnels).

        The connection loop stops; the caller owns and must close the socket.
        """
        self.flush()
        self.detached = True
        return self.sock, self.protocol.trailing_data

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
            except (OSError, *_timeout_errors):
                return
            if not data:
                return
            dropped += len(data)
