"""What the request and response parsers share: event queueing over llhttp callbacks."""

from __future__ import annotations

import re

import httptools

from ..errors import (
    BadRequest,
    NotImplementedCoding,
    ProtocolError,
    VersionNotSupported,
)
from .events import NEED_DATA, Data, Event, RawHeaders
from .fields import _TCHAR
from .phases import Phase

# The start of a request line: optional empty lines (RFC 9112 §2.2), then what should
# be the method, then the byte after it (a SP if the method is a well-formed token).
_METHOD = re.compile(rb"(?:\r?\n)*(" + _TCHAR.encode() + rb"*)(.?)", re.S)


def _method_error(line: bytes | None, message: str, max_length: int) -> ProtocolError:
    """llhttp knows a fixed list of methods and stops at the first byte that leaves it,
    so its "Invalid method" covers both an unknown method and garbage. RFC 9110 §9.1
    wants 501 only for a method the server does not recognize; a request line whose
    method is not a token (RFC 9112 §3: method SP ...) is malformed, 400.
    ``line`` is the bytes where the failed request began, when known."""
    if line is not None:
        match = _METHOD.match(line)
        assert match is not None  # the pattern matches the empty string
        method, after = match[1], match[2]
        if not method or after not in (b" ", b""):
            return BadRequest(f"malformed request line: the method is not a token ({message})")
        if len(method) > max_length:
            # llhttp stopped at its first byte; the rest never reached a buffer.
            return BadRequest(f"request method longer than {max_length} bytes")
    # RFC 9110 §9.1: an unrecognized method SHOULD get 501.
    return NotImplementedCoding(f"unknown method: {message}", 501)


def _map_parser_error(exc: Exception, line: bytes | None = None,
                      max_method: int = 8192) -> ProtocolError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, httptools.HttpParserInvalidMethodError):
        if "Invalid method" in message:
            return _method_error(line, message, max_method)
        return BadRequest(f"malformed request line: {message}")  # e.g. "GET\r\n"
    if isinstance(exc, httptools.HttpParserInvalidURLError):
        return BadRequest(f"invalid request target: {message}")
    if "invalid `Transfer-Encoding`" in message and "header value" not in message:
        # A coding llhttp does not know, e.g. "Transfer-Encoding: gzip" alone.
        return NotImplementedCoding(f"unsupported transfer coding: {message}")
    if "Invalid HTTP version" in message:
        return VersionNotSupported(message)
    return BadRequest(message)


class _ParserCallbacks:
    """Shared header bookkeeping for the request and response parsers."""

    __slots__ = ("_events", "_next_event", "_headers", "_trailers", "_phase", "_content_length",
                 "_chunked", "_parser", "_error", "__weakref__")

    # A list read through an index rather than a deque: a deque allocates a 64-slot
    # block up front, ~700 bytes per idle connection, and events rarely number more than 3.
    _events: list[Event]
    _next_event: int
    #: where the message being parsed is (phases.py); ERROR once ``_error`` is set.
    _phase: Phase
    _error: ProtocolError | None
    _headers: RawHeaders
    _trailers: RawHeaders | None
    _content_length: int | None
    _chunked: bool

    def _reset_message(self) -> None:
        self._headers = []
        self._trailers = None
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
