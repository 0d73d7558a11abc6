"""The client half of the sans-I/O core: requests out as bytes, responses in as events.

Two rules, as for the server half: no I/O here (the client's exchange loop owns the
socket and the clock), and llhttp parses while this module polices (a response to
HEAD or a 2xx to CONNECT has no body whatever its headers say; a body without
Content-Length or chunked ends at close; bytes after the response make the
connection unusable).

Theory of operation: :meth:`ClientProtocol.request_head` serializes one request,
returns the writer that frames its body (framing.py), and gets a fresh response
parser ready. The loop then feeds what it reads to ``receive_data`` (and the close
to ``receive_eof``) and pops events with ``next_event``: any 1xx interim responses,
the ResponseHead, Data, EndOfMessage. The response's progress is one named phase
(phases.py): AWAIT -> HEAD -> BODY -> DONE, back to AWAIT after a 1xx, ERROR after
a malformed response.
"""

from __future__ import annotations

from typing import Iterable, NoReturn

import httptools

from ..errors import IncompleteBody, ProtocolError, ResponseProtocolError
from .events import Data, EndOfMessage, Event, InformationalResponse, ResponseHead
from .fields import validate_field
from .framing import NO_BODY_STATUSES, BodyWriter, request_writer
from .parser import _ParserCallbacks
from .phases import BODY, CLIENT_TRANSITIONS, DONE, ERROR, HEAD, IDLE

# The client's transition table, one dict per event (phases.py).
_SEND = CLIENT_TRANSITIONS["send"]
_BEGIN = CLIENT_TRANSITIONS["begin"]
_INTERIM = CLIENT_TRANSITIONS["interim"]
_HEAD_DONE = CLIENT_TRANSITIONS["head_done"]
_HEAD_ONLY = CLIENT_TRANSITIONS["head_only"]
_END = CLIENT_TRANSITIONS["end"]


class _StopParsing(Exception):
    """Raised from a callback to stop llhttp: after the head of a bodiless response,
    or at the first byte of a message after the complete one."""


# Serialized request heads by (method, target, header pairs, length, chunked): a client
# sends the same few heads again and again (the server's response heads are cached the
# same way), and a hit skips the field checks and the formatting. A key is stored only
# once its fields passed validate_field. Hot path, so a bare bounded dict probed inline
# rather than functools.lru_cache (docs/architecture.md); cleared when full.
_HEADS_MAX = 1024
_heads: dict[tuple, bytes] = {}


#: Heads with these fields are never cached: a process-wide cache would keep passwords,
#: tokens and session cookies in memory past the request that needed them.
_CREDENTIAL_FIELDS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _carries_credentials(fields: tuple[tuple[str, str], ...]) -> bool:
    return any(name.lower() in _CREDENTIAL_FIELDS for name, _ in fields)


def _serialize_head(method: str, target: str, headers: Iterable[tuple[str, str]],
                    content_length: int | None, chunked: bool) -> bytes:
    out = [f"{method} {target} HTTP/1.1\r\n"]
    for name, value in headers:
        validate_field(name, value)
        out.append(f"{name}: {value}\r\n")
    if chunked:
        out.append("Transfer-Encoding: chunked\r\n")
    elif content_length is not None and (content_length or method not in ("GET", "HEAD", "DELETE", "OPTIONS")):
        out.append(f"Content-Length: {content_length}\r\n")
    out.append("\r\n")
    return "".join(out).encode("latin-1")


