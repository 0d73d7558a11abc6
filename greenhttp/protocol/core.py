"""Sans-I/O HTTP/1.1: bytes in, events out; responses and requests out as bytes.

Theory of operation
-------------------
Two rules govern this module:

1. No I/O. Nothing here imports ``socket`` or ``gevent`` (a test checks). The
   server, client and proxy loops own the sockets and the clock; they hand this
   module the bytes they read and send the bytes it returns.
2. llhttp parses, we police. httptools (llhttp, Node's parser) does every byte
   of request-line, header and chunked parsing and already rejects most smuggling
   vectors (CL+TE, duplicate or signed Content-Length, bad chunk sizes, obs-fold,
   controls in fields). This module adds what llhttp leaves to the application:
   size limits, a duplicate or missing Host, Transfer-Encoding on HTTP/1.0, an
   ``HTTP/2.0`` request line, Expect handling, and response framing.

A parser is fed whatever a ``recv`` returned, which may hold part of a message or
several pipelined ones. Every callback appends an event to a list, and the I/O
loop pops events one at a time with :meth:`next_event`; :data:`NEED_DATA` means
"read more". Backpressure is the loop's job: it feeds the next read only once the
list is drained, so at most one read's worth of events is ever buffered.

Errors are :class:`~greenhttp.ProtocolError` subclasses carrying the status the
server answers with (``status_hint``); after one, the connection is done.
"""

from __future__ import annotations

import re
from typing import Iterable, Union

import httptools

from ..errors import (
    BadRequest,
    BodyTooLarge,
    ExpectationFailed,
    HeadersTooLarge,
    IncompleteBody,
    LocalProtocolError,
    NotImplementedCoding,
    ProtocolError,
    RequestError,
    RequestLineTooLong,
    ResponseProtocolError,
    VersionNotSupported,
)
from ..settings import default

RawHeaders = list[tuple[bytes, bytes]]


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


class RequestHead:
    """A parsed request line and header block."""

    __slots__ = (
        "method", "target", "http_version", "headers", "keep_alive",
        "content_length", "chunked", "expect_continue", "upgrade", "host",
    )

    def __init__(self, method: str, target: bytes, http_version: str, headers: RawHeaders,
                 keep_alive: bool, content_length: int | None, chunked: bool,
                 expect_continue: bool, upgrade: bool, host: bytes | None) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked
        self.expect_continue = expect_continue
        #: CONNECT (or an honoured Upgrade): the bytes after the head are no longer HTTP.
        self.upgrade = upgrade
        self.host = host

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    def __repr__(self) -> str:
        return f"<RequestHead {self.method} {self.target!r} HTTP/{self.http_version}>"


class ResponseHead:
    """A parsed status line and header block (client side)."""

    __slots__ = ("status", "reason", "http_version", "headers", "keep_alive",
                 "content_length", "chunked")

    def __init__(self, status: int, reason: str, http_version: str, headers: RawHeaders,
                 keep_alive: bool, content_length: int | None, chunked: bool) -> None:
        self.status = status
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked

    def __repr__(self) -> str:
        return f"<ResponseHead {self.status} {self.reason}>"


class InformationalResponse:
    """A 1xx interim response (``100 Continue``, ``103 Early Hints``)."""

    __slots__ = ("status", "reason", "headers")

    def __init__(self, status: int, reason: str, headers: RawHeaders) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers


class Data:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<Data {len(self.data)} bytes>"


class EndOfMessage:
    __slots__ = ("trailers",)

    def __init__(self, trailers: RawHeaders | None = None) -> None:
        self.trailers = trailers

    def __repr__(self) -> str:
        return f"<EndOfMessage trailers={self.trailers!r}>"


Event = Union[RequestHead, ResponseHead, InformationalResponse, Data, EndOfMessage, _NeedData]


class Limits:
    """What a server accepts from a client before answering 413/414/431."""

    __slots__ = ("max_request_line", "max_header_size", "max_header_count", "max_head_size",
                 "max_body_size")

    # Defaults: the server settings' (greenhttp.settings), so a bare ServerProtocol limits what a Server does.
    def __init__(self, max_request_line: int = default("max_request_line"),
                 max_header_size: int = default("max_header_size"),
                 max_header_count: int = default("max_header_count"),
                 max_head_size: int = default("max_head_size"),
                 max_body_size: int = default("max_body_size")) -> None:
        self.max_request_line = max_request_line
        self.max_header_size = max_header_size
        self.max_header_count = max_header_count
        self.max_head_size = max_head_size
        self.max_body_size = max_body_size  # 0: unlimited


