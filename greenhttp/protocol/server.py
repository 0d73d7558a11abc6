"""The server half of the sans-I/O core: requests in as events, responses out as bytes.

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

Where the request being read stands is one named phase (phases.py):
IDLE -> HEAD -> BODY -> IDLE per request, TUNNEL after CONNECT, ERROR after a
protocol error; every change goes through the server's transition table. The
response goes out through :meth:`ServerProtocol.response_head` (response.py), which
validates the head (it is the only validator, whoever built it) and returns a body
writer (framing.py) that frames the body and holds the app to its Content-Length.

Errors are :class:`~greenhttp.ProtocolError` subclasses carrying the status the
server answers with (``status_hint``); after one, the connection is done.
"""

from __future__ import annotations

from typing import NoReturn

import httptools

from ..errors import (
    BadRequest,
    BodyTooLarge,
    ExpectationFailed,
    HeadersTooLarge,
    NotImplementedCoding,
    ProtocolError,
    RequestLineTooLong,
    VersionNotSupported,
)
from ..settings import default
from .events import Data, EndOfMessage, Event, RequestHead
from .fields import (
    CONTENT_LENGTH,
    EXPECT,
    HOST,
    REQUEST_FIELD_KINDS,
    SINGLETON_BITS,
    TRAILER_FORBIDDEN,
    TRANSFER_ENCODING,
    is_token,
    valid_host,
    _valid_hosts,
)
from .framing import BodyWriter
from .parser import _ParserCallbacks, _map_parser_error
from .phases import BODY, ERROR, HEAD, IDLE, SERVER_TRANSITIONS, TUNNEL
from .response import response_head

# The server's transition table, one dict per event (phases.py): a lookup, no allocation.
_BEGIN = SERVER_TRANSITIONS["begin"]
_HEAD_DONE = SERVER_TRANSITIONS["head_done"]
_END = SERVER_TRANSITIONS["end"]
_TUNNEL = SERVER_TRANSITIONS["tunnel"]

_END_NO_TRAILERS = EndOfMessage(None)

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


