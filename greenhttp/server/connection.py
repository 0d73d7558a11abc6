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

import re
import time
from typing import TYPE_CHECKING, Any, Callable

from gevent import socket as gsocket

from ..body import Body
from ..errors import ClientDisconnected, ProtocolError, RequestError
from ..log import access_line, access_logger, error_logger
from ..protocol import (
    NEED_DATA,
    EndOfMessage,
    RequestHead,
    ServerProtocol,
    error_response,
    simple_response,
)
from .body_reader import BodyReader
from .calls import direct_call
from .dates import http_date
from .phase import APP, DETACHED, HEAD_HELD, IDLE, SENT
from .output import OUTPUT_HOLD, RECV_SIZE, TIMEOUT_ERRORS, Output
from .parking import Park, park
from .takeover import Takeover

if TYPE_CHECKING:
    from ..protocol import BodyWriter
    from .listener import Server

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version; method is a
# token (RFC 9110 §5.6.2). Leading empty lines are allowed (RFC 9112 §2.2).
_REQUEST_LINE = re.compile(rb"(?:\r?\n)*([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^ \r\n]+) HTTP/([0-9]\.[0-9])\r?\n")


def request_line_of(data: bytes) -> tuple[str, bytes, str] | None:
    """(method, target, version) of the request line ``data`` starts with, if well formed.

    Only for the access line of a rejected request: the protocol refused the head, so
    no :class:`RequestHead` exists, but its first line may still say what was asked.
    """
    match = _REQUEST_LINE.match(data)
    if match is None:
        return None
    return match[1].decode("ascii"), match[2], match[3].decode("ascii")


# CONNECT asks for a tunnel (RFC 9110 §9.3.6): only a proxy can give one, and a WSGI
# app opts in with a true ``greenhttp_connect`` attribute (ForwardProxy has it). Any
# other app gets 405 before it runs; a 405 MUST carry Allow (RFC 9110 §15.5.6), and since
# the app cannot tell us its methods, Allow lists the methods the server hands to it,
# which is every method but CONNECT: RFC 9110 §9's methods and PATCH (RFC 5789),
# less TRACE (a debugging echo that servers disable, Apache's TraceEnable, nginx's
# default 405). The app may still answer 405 for some of them with its own Allow.
CONNECT_ALLOW = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"


class _ConnectRefused(RequestError):
    status_hint = 405

def _is_tls(sock: Any) -> bool:
    # gevent's and the stdlib's SSLSocket both have getpeercert; plain sockets do not.
    return hasattr(sock, "getpeercert")