def _map_parser_error(exc: Exception) -> ProtocolError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, httptools.HttpParserInvalidMethodError):
        if "Invalid method" in message:
            # RFC 9110 §9.1: an unrecognized method SHOULD get 501.
            return NotImplementedCoding(f"unknown method: {message}", 501)
        return BadRequest(f"malformed request line: {message}")  # e.g. "GET\r\n"
    if isinstance(exc, httptools.HttpParserInvalidURLError):
        return BadRequest(f"invalid request target: {message}")
    if "invalid `Transfer-Encoding`" in message and "header value" not in message:
        # A coding llhttp does not know, e.g. "Transfer-Encoding: gzip" alone.
        return NotImplementedCoding(f"unsupported transfer coding: {message}")
    if "Invalid HTTP version" in message:
        return VersionNotSupported(message)
    return BadRequest(message)


# RFC 9110 §5.5: field values are visible characters, SP and HTAB (obs-text allowed).
_BAD_FIELD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 9110 §5.1: field names are tokens.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HOP_BY_HOP_RESPONSE = frozenset({"transfer-encoding", "connection", "keep-alive"})

# What response_head must notice about an app's header, by name as the app spelled it.
_PLAIN, _HOP, _CONNECTION, _LENGTH, _DATE, _SERVER = range(6)
_name_kinds: dict[str, int] = {}


def _name_kind(name: str) -> int:
    kind = _name_kinds.get(name)
    if kind is None:
        lname = name.lower()
        kind = {"transfer-encoding": _HOP, "keep-alive": _HOP, "connection": _CONNECTION,
                "content-length": _LENGTH, "date": _DATE, "server": _SERVER}.get(lname, _PLAIN)
        if len(_name_kinds) < 4096:
            _name_kinds[name] = kind
    return kind


# Header names an app sends repeat endlessly; remember the ones already checked.
_valid_names: set[str] = set()


def validate_field(name: str, value: str) -> None:
    """Refuse a header our side is about to send that would corrupt or inject."""
    if name not in _valid_names:
        if not _TOKEN.match(name):
            raise LocalProtocolError(f"invalid header name {name!r}")
        if len(_valid_names) < 4096:
            _valid_names.add(name)
    if _BAD_FIELD_VALUE.search(value):
        raise LocalProtocolError(f"invalid character in header {name!r} value {value!r}")


def validate_fields(headers: Iterable[tuple[str, str]]) -> None:
    search = _BAD_FIELD_VALUE.search
    for name, value in headers:
        if type(name) is not str or type(value) is not str:
            if not isinstance(name, str) or not isinstance(value, str):
                raise LocalProtocolError(f"header names and values must be str: {name!r}: {value!r}")
        if name not in _valid_names or search(value):
            validate_field(name, value)