class ServerProtocol(_ParserCallbacks):
    """The server half: parses requests, frames responses.

    One instance serves a whole connection. ``receive_data`` may raise
    :class:`ProtocolError`; the loop then sends ``error_response(exc)`` and closes.
    """

    __slots__ = ("limits", "trailing_data", "_url_parts", "_url_len", "_head_size",
                 "_host", "_host_count", "_expect", "_body_received", "_head_feed_bytes",
                 "_last_request", "_singletons")

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._last_request: RequestHead | None = None
        self._phase = IDLE
        self._parser = httptools.HttpRequestParser(self)
        self._events: list[Event] = []
        self._next_event = 0
        self._error: ProtocolError | None = None
        self._reset_message()
        #: bytes that followed a CONNECT or Upgrade head: no longer ours if the app takes over.
        self.trailing_data = b""

    # -- parsing ----------------------------------------------------------

    def _reset_message(self) -> None:
        super()._reset_message()
        self._url_parts: list[bytes] = []
        self._url_len = 0
        self._head_size = 0
        self._host: bytes | None = None
        self._host_count = 0
        self._singletons = 0
        self._expect: bytes | None = None
        self._body_received = 0
        self._head_feed_bytes = 0

    @property
    def in_head(self) -> bool:
        """True once a request has begun arriving but its head is not complete."""
        return self._phase is HEAD

    @property
    def phase(self) -> str:
        """The request side's phase name (phases.py): idle, head, body, tunnel, error."""
        return self._phase.name.lower()

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
        phase = self._phase
        if phase is ERROR:
            raise self._error  # type: ignore[misc]
        if phase is TUNNEL:
            self.trailing_data += data
            return
        head_started_before = phase is HEAD
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._on_upgrade(data, exc)
        except httptools.HttpParserCallbackError:
            if self._error is None:
                raise  # not a ProtocolError of ours: a bug, with its cause in __context__
            raise self._error from None
        except httptools.HttpParserError as exc:
            self._fail(_map_parser_error(exc, self._line_of(data), self.limits.max_request_line))
        if self._phase is HEAD:
            # llhttp buffers a partial field inside itself; bound it by what we fed.
            if head_started_before:
                self._head_feed_bytes += len(data)
            if self._head_feed_bytes > self.limits.max_head_size:
                self._fail(HeadersTooLarge("request head too large"))

    def _line_of(self, data: bytes) -> bytes | None:
        """Where the request that failed began, as far as this feed tells (error path
        only): ``data``, unless a pipelined request ended earlier in it (the offset of
        the next one is then unknown)."""
        events = self._events
        for index in range(self._next_event, len(events)):
            if type(events[index]) is EndOfMessage:
                return None
        return data

    def _on_upgrade(self, data: bytes, exc: httptools.HttpParserUpgrade) -> None:
        offset = int(exc.args[0]) if exc.args else len(data)
        rest = data[offset:]
        last = self._last_request
        if last is not None and last.method == "CONNECT":
            self._phase = _TUNNEL[self._phase]
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

    def _fail(self, error: ProtocolError) -> NoReturn:
        self._error = error
        self._phase = ERROR
        raise error

    def on_message_begin(self) -> None:
        self._reset_message()
        self._phase = _BEGIN[self._phase]

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
        if self._phase is not HEAD:
            if name.lower() in TRAILER_FORBIDDEN:
                # RFC 9110 §6.5.1 (fields.py has the list and the reason).
                self._fail(BadRequest(f"{name.decode('latin-1')} is not allowed in a trailer section"))
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
        if lname not in REQUEST_FIELD_KINDS:  # most fields: an operator, not a call
            return
        kind = REQUEST_FIELD_KINDS[lname]
        if kind == HOST:
            self._host_count += 1
            self._host = value
        elif kind == CONTENT_LENGTH:
            # llhttp checked the digits. Leading zeros ("007") are accepted as decimal:
            # the grammar is 1*DIGIT (RFC 9110 §8.6), nginx and llhttp read them so,
            # and every parser that accepts them reads the same number. SP/HTAB around
            # the value are OWS, not part of it (§5.5); any other whitespace llhttp refuses.
            self._content_length = int(value)
        elif kind == TRANSFER_ENCODING:
            self._transfer_coding(value)
        elif kind == EXPECT:
            self._expect = value
        else:
            bit = SINGLETON_BITS[lname]
            if self._singletons & bit:
                self._check_singleton(lname)
            self._singletons |= bit

    def _transfer_coding(self, value: bytes) -> None:
        # llhttp insists that "chunked" comes last but passes codings before it
        # ("gzip, chunked"). We decode none of those, and handing the app a body
        # still gzip-encoded would be wrong: RFC 9112 §6.1 says 501. A coding that is
        # not a token ("chunked;ext=val": chunked takes no parameters, RFC 9112 §7) is
        # malformed, not merely unknown: 400.
        for coding in value.lower().split(b","):
            coding = coding.strip()
            if coding == b"chunked" or not coding:
                continue
            if not is_token(coding):
                self._fail(BadRequest(f"malformed transfer coding {coding.decode('latin-1')!r}"))
            self._fail(NotImplementedCoding(f"unsupported transfer coding {coding.decode('latin-1')!r}"))
        self._chunked = True

    def _check_singleton(self, lname: bytes) -> None:
        values = {value for name, value in self._headers if name.lower() == lname}
        if len(values) > 1:
            self._fail(BadRequest(f"conflicting {lname.decode('latin-1')} fields"))

    def on_headers_complete(self) -> None:
        self._phase = _HEAD_DONE[self._phase]
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
        host = self._host
        if host is not None and host not in _valid_hosts and not valid_host(host):
            # RFC 9110 §7.2, RFC 9112 §3.2: Host = uri-host [ ":" port ]; a server MUST
            # respond 400 to a request whose Host is invalid. An empty Host is allowed
            # only when the target URI has no authority, and no target llhttp accepts
            # lacks one: origin-form and "*" take it from Host (and an "http" URI with
            # an empty host MUST be rejected, RFC 9110 §4.2.1), CONNECT's authority-form
            # is one, and llhttp refuses an absolute-form without "//" ("urn:x").
            self._fail(BadRequest(f"invalid Host {host.decode('latin-1')!r}" if host else "empty Host"))
        if target == b"*" and method != "OPTIONS":
            # RFC 9112 §3.2.4: the asterisk-form is only used for a server-wide OPTIONS.
            self._fail(BadRequest(f"asterisk-form request target with {method}"))
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
        self._phase = _END[self._phase]
        trailers = self._trailers
        # Nearly every message has no trailers: one shared, never-mutated end event.
        self._events.append(_END_NO_TRAILERS if trailers is None else EndOfMessage(trailers))

    def receive_eof(self) -> None:
        """The client closed its side; raise if that cut a message short."""
        if self._phase is HEAD:
            self._fail(BadRequest("connection closed inside a request head"))
        if self._phase is BODY:
            self._fail(BadRequest("connection closed before the request body was complete"))

    # -- responses ------------------------------------------------------------

    def response_head(self, request: RequestHead, status: int, reason: str,
                      headers: list[tuple[str, str]], date: str, server: str | None,
                      keep_alive: bool) -> tuple[bytes, BodyWriter]:
        """Serialize a response head for ``request`` and decide how its body is framed
        (response.py: the one validator of what a server sends)."""
        return response_head(request, status, reason, headers, date, server, keep_alive)

    def start_next_cycle(self) -> None:
        self._last_request = None