class HTTPConnection(Output, BodyReader, Takeover):
    """Serves one client connection until it closes, errs, or the server stops."""

    # Slots: ten thousand idle keep-alive connections should cost kilobytes each, not more.
    __slots__ = (
        "server", "config", "sock", "remote_addr", "remote_port", "client", "protocol",
        "_raw_sock", "deadline", "phase", "closing", "requests_served", "_linger",
        "_out", "_out_size", "_request", "_body", "_framing", "_head", "_continue_pending",
        "_status", "_body_sent", "greenlet", "_flush_scheduled", "_release_callbacks", "parked",
        "idle_wait", "_call_handler", "__weakref__",
    )

    def __init__(self, server: "Server", sock: gsocket.socket, address: Any) -> None:
        self.server = server
        self.config = server.config
        self._call_handler = direct_call(server.handler)  # calls.py: one C frame fewer
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
        self.phase = IDLE  # see Phase for the transitions
        self.closing = False
        self.requests_served = 0
        self._linger = False
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_scheduled = False
        # Per-request state, reset by _handle.
        self._request: RequestHead | None = None
        self._body: Body | None = None
        self._framing: BodyWriter | None = None
        self._head: bytes | None = None
        self._continue_pending = False
        self._status = 0
        self._body_sent = 0
        self.greenlet: Any = None
        self._release_callbacks: list[Callable[[], None]] | None = None
        #: waiting for its next request without a greenlet (parking.py)
        self.parked = False
        #: blocked in the wait for the next keep-alive request: the reaper may park it
        self.idle_wait = False

    @property
    def idle(self) -> bool:
        """Between requests, until a whole head has arrived: no app is running, so
        shutdown may close the connection (a half-sent head is abandoned)."""
        return self.phase is IDLE

    @property
    def detached(self) -> bool:
        return self.phase is DETACHED

    # -- the loop --------------------------------------------------------------

    def run(self, ready: bool = False) -> None:
        """Serve until the connection ends or parks. ``ready``: resumed from parking,
        the socket is readable (no wait before the first recv)."""
        try:
            self._serve(ready)
        except ClientDisconnected as exc:
            error_logger.info("%s: client disconnected: %s", self.client, exc)
        except OSError as exc:
            error_logger.info("%s: connection error: %s", self.client, exc)
        finally:
            if self.parked:
                pass  # the socket lives on, watched by the hub
            elif self.phase is not DETACHED:
                self._close_socket()
            else:
                self._release_detached()

    def _serve(self, ready: bool = False) -> None:
        protocol = self.protocol
        while True:
            try:
                event: Any = protocol.next_event()
            except ProtocolError as exc:  # a bad request pipelined behind good ones
                self._reject_unparsed(exc, None, time.perf_counter())
                return
            if event is NEED_DATA:
                self.flush()
                event = self._read_head(ready)
                ready = False
                if event is None:
                    return
            if not isinstance(event, RequestHead):
                # Leftover body events here would mean a bug in draining; never guess.
                error_logger.error("%s: unexpected %r between requests", self.client, event)
                return
            if not self._handle(event):
                if self.phase is not DETACHED:
                    self.flush()
                return
            protocol.start_next_cycle()
            self.phase = IDLE

    def _read_head(self, ready: bool = False) -> RequestHead | None:
        protocol = self.protocol
        sock = self.sock
        config = self.config
        head_started = False
        head_chunk: bytes | None = None  # where this head began: for the access log only
        started = 0.0
        # Between keep-alive requests on a plain socket, the client is still reading the
        # response we just sent: a recv now would almost always fail (EAGAIN, a syscall
        # and an exception) before gevent waits for readability anyway. Wait first.
        # Not under TLS: decrypted bytes may be buffered with nothing left to read in the kernel.
        wait_first = self.requests_served and self._raw_sock is not None and not ready
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
            if self.closing and not self.input_waiting():
                # Stopping: answer a request already received, never wait for a new one.
                return None
            try:
                if wait_first:
                    wait_first = False
                    self.idle_wait = True  # the reaper may park us meanwhile (parking.py)
                    try:
                        sock._wait(sock._read_event)  # type: ignore[attr-defined]  # gevent's own recv wait
                    except Park:
                        self.idle_wait = False
                        if self.closing or self.input_waiting():
                            continue  # stopping, or bytes came: no parking now
                        park(self)
                        return None
                    self.idle_wait = False
                    try:
                        # Readable now: the OS socket's recv, not gevent's wrapper around it.
                        data = self._raw_sock.recv(RECV_SIZE)
                    except BlockingIOError:  # woken with nothing to read after all
                        data = sock.recv(RECV_SIZE)
                else:
                    data = sock.recv(RECV_SIZE)
            except TIMEOUT_ERRORS:
                if protocol.in_head:
                    error_logger.info("%s: request head not complete in %ss, closing",
                                      self.client, config.head_timeout)
                return None
            except OSError:
                return None
            if not data:
                return None
            if head_chunk is None and not protocol.in_head:
                head_chunk = data
                started = time.perf_counter()
            try:
                protocol.receive_data(data)
                event = protocol.next_event()
            except ProtocolError as exc:
                self._reject_unparsed(exc, head_chunk, started)
                return None
            if event is not NEED_DATA:
                self.deadline = 0.0  # the app may take as long as it likes
                return event  # type: ignore[return-value]

    def _reject(self, exc: ProtocolError | RequestError, allow: str | None = None) -> None:
        """Answer a request the protocol refused (or whose body broke) with its status, and
        close. ``allow``: the ``Allow`` field a 405 must carry (RFC 9110 §15.5.6)."""
        error_logger.info("%s: bad request (%d): %s", self.client, exc.status_hint, exc)
        self._linger = True
        data = error_response(exc, http_date(), self.config.server_header)  # type: ignore[arg-type]
        if allow is not None:
            head, _, body = data.partition(b"\r\n\r\n")
            data = b"%s\r\nAllow: %s\r\n\r\n%s" % (head, allow.encode("latin-1"), body)
        self._status = exc.status_hint
        self._body_sent = len(data) - data.index(b"\r\n\r\n") - 4
        self.phase = SENT
        self._send(data)

    def _reject_unparsed(self, exc: ProtocolError, head_chunk: bytes | None, started: float) -> None:
        """Reject a request whose head never became a :class:`RequestHead`: the access
        line shows its request line if the bytes had a well-formed one, else ``-``."""
        self._reject(exc)
        if self.server.access_log:
            line = request_line_of(head_chunk) if head_chunk is not None else None
            method, target, version = line or (None, b"", "")
            access_logger.info(access_line(self.client, method, target, version, self._status,
                                           self._body_sent, time.perf_counter() - started))

    # -- one request -------------------------------------------------------------

    def _handle(self, request: RequestHead) -> bool:
        """Run the app for one request. Returns whether the connection may be reused."""
        self.phase = APP
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
            if request.upgrade and request.method == "CONNECT" and not self.server.allow_connect:
                raise _ConnectRefused("CONNECT is for proxies; this app does not take tunnels")
            keep_alive = self._call_handler(self, request, body) and keep_alive
        except ClientDisconnected:
            raise  # nobody left to answer: run() logs one line
        except RequestError as exc:
            # The inbound client's fault, surfaced while the app read the request (a bad
            # chunk, too large, a stalled body) or raised by the app to mean "bad
            # request". Only this role becomes a 4xx: whatever else escapes the app,
            # greenhttp's own client errors about an upstream included, is the
            # WSGI adapter's 500 (errors.py, "Roles").
            keep_alive = False
            if self.phase is not SENT:
                self._head = None
                self._reject(exc, CONNECT_ALLOW if type(exc) is _ConnectRefused else None)
            else:
                error_logger.info("%s: bad request body after response started: %s", self.client, exc)
        except Exception:
            # A Server(handler=...) that failed, e.g. a head the protocol refused
            # (LocalProtocolError: nothing went on the wire). Our side's fault: 500
            # when no response has started, else just close (errors.py, "Roles").
            error_logger.exception("%s: handler failed for %s %r", self.client, request.method,
                                   request.target)
            keep_alive = False
            if self.phase is not SENT and self.phase is not DETACHED:
                self._head = None
                self.send_simple(500, b"500 Internal Server Error\n")
        if self.phase is DETACHED:
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

    # -- responding ------------------------------------------------------------------

    @property
    def response_started(self) -> bool:
        return self.phase is HEAD_HELD or self.phase is SENT

    @property
    def head_on_wire(self) -> bool:
        """True once response bytes were queued or sent: too late for a different status."""
        return self.phase is SENT

    def start_response(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
        """Fix the response head. It goes out with the first body bytes, or at ``finish``."""
        request = self._request
        assert request is not None
        keep_alive = request.keep_alive
        body = self._body
        if self.closing and keep_alive:
            # Stopping: announce the close (RFC 9112 §9.6), unless the next request is
            # already here. Then this response stays keep-alive and the last request
            # received gets the close: everything received is answered (gunicorn does too).
            keep_alive = body is not None and body.complete and self.input_waiting()
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
        self.phase = HEAD_HELD

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
            self.phase = SENT
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
        self.phase = SENT
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
            self.phase = SENT
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
            self._continue_pending = False
            self.phase = SENT
        if framing.no_body:
            self.flush()
            return
        framing.sent += count
        self._body_sent += count
        unsent = self._send_file(file, offset, count)
        framing.sent -= unsent  # a file shorter than promised: finish() will notice

    def send_simple(self, status: int, body: bytes) -> None:
        """Answer with a complete small response of the server's own (500, 502...) and
        close: after an app failed, what else it left on the stream is unknown."""
        self._status = status
        self._framing = None
        self._head = None
        self.phase = SENT
        self._body_sent = len(body)
        self._send(simple_response(status, body, http_date(), self.config.server_header, True))
