"""One request and its response on one pooled connection: the client's exchange loop.

Writes the head (and a small body) in one send, an optional ``Expect: 100-continue``
wait, the body streamed, then reads :class:`ClientProtocol` events until the response
head; the response ``Body`` pulls from here. The connection goes back to the pool
exactly once (``release``), on every path, BaseExceptions included.
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from ..body import Body
from ..errors import (
    IncompleteBody,
    LocalProtocolError,
    ProxyError,
    ResponseProtocolError,
    TimeoutError,
    UpstreamDisconnected,
)
from ..headers import Headers
from ..protocol import (
    NEED_DATA,
    BodyWriter,
    ClientProtocol,
    Data,
    EndOfMessage,
    InformationalResponse,
    ResponseHead,
)
from .payload import _FileRegion, _Payload
from .pool import Pool, PooledConnection
from .retry import IDEMPOTENT_METHODS
from .routing import USER_AGENT
from .timeouts import _Timer
from .transport import READ_SIZE, SocketStream, Stream

if TYPE_CHECKING:
    from .routing import _URL, _Proxy, _Route


# A body up to this size leaves in the same send as the head (one syscall, one packet
# train); larger ones are written in WRITE_SIZE slices so progress() can report.
SMALL_BODY = 65536
# Raw reads of Content-Length bodies: 1 MiB, so a 1 GiB download is 1024 recv calls.
RAW_READ_SIZE = 1024 * 1024
# Reading this much of an unwanted body off a warm connection is cheaper than a new
# TCP (and TLS) handshake; beyond it, closing is cheaper.
DRAIN_LIMIT = 262144
# curl sends "Expect: 100-continue" for uploads over 1 MiB and waits 1 s for the
# 100 before sending anyway (servers that predate 100-continue never answer).
EXPECT_THRESHOLD = 1024 * 1024
EXPECT_WAIT = 1.0


# -- one exchange on one connection ------------------------------------------------------


class _Reader:
    """The one read loop: feed a :class:`ClientProtocol` from a stream until it has an event.

    Every place the client waits for the server (a response head, the 100 of
    ``Expect``, a proxy's answer to CONNECT, a chunked or close-delimited body) goes
    through :meth:`fill`: read once, feed the bytes, or feed EOF.
    """

    __slots__ = ("protocol", "stream", "received")

    def __init__(self, stream: Stream, protocol: ClientProtocol | None = None) -> None:
        self.protocol = protocol if protocol is not None else ClientProtocol()
        self.stream = stream
        self.received = 0

    def fill(self, timeout: float | None) -> None:
        data = self.stream.read(READ_SIZE, timeout)
        if data:
            self.received += len(data)
            self.protocol.receive_data(data)
        elif self.received == 0:
            raise UpstreamDisconnected("the server closed the connection without sending a response")
        else:
            self.protocol.receive_eof()

    def next_event(self, timeout: Callable[[], float | None] = lambda: None) -> Any:
        protocol = self.protocol
        while True:
            event = protocol.next_event()
            if event is not NEED_DATA:
                return event
            self.fill(timeout())


class _Exchange(_Reader):
    """One request and its response on a checked-out connection; releases it exactly once."""

    __slots__ = ("pool", "conn", "timer", "released", "must_close", "trailers",
                 "keep_alive", "body_length", "body_seen", "raw_remaining", "__weakref__")

    def __init__(self, pool: Pool, conn: PooledConnection, timer: _Timer) -> None:
        protocol = conn.protocol
        if protocol is None:
            protocol = conn.protocol = ClientProtocol()
        super().__init__(conn.stream, protocol)
        self.pool = pool
        self.conn = conn
        self.timer = timer
        self.released = False
        self.must_close = False
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.keep_alive = True
        #: Content-Length of a response body framed by it (not chunked, not close-delimited).
        self.body_length: int | None = None
        self.body_seen = 0
        #: body bytes still to read straight off the socket, once in raw mode.
        self.raw_remaining: int | None = None

    # -- reading

    def next_event(self, timeout: Callable[[], float | None] | None = None) -> Any:
        try:
            return super().next_event(timeout or self.timer.read)
        except TimeoutError as exc:
            self.timer.expired(exc)
            raise

    def read_head(self) -> ResponseHead:
        while True:
            event = self.next_event()
            if isinstance(event, ResponseHead):
                return event
            # 1xx interim responses (103 Early Hints, an unasked-for 100): skip.

    def pull(self) -> bytes | None:
        """The response Body's pull: the next chunk, or None at the end.

        A Content-Length body, once the parser has handed over what it buffered, is
        read straight off the socket in 1 MiB reads: the bytes ``recv`` returns are the
        chunks, with no copy through llhttp's ``on_body``. That is what makes a 1 GiB
        download run at memory speed. The parser has then not seen the end of the
        message, which does not matter: the next request gets a fresh parser, and
        bytes past the body stay in the kernel for the stale probe to find.
        """
        try:
            if self.raw_remaining is not None:
                return self._pull_raw()
            event = self.protocol.next_event()
            if event is NEED_DATA:
                if self.body_length is not None:
                    self.raw_remaining = self.body_length - self.body_seen
                    return self._pull_raw()
                event = self.next_event()
        except BaseException:
            self.release(False)
            raise
        if type(event) is Data:
            self.body_seen += len(event.data)
            return event.data
        if isinstance(event, EndOfMessage):
            self.trailers = event.trailers
            return None
        return b""  # nothing else can follow a head; b"" makes Body ask again

    def _pull_raw(self) -> bytes | None:
        remaining = self.raw_remaining
        assert remaining is not None
        if remaining <= 0:
            return None
        try:
            data = self.conn.stream.read(RAW_READ_SIZE if remaining > RAW_READ_SIZE else remaining,
                                         self.timer.read())
        except TimeoutError as exc:
            self.timer.expired(exc)
            raise
        if not data:
            received = (self.body_length or 0) - remaining
            raise IncompleteBody(f"connection closed before the response body was complete "
                                 f"({received} of {self.body_length} bytes)")
        self.raw_remaining = remaining - len(data)
        return data

    def body_complete(self, body: Body) -> None:
        if self.trailers:
            body.trailers = Headers.from_raw(self.trailers)
        self.finish()

    def finish(self) -> None:
        """The response ended: back to the pool if the connection can carry another."""
        reusable = not self.must_close and self.keep_alive and not self.protocol.unexpected_data
        self.release(reusable)

    # -- writing

    def send(self, head: bytes, payload: _Payload | None, writer: BodyWriter, expect: bool,
             progress: Callable[[int, int | None], Any] | None) -> ResponseHead:
        stream = self.conn.stream
        try:
            if payload is None:
                stream.write(head, self.timer.write())
                return self.read_head()
            if payload.kind == "bytes" and payload.length is not None \
                    and payload.length <= SMALL_BODY and not expect:
                stream.write(head + bytes(payload.source), self.timer.write())
                if progress is not None:
                    progress(payload.length, payload.length)
                return self.read_head()
            stream.write(head, self.timer.write())
            if expect:
                early = self._wait_for_continue()
                if early is not None:
                    # RFC 9110 §10.1.1: a final answer instead of 100; the body was not
                    # sent, so the connection's framing is unknown to the server: close it.
                    self.must_close = True
                    return early
            self._send_body(payload, writer, progress)
            return self.read_head()
        except TimeoutError as exc:
            self.timer.expired(exc)
            raise

    def _wait_for_continue(self) -> ResponseHead | None:
        protocol = self.protocol
        wait = EXPECT_WAIT
        read_timeout = self.timer.read()
        if read_timeout is not None and read_timeout < wait:
            wait = read_timeout
        deadline = time.monotonic() + wait
        while True:
            event = protocol.next_event()
            if isinstance(event, InformationalResponse):
                if event.status == 100:
                    return None
                continue
            if isinstance(event, ResponseHead):
                return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                self.fill(remaining)
            except TimeoutError:
                return None  # no 100 in time: send the body anyway, as curl does

    def _send_body(self, payload: _Payload, writer: BodyWriter,
                   progress: Callable[[int, int | None], Any] | None) -> None:
        # The framing, and the refusal of a body longer or shorter than its
        # Content-Length, are the protocol's writer's (greenhttp/protocol/framing.py).
        stream = self.conn.stream
        use_sendfile = not writer.chunked and isinstance(stream, SocketStream) and not stream.tls
        total = payload.length
        try:
            for piece in payload.pieces(use_sendfile):
                if isinstance(piece, _FileRegion):
                    assert isinstance(stream, SocketStream)  # pieces() yields regions only for it
                    writer.sent += stream.sendfile(piece.file, piece.offset, piece.count, self.timer.write())
                elif len(piece):
                    stream.write(writer.frame(piece), self.timer.write())
                else:
                    continue
                if progress is not None:
                    progress(writer.sent, total)
            end = writer.end()
            if end:
                stream.write(end, self.timer.write())
        except LocalProtocolError:
            self.must_close = True
            raise

    # -- release

    def release(self, reusable: bool) -> None:
        if self.released:
            return
        self.released = True
        self.pool.checkin(self.conn, reusable)

    def close(self) -> None:
        """Done with the response: drain a small rest and reuse the connection, else close it."""
        if self.released:
            return
        try:
            drained = 0
            while drained <= DRAIN_LIMIT:
                data = self.pull()
                if data is None:
                    self.finish()
                    return
                drained += len(data)
        except Exception:
            pass  # a broken connection is closed below: the caller is done with it anyway
        finally:
            self.release(False)

    def abandon(self) -> None:
        """Close the connection with no further I/O and free the slot (``Response.abort``,
        or the Response was garbage-collected unread)."""
        self.release(False)


def _drain_buffered(exchange: _Exchange) -> bytes:
    """The body events already parsed, for a response that arrived whole with its head."""
    protocol = exchange.protocol
    chunks: list[bytes] = []
    while True:
        event = protocol.next_event()
        if type(event) is Data:
            chunks.append(event.data)
        elif isinstance(event, EndOfMessage):
            exchange.trailers = event.trailers
            break
        elif event is NEED_DATA:
            break
    # Most small bodies arrive as one Data event: no join, no copy.
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)



def perform(pool: Pool, route: "_Route", timer: _Timer, method: str, target: str,
            headers: list[tuple[str, str]], payload: _Payload | None, length: int | None,
            chunked: bool, expect: bool, progress: Callable[[int, int | None], Any] | None
            ) -> tuple[ResponseHead, _Exchange, bytes | None]:
    """Send one request on a pooled connection for ``route``; return its head, the exchange
    and, when the whole response came with its head, the body (the connection is then
    already back in the pool).

    Retries: only one kind, and never a surprise. A request that fails on a *reused*
    connection with the connection lost before any response byte arrived (the server
    closed an idle keep-alive connection as we sent) is sent again once on a fresh
    connection, if its body can be replayed and its method is idempotent (RFC 9110
    §9.2.2) or it carries an ``Idempotency-Key``. Timeouts are never retried: the
    server may be working on the request.
    """
    opener = partial(open_route, route, timer)
    retried = False
    while True:
        conn = pool.checkout(route.key, opener, timer.pool(), route.label,
                             fresh=retried, poolable=route.poolable)
        exchange = _Exchange(pool, conn, timer)
        reused = conn.reused  # read before release(), which counts the request
        try:
            head_bytes, writer = exchange.protocol.request_head(method, target, headers, length, chunked)
            head = exchange.send(head_bytes, payload, writer, expect, progress)
        except BaseException as exc:
            exchange.release(False)
            if (not retried and reused and exchange.received == 0
                    and isinstance(exc, UpstreamDisconnected)
                    and (method in IDEMPOTENT_METHODS or any(k.lower() == "idempotency-key" for k, _ in headers))
                    and (payload is None or payload.rewind())):
                retried = True
                continue
            raise
        break
    exchange.keep_alive = head.keep_alive
    if head.content_length is not None and not head.chunked and method != "HEAD":
        exchange.body_length = head.content_length
    if exchange.protocol.response_complete:
        # Take the body from the parsed events and free the connection before returning.
        data = _drain_buffered(exchange)
        exchange.finish()
        return head, exchange, data
    return head, exchange, None


# -- opening a route ----------------------------------------------------------------------


def open_route(route: "_Route", timer: _Timer) -> Stream:
    """Dial ``route`` with its connector: TCP (or SOCKS), TLS to an https proxy, the
    CONNECT tunnel, then TLS to the origin."""
    host, port = route.address
    if route.socks is not None:
        from .socks import socks_dial

        dial = partial(socks_dial, *route.socks)
        if route.context is None:
            return route.connector(host, port, timer.connect(), dial=dial)
        return route.connector(host, port, timer.connect(), route.context, route.server_hostname,
                               dial=dial)
    if route.context is None:
        return route.connector(host, port, timer.connect())
    tunnel = None
    if route.tunnel_to is not None:
        tunnel = partial(_tunnel, *route.tunnel_to)
    if route.proxy_context is not None:
        return route.connector(host, port, timer.connect(), route.context, route.server_hostname,
                               tunnel, proxy_tls=route.proxy_context)
    return route.connector(host, port, timer.connect(), route.context, route.server_hostname, tunnel)


def tunnel_through(url: "_URL", proxy: "_Proxy") -> Callable[[Stream, float | None], None]:
    """The ``tunnel`` step of ``transport.connect`` for a CONNECT to ``url``'s origin via
    ``proxy`` (used by the WebSocket client, which opens its own connections)."""
    bracketed = f"[{url.host}]" if ":" in url.host else url.host
    return partial(_tunnel, f"{bracketed}:{url.port}", proxy)


def _tunnel(authority: str, proxy: "_Proxy", stream: Stream, timeout: float | None) -> None:
    """The CONNECT exchange (RFC 9110 §9.3.6) on a fresh stream to ``proxy``.

    Runs inside ``connect()``'s timer, so the reads here need no timeout of their own.
    """
    reader = _Reader(stream)
    headers = [("Host", authority), ("User-Agent", USER_AGENT)]
    if proxy.authorization:
        headers.append(("Proxy-Authorization", proxy.authorization))
    stream.write(reader.protocol.request_head("CONNECT", authority, headers, None, False)[0], None)
    try:
        while True:
            event = reader.next_event()
            if isinstance(event, ResponseHead):
                if not 200 <= event.status < 300:
                    raise ProxyError(f"proxy {proxy.url.authority} answered {event.status} "
                                     f"{event.reason} to CONNECT {authority}")
            elif isinstance(event, EndOfMessage):
                return
    except ResponseProtocolError as exc:
        raise ProxyError(f"proxy {proxy.url.authority} sent a malformed answer to CONNECT: {exc}") from exc
