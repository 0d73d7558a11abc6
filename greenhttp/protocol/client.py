"""The client half: frames requests, parses responses."""

from __future__ import annotations

from typing import Iterable

import httptools

from ..errors import IncompleteBody, ProtocolError, ResponseProtocolError
from .events import Data, EndOfMessage, Event, InformationalResponse, ResponseHead
from .fields import validate_field
from .framing import NO_BODY_STATUSES, BodyWriter, request_writer
from .parser import _ParserCallbacks

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
                     content_length: int | None, chunked: bool) -> tuple[bytes, BodyWriter]:
        """Serialize a request head, get ready to parse its response, and return the
        head bytes with the writer that frames the request body (chunked, or
        ``content_length`` bytes; with neither, no body at all)."""
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
        return "".join(out).encode("latin-1"), request_writer(chunked, content_length)

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