def chunk(data: bytes) -> bytes:
    """Frame ``data`` as one chunk of a chunked body (empty data frames nothing)."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"

NO_BODY_STATUSES = frozenset({204, 304})


class _ParserCallbacks:
    """Shared header bookkeeping for the request and response parsers."""

    __slots__ = ("_events", "_next_event", "_headers", "_trailers", "_in_head", "_content_length", "_chunked",
                 "_parser", "_error", "__weakref__")

    # A list read through an index rather than a deque: a deque allocates a 64-slot
    # block up front, ~700 bytes per idle connection, and events rarely number more than 3.
    _events: list[Event]
    _next_event: int
    _error: ProtocolError | None
    _headers: RawHeaders
    _trailers: RawHeaders | None
    _in_head: bool
    _content_length: int | None
    _chunked: bool

    def _reset_message(self) -> None:
        self._headers = []
        self._trailers = None
        self._in_head = False
        self._content_length = None
        self._chunked = False

    def on_body(self, body: bytes) -> None:
        self._events.append(Data(body))

    def next_event(self) -> Event:
        """The next parsed event, or :data:`NEED_DATA` when the caller must read more."""
        events = self._events
        index = self._next_event
        if index < len(events):
            event = events[index]
            index += 1
            if index == len(events):
                events.clear()
                index = 0
            self._next_event = index
            return event
        if self._error is not None:
            raise self._error  # deferred until the events before it were consumed
        return NEED_DATA

    def has_buffered_events(self) -> bool:
        return self._next_event < len(self._events)


class ServerProtocol(_ParserCallbacks):
    """The server half: parses requests, frames responses.

    One instance serves a whole connection. ``receive_data`` may raise
    :class:`ProtocolError`; the loop then sends ``error_response(exc)`` and closes.
    """

    __slots__ = ("limits", "trailing_data", "_paused", "_url_parts", "_url_len", "_head_size",
                 "_host", "_host_count", "_expect", "_body_received", "_head_feed_bytes",
                 "_last_request", "_message_open")

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._last_request: RequestHead | None = None
        self._message_open = False
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._next_event = 0
        self._error: ProtocolError | None = None
        self._reset_message()
        #: bytes that followed a CONNECT or Upgrade head: no longer ours if the app takes over.
        self.trailing_data = b""
        self._paused = False

    # -- parsing ----------------------------------------------------------

    def _reset_message(self) -> None:
        super()._reset_message()
        self._url_parts: list[bytes] = []
        self._url_len = 0
        self._head_size = 0
        self._host: bytes | None = None
        self._host_count = 0
        self._expect: bytes | None = None
        self._body_received = 0
        self._head_feed_bytes = 0

    @property
    def in_head(self) -> bool:
        """True once a request has begun arriving but its head is not complete."""
        return self._in_head

    def receive_data(self, data: bytes) -> None:
        """Parse ``data``. A protocol error is raised here, or, when complete events
        precede it in the same bytes (a good pipelined request, then a bad one), raised
        by ``next_event`` once those events are consumed: the good request is served."""
        try:
            self._receive(data)
        except ProtocolError:
            # Keep only whole messages parsed before the error; events of the broken
            # message itself (its head, part of its body) must never reach an app.
            events = self._events
            first = self._next_event
            keep = first
            for index in range(len(events) - 1, first - 1, -1):
                if type(events[index]) is EndOfMessage:
                    keep = index + 1
                    break
            del events[keep:]
            if keep == first:
                raise

    def _receive(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._paused:
            self.trailing_data += data
            return
        head_started_before = self._in_head
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._on_upgrade(data, exc)
        except httptools.HttpParserCallbackError:
            assert self._error is not None
            raise self._error from None
        except httptools.HttpParserError as exc:
            self._error = _map_parser_error(exc)
            raise self._error from None
        if self._in_head:
            # llhttp buffers a partial field inside itself; bound it by what we fed.
            if head_started_before:
                self._head_feed_bytes += len(data)
            if self._head_feed_bytes > self.limits.max_head_size:
                self._fail(HeadersTooLarge("request head too large"))

    def _on_upgrade(self, data: bytes, exc: httptools.HttpParserUpgrade) -> None:
        offset = int(exc.args[0]) if exc.args else len(data)
        rest = data[offset:]
        last = self._last_request
        if last is not None and last.method == "CONNECT":
            self._paused = True
            self.trailing_data = rest
            return
        # An Upgrade we do not honour: RFC 9110 §7.8 lets a server ignore it and
        # carry on with HTTP/1.1. llhttp stops at the message end, so continue
        # with a fresh parser on the bytes after it.
        if last is not None:
            last.upgrade = False
        # ...unless the app takes the connection over (a WebSocket's 101): then these
        # bytes are its first frames, and detach() hands them over from here.
        self.trailing_data = rest
        self._parser = httptools.HttpRequestParser(self)
        if rest:
            self._receive(rest)

    def _fail(self, error: ProtocolError) -> None:
        self._error = error
        raise error

    def on_message_begin(self) -> None:
        self._reset_message()
        self._in_head = True
        self._message_open = True

    def on_url(self, url: bytes) -> None:
        self._url_parts.append(url)
        self._url_len += len(url)
        if self._url_len > self.limits.max_request_line:
            self._fail(RequestLineTooLong(f"request target longer than {self.limits.max_request_line} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        limits = self.limits
        size = len(name) + len(value)
        if size > limits.max_header_size:
            self._fail(HeadersTooLarge(f"header field larger than {limits.max_header_size} bytes"))
        if not self._in_head:
            trailers = self._trailers if self._trailers is not None else []
            self._trailers = trailers
            trailers.append((name, value))
            if len(trailers) > limits.max_header_count:
                self._fail(HeadersTooLarge("too many trailer fields"))
            return
        headers = self._headers
        headers.append((name, value))
        self._head_size += size + 4
        if len(headers) > limits.max_header_count or self._head_size > limits.max_head_size:
            self._fail(HeadersTooLarge("request head too large"))
        lname = name.lower()
        if lname == b"host":
            self._host_count += 1
            self._host = value
        elif lname == b"content-length":
            self._content_length = int(value)  # llhttp already checked the digits
        elif lname == b"transfer-encoding":
            # llhttp insists that "chunked" comes last but passes codings before it
            # ("gzip, chunked"). We decode none of those, and handing the app a body
            # still gzip-encoded would be wrong: RFC 9112 §6.1 says 501.
            for coding in value.lower().split(b","):
                coding = coding.strip()
                if coding and coding != b"chunked":
                    self._fail(NotImplementedCoding(
                        f"unsupported transfer coding {coding.decode('latin-1')!r}"))
            self._chunked = True
        elif lname == b"expect":
            self._expect = value

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            self._fail(VersionNotSupported(f"HTTP/{version} is not supported"))
        if self._chunked and version == "1.0":
            # RFC 9112 §6.1: a server MUST treat Transfer-Encoding in a 1.0 message as faulty framing.
            self._fail(BadRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request"))
        if self._host_count > 1:
            self._fail(BadRequest("more than one Host header"))
        if self._host_count == 0 and version == "1.1":
            # RFC 9112 §3.2: MUST respond with 400 to an HTTP/1.1 request that lacks Host.
            self._fail(BadRequest("missing Host header"))
        max_body = self.limits.max_body_size
        if max_body and self._content_length is not None and self._content_length > max_body:
            self._fail(BodyTooLarge(f"request body larger than {max_body} bytes"))
        expect_continue = False
        if self._expect is not None:
            if self._expect.lower() != b"100-continue":
                self._fail(ExpectationFailed(f"unsupported expectation {self._expect!r}"))
            # RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client.
            expect_continue = version == "1.1" and (self._chunked or bool(self._content_length))
        method = parser.get_method().decode("ascii")
        url_parts = self._url_parts
        target = url_parts[0] if len(url_parts) == 1 else b"".join(url_parts)
        request = RequestHead(
            method, target, version, self._headers, parser.should_keep_alive(),
            self._content_length, self._chunked, expect_continue,
            method == "CONNECT" or parser.should_upgrade(), self._host,
        )
        self._last_request = request
        self._events.append(request)

    def on_body(self, body: bytes) -> None:
        self._body_received += len(body)
        max_body = self.limits.max_body_size
        if max_body and self._body_received > max_body:
            self._fail(BodyTooLarge(f"request body larger than {max_body} bytes"))
        self._events.append(Data(body))

    def on_message_complete(self) -> None:
        self._message_open = False
        self._events.append(EndOfMessage(self._trailers))

    def receive_eof(self) -> None:
        """The client closed its side; raise if that cut a message short."""
        if self._in_head:
            self._fail(BadRequest("connection closed inside a request head"))
        if self._message_open:
            self._fail(BadRequest("connection closed before the request body was complete"))

    # -- responses ------------------------------------------------------------

    def response_head(self, request: RequestHead, status: int, reason: str,
                      headers: list[tuple[str, str]], date: str, server: str | None,
                      keep_alive: bool) -> tuple[bytes, "ResponseFraming"]:
        """Serialize a response head for ``request`` and decide how its body is framed.

        ``headers`` are the app's; hop-by-hop framing fields among them are replaced
        by our own, because framing is the server's business (PEP 3333 forbids apps
        from setting hop-by-hop headers at all).
        """
        no_body = request.method == "HEAD" or status < 200 or status in NO_BODY_STATUSES
        content_length: int | None = None
        out: list[str] = [f"HTTP/1.1 {status} {reason}\r\n"]
        has_date = has_server = False
        kinds = _name_kinds
        for name, value in headers:
            kind = kinds.get(name)
            if kind is None:
                kind = _name_kind(name)
            if kind:
                if kind == _HOP:
                    continue
                if kind == _CONNECTION:
                    if "close" in value.lower():
                        keep_alive = False
                    continue
                if kind == _LENGTH:
                    try:
                        content_length = int(value)
                    except ValueError:
                        raise LocalProtocolError(f"invalid Content-Length {value!r}") from None
                    if content_length < 0:
                        raise LocalProtocolError(f"invalid Content-Length {value!r}")
                elif kind == _DATE:
                    has_date = True
                else:
                    has_server = True
            out.append(f"{name}: {value}\r\n")
        if not has_date:
            out.append(f"Date: {date}\r\n")
        if not has_server and server:
            out.append(f"Server: {server}\r\n")
        chunked = False
        if no_body:
            pass
        elif content_length is None:
            if request.http_version == "1.1":
                chunked = True
                out.append("Transfer-Encoding: chunked\r\n")
            else:
                keep_alive = False  # HTTP/1.0: the body ends when we close
        if not keep_alive:
            out.append("Connection: close\r\n")
        elif request.http_version == "1.0":
            out.append("Connection: keep-alive\r\n")
        out.append("\r\n")
        framing = ResponseFraming(no_body, chunked, content_length, keep_alive)
        return "".join(out).encode("latin-1"), framing

    def start_next_cycle(self) -> None:
        self._last_request = None


class ResponseFraming:
    """How a response body goes on the wire, and what it has sent so far."""

    __slots__ = ("no_body", "chunked", "content_length", "keep_alive", "sent")

    def __init__(self, no_body: bool, chunked: bool, content_length: int | None,
                 keep_alive: bool) -> None:
        self.no_body = no_body
        self.chunked = chunked
        self.content_length = content_length
        self.keep_alive = keep_alive
        self.sent = 0

    def frame(self, data: bytes) -> bytes:
        """Bytes to send for ``data``: framed, or empty when the response has no body."""
        if self.no_body or not data:
            return b""
        size = len(data)
        self.sent += size
        if self.chunked:
            return b"%x\r\n%b\r\n" % (size, data)
        if self.content_length is not None and self.sent > self.content_length:
            raise LocalProtocolError(
                f"response body longer than its Content-Length {self.content_length}")
        return data

    def end(self) -> bytes:
        """Bytes that end the body. Raises if a Content-Length promise was not kept."""
        if self.no_body:
            return b""
        if self.chunked:
            return LAST_CHUNK
        if self.content_length is not None and self.sent < self.content_length:
            self.keep_alive = False
            raise LocalProtocolError(
                f"response body shorter ({self.sent}) than its Content-Length {self.content_length}")
        return b""


STATUS_REASONS: dict[int, str] = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
    204: "No Content", 206: "Partial Content", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 409: "Conflict", 411: "Length Required", 413: "Content Too Large",
    414: "URI Too Long", 415: "Unsupported Media Type", 417: "Expectation Failed",
    422: "Unprocessable Content", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout", 505: "HTTP Version Not Supported",
}


def simple_response(status: int, body: bytes, date: str, server: str | None = "greenhttp",
                    close: bool = True, content_type: str = "text/plain; charset=utf-8",
                    extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A complete small response: for errors the server answers itself."""
    reason = STATUS_REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}\r\n", f"Date: {date}\r\n"]
    if server:
        lines.append(f"Server: {server}\r\n")
    lines.append(f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n")
    for name, value in extra:
        lines.append(f"{name}: {value}\r\n")
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


def error_response(error: RequestError, date: str, server: str | None = "greenhttp") -> bytes:
    """The response a server sends for a malformed request, before it closes."""
    status = error.status_hint
    body = f"{status} {STATUS_REASONS.get(status, 'Error')}: {error}\n".encode("utf-8", "replace")
    return simple_response(status, body, date, server)


CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"


# -- client side ------------------------------------------------------------------


class _StopAfterHead(Exception):
    """Raised from a callback to stop llhttp after the head of a bodiless response."""


class ClientProtocol(_ParserCallbacks):
    """The client half: frames requests, parses responses. One per connection.

    The client never pipelines, so a fresh response parser per request is both
    simple and cheap, and leftover bytes after a complete response mean the
    connection cannot be reused.
    """

    __slots__ = ("_request_method", "_reason", "_message_done", "_eof_delimited", "_status",
                 "_received", "unexpected_data")

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._next_event = 0
        self._reset_message()
        self._parser: httptools.HttpResponseParser | None = None
        self._request_method = "GET"
        self._reason = b""
        self._message_done = True
        self._eof_delimited = False
        self._status = 0
        self._error: ProtocolError | None = None
        self._received = 0
        #: bytes arrived after the complete response: the connection cannot be reused.
        self.unexpected_data = False

    def request_head(self, method: str, target: str, headers: Iterable[tuple[str, str]],
                     content_length: int | None, chunked: bool) -> bytes:
        """Serialize a request head and get ready to parse its response."""
        out = [f"{method} {target} HTTP/1.1\r\n"]
        for name, value in headers:
            validate_field(name, value)
            out.append(f"{name}: {value}\r\n")
        if chunked:
            out.append("Transfer-Encoding: chunked\r\n")
        elif content_length is not None and (content_length or method not in ("GET", "HEAD", "DELETE", "OPTIONS")):
            out.append(f"Content-Length: {content_length}\r\n")
        out.append("\r\n")
        self._request_method = method
        self._parser = httptools.HttpResponseParser(self)
        self._reset_message()
        self._message_done = False
        self._eof_delimited = False
        self._error = None
        self._received = 0
        self._events.clear()
        self._next_event = 0
        return "".join(out).encode("latin-1")

    @property
    def response_complete(self) -> bool:
        return self._message_done

    def receive_data(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._parser is None:
            raise ResponseProtocolError("data received with no request outstanding")
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _StopAfterHead):
                return
            if self._error is not None:
                raise self._error from None
            raise ResponseProtocolError(str(exc)) from None
        except httptools.HttpParserUpgrade:
            # 101 Switching Protocols: the rest belongs to another protocol.
            self._events.append(EndOfMessage(None))
            self._message_done = True
        except httptools.HttpParserError as exc:
            if self._message_done:
                # Garbage after a complete response: the response stands, the
                # connection does not.
                self.unexpected_data = True
                return
            self._error = ResponseProtocolError(f"malformed response: {exc}")
            raise self._error from None

    def receive_eof(self) -> None:
        """The server closed. Completes a close-delimited body, else raises if cut short."""
        if self._message_done:
            return
        if self._eof_delimited:
            self._events.append(EndOfMessage(None))
            self._message_done = True
            return
        if self._in_head or self._status == 0:
            raise ResponseProtocolError("connection closed before a complete response head")
        expected = self._content_length
        detail = f" ({self._received} of {expected} bytes)" if expected is not None else ""
        raise IncompleteBody(f"connection closed before the response body was complete{detail}")

    def on_message_begin(self) -> None:
        if self._message_done:
            # The client never pipelines: a second message is bytes nobody asked for.
            self.unexpected_data = True
        self._reset_message()
        self._in_head = True
        self._status = 0

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            if self._trailers is None:
                self._trailers = []
            self._trailers.append((name, value))
            return
        self._headers.append((name, value))
        lname = name.lower()
        if lname == b"content-length":
            self._content_length = int(value)
        elif lname == b"transfer-encoding":
            self._chunked = b"chunked" in value.lower()

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        self._status = status
        reason = self._reason.decode("latin-1")
        self._reason = b""
        if 100 <= status < 200:
            if status != 101:
                self._events.append(InformationalResponse(status, reason, self._headers))
                return
        head = ResponseHead(status, reason, parser.get_http_version(), self._headers,
                            parser.should_keep_alive(), self._content_length, self._chunked)
        self._events.append(head)
        bodiless = (self._request_method == "HEAD" or status in NO_BODY_STATUSES
                    or (self._content_length == 0 and not self._chunked))
        # RFC 9110 §9.3.6: after a 2xx to CONNECT the connection is a tunnel, the
        # response has no body whatever its headers say.
        tunnel = self._request_method == "CONNECT" and 200 <= status < 300
        if (self._request_method == "HEAD" and status >= 200) or tunnel:
            self._events.append(EndOfMessage(None))
            self._message_done = True
            raise _StopAfterHead()
        if not bodiless and self._content_length is None and not self._chunked:
            self._eof_delimited = True
            head.keep_alive = False

    def on_body(self, body: bytes) -> None:
        if body:
            self._received += len(body)
            self._events.append(Data(body))

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200 and self._status != 101:
            return  # an interim response; the final one follows on the same parser
        self._events.append(EndOfMessage(self._trailers))
        self._message_done = True


def parse_target(target: bytes) -> tuple[bytes, bytes]:
    """Split an origin-form or absolute-form request target into (path, query)."""
    if target[:1] != b"/":
        if target == b"*":
            return b"*", b""
        if b"://" not in target:
            return b"", b""  # authority-form (CONNECT host:port, RFC 9112 §3.2.3): no path
        url = httptools.parse_url(target)
        path = url.path or b"/"
        return path, url.query or b""
    path, sep, query = target.partition(b"?")
    return path, query