class ClientProtocol(_ParserCallbacks):
    """The client half: frames requests, parses responses. One per connection.

    The client never pipelines, so a fresh response parser per request is both
    simple and cheap, and bytes after a complete response mean the connection
    cannot be reused (``unexpected_data``).
    """

    __slots__ = ("_request_method", "_reason", "_eof_delimited", "_status", "_received",
                 "_coding", "_sets_cookie", "unexpected_data")

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._next_event = 0
        self._reset_message()
        self._parser: httptools.HttpResponseParser | None = None
        self._phase = IDLE
        self._request_method = "GET"
        self._reason = b""
        #: the response body ends when the server closes (no Content-Length, not chunked).
        self._eof_delimited = False
        self._status = 0
        self._error: ProtocolError | None = None
        self._received = 0
        #: bytes arrived after the complete response: the connection cannot be reused.
        self.unexpected_data = False

    def _reset_message(self) -> None:
        _ParserCallbacks._reset_message(self)
        # The two fields the client acts on besides framing, noted as the names go by
        # (on_header lowers each name once anyway): no second pass over the head.
        self._coding: bytes | None = None
        self._sets_cookie = False

    @property
    def phase(self) -> str:
        """The response side's phase name (phases.py): idle, await, head, body, done, error."""
        return self._phase.name.lower()

    def request_head(self, method: str, target: str, headers: Iterable[tuple[str, str]],
                     content_length: int | None, chunked: bool) -> tuple[bytes, BodyWriter]:
        """Serialize a request head, get ready to parse its response, and return the
        head bytes with the writer that frames the request body (chunked, or
        ``content_length`` bytes; with neither, no body at all)."""
        fields = tuple(headers)
        key: tuple | None = (method, target, fields, content_length, chunked)
        try:
            head = _heads.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable header value: the checks below refuse it
            key = head = None
        if head is None:
            head = _serialize_head(method, target, fields, content_length, chunked)
            if key is not None and not _carries_credentials(fields):
                if len(_heads) >= _HEADS_MAX:
                    _heads.clear()  # a stream of one-off heads must not pin old ones
                _heads[key] = head
        self._request_method = method
        self._parser = httptools.HttpResponseParser(self)
        self._reset_message()
        self._phase = _SEND[self._phase]
        self._eof_delimited = False
        self._error = None
        self._received = 0
        self._events.clear()
        self._next_event = 0
        return head, request_writer(chunked, content_length)

    @property
    def response_complete(self) -> bool:
        return self._phase is DONE

    def _fail(self, error: ProtocolError) -> NoReturn:
        self._error = error
        self._phase = ERROR
        raise error

    def receive_data(self, data: bytes) -> None:
        phase = self._phase
        if phase is ERROR:
            raise self._error  # type: ignore[misc]
        if phase is DONE:
            if data:
                self.unexpected_data = True
            return
        if self._parser is None:
            raise ResponseProtocolError("data received with no request outstanding")
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _StopParsing):
                return
            if self._error is not None:
                raise self._error from None
            raise  # not a ProtocolError of ours: a bug, with its cause in __context__
        except httptools.HttpParserUpgrade:
            # 101 Switching Protocols: the rest belongs to another protocol. llhttp
            # reported the message complete already (on_message_complete).
            if self._phase is not DONE:
                self._events.append(EndOfMessage(None))
                self._phase = DONE
        except httptools.HttpParserError as exc:
            self._fail(ResponseProtocolError(f"malformed response: {exc}"))

    def receive_eof(self) -> None:
        """The server closed. Completes a close-delimited body, else raises if cut short."""
        phase = self._phase
        if phase is DONE:
            return
        if phase is BODY and self._eof_delimited:
            self._events.append(EndOfMessage(None))
            self._phase = _END[phase]
            return
        if phase is not BODY:
            raise ResponseProtocolError("connection closed before a complete response head")
        expected = self._content_length
        detail = f" ({self._received} of {expected} bytes)" if expected is not None else ""
        raise IncompleteBody(f"connection closed before the response body was complete{detail}")

    def on_message_begin(self) -> None:
        if self._phase is DONE:
            # The client never pipelines: a second message is bytes nobody asked for.
            self.unexpected_data = True
            raise _StopParsing()
        self._reset_message()
        self._phase = _BEGIN[self._phase]
        self._status = 0

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._phase is not HEAD:
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
        elif lname == b"content-encoding":
            coding = self._coding
            self._coding = value if coding is None else coding + b", " + value
        elif lname == b"set-cookie":
            self._sets_cookie = True

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        self._status = status
        reason = self._reason.decode("latin-1")
        self._reason = b""
        if 100 <= status < 200 and status != 101:
            # An interim response; the final one follows on the same parser.
            self._phase = _INTERIM[self._phase]
            self._events.append(InformationalResponse(status, reason, self._headers))
            return
        head = ResponseHead(status, reason, parser.get_http_version(), self._headers,
                            parser.should_keep_alive(), self._content_length, self._chunked,
                            self._coding, self._sets_cookie)
        self._events.append(head)
        bodiless = (self._request_method == "HEAD" or status in NO_BODY_STATUSES
                    or (self._content_length == 0 and not self._chunked))
        # RFC 9110 §9.3.6: after a 2xx to CONNECT the connection is a tunnel, the
        # response has no body whatever its headers say.
        tunnel = self._request_method == "CONNECT" and 200 <= status < 300
        if self._request_method == "HEAD" or tunnel:
            self._phase = _HEAD_ONLY[self._phase]
            self._events.append(EndOfMessage(None))
            raise _StopParsing()
        self._phase = _HEAD_DONE[self._phase]
        if not bodiless and self._content_length is None and not self._chunked:
            self._eof_delimited = True
            head.keep_alive = False

    def on_body(self, body: bytes) -> None:
        if body:
            self._received += len(body)
            self._events.append(Data(body))

    def on_message_complete(self) -> None:
        if self._phase is not BODY:
            return  # the end of an interim response
        self._events.append(EndOfMessage(self._trailers))
        self._phase = _END[self._phase]
