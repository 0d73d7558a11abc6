"""What the request and response parsers share: event queueing over llhttp callbacks."""

from __future__ import annotations

import httptools

from ..errors import (
    BadRequest,
    NotImplementedCoding,
    ProtocolError,
    VersionNotSupported,
)
from .events import NEED_DATA, Data, Event, RawHeaders
from .phases import Phase

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
