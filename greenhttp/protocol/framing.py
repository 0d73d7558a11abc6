"""Body framing on the way out, one set of writers for responses and requests.

RFC 9112 §6.3 gives a message body three ways to end: after Content-Length bytes,
at the last chunk, or when the sender closes (responses only). Each has a writer
here, picked from one table (:data:`WRITERS`, after h11's ``_writers.py``) by
:func:`response_writer` or :func:`request_writer`. A writer turns the body bytes
it is given into wire bytes and keeps the sender honest: more bytes than the
Content-Length promised, or fewer by the end, is a :class:`LocalProtocolError`
(nothing goes out that would desynchronise the peer's parser).

A fourth writer, :class:`NoBodyWriter`, is for responses that cannot have a body
(a response to HEAD, 1xx, 204, 304: RFC 9110 §6.4.1). It discards what it is given,
because an app answers HEAD by computing the GET response (RFC 9110 §9.3.2 expects
the same header fields) and the server drops the body.
"""

from __future__ import annotations

from ..errors import LocalProtocolError


def chunk(data: bytes) -> bytes:
    """Frame ``data`` as one chunk of a chunked body (empty data frames nothing)."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"

# RFC 9110 §15.3.5, §15.4.5: 204 and 304 never have content (and 1xx, checked apart).
NO_BODY_STATUSES = frozenset({204, 304})


class BodyWriter:
    """Frames one message body. ``sent`` counts body bytes (not framing bytes).

    ``keep_alive`` says whether the connection can carry another message after
    this one; a writer that was not ended properly clears it.
    """

    __slots__ = ("keep_alive", "sent", "content_length")

    #: what kind of framing this is, for callers that pick a send path by it.
    no_body = False
    chunked = False

    def __init__(self, keep_alive: bool = True, content_length: int | None = None) -> None:
        self.keep_alive = keep_alive
        self.sent = 0
        #: the promised length (ContentLengthWriter only; None for the others).
        self.content_length = content_length

    def frame(self, data: bytes) -> bytes:
        """Wire bytes for ``data`` (empty ``data`` gives empty bytes)."""
        raise NotImplementedError

    def end(self) -> bytes:
        """Wire bytes that end the body; raises if a promised length was not met."""
        raise NotImplementedError


class ContentLengthWriter(BodyWriter):
    """RFC 9112 §6.2: exactly ``content_length`` bytes, sent as they are."""

    __slots__ = ()
    content_length: int

    def frame(self, data: bytes) -> bytes:
        sent = self.sent + len(data)
        self.sent = sent
        if sent > self.content_length:
            self.keep_alive = False
            raise LocalProtocolError(f"body longer than its Content-Length {self.content_length}")
        return data

    def end(self) -> bytes:
        if self.sent < self.content_length:
            self.keep_alive = False
            raise LocalProtocolError(
                f"body shorter ({self.sent}) than its Content-Length {self.content_length}")
        return b""


class ChunkedWriter(BodyWriter):
    """RFC 9112 §7.1: each piece one chunk, then the last chunk (no trailers)."""

    __slots__ = ()
    chunked = True

    def frame(self, data: bytes) -> bytes:
        self.sent += len(data)
        return chunk(data)  # empty data frames nothing: a zero-size chunk would end the body

    def end(self) -> bytes:
        return LAST_CHUNK


class CloseDelimitedWriter(BodyWriter):
    """RFC 9112 §6.3 rule 8: the body ends when the server closes (HTTP/1.0 responses
    of unknown length). The connection cannot be kept, whatever was asked."""

    __slots__ = ()

    def __init__(self, keep_alive: bool = False, content_length: int | None = None) -> None:
        self.keep_alive = False
        self.sent = 0
        self.content_length = None

    def frame(self, data: bytes) -> bytes:
        self.sent += len(data)
        return data

    def end(self) -> bytes:
        return b""


class NoBodyWriter(BodyWriter):
    """A response that has no body (HEAD, 1xx, 204, 304): body bytes are discarded."""

    __slots__ = ()
    no_body = True

    def frame(self, data: bytes) -> bytes:
        return b""

    def end(self) -> bytes:
        return b""


#: The one table: framing name -> writer class.
WRITERS: dict[str, type[BodyWriter]] = {
    "content-length": ContentLengthWriter,
    "chunked": ChunkedWriter,
    "close": CloseDelimitedWriter,
    "none": NoBodyWriter,
}


def response_writer(no_body: bool, chunked: bool, content_length: int | None,
                    keep_alive: bool) -> BodyWriter:
    """The writer for a response whose head said this (see ``response_head``)."""
    kind = ("none" if no_body else "chunked" if chunked
            else "close" if content_length is None else "content-length")
    return WRITERS[kind](keep_alive, content_length)


def request_writer(chunked: bool, content_length: int | None) -> BodyWriter:
    """The writer for a request body: chunked, or Content-Length.

    A request cannot be close-delimited (RFC 9112 §6.3 rule 6: no framing means no
    body), so a request without either gets a Content-Length of 0: a body there is
    refused rather than sent as the start of the next request.
    """
    kind = "chunked" if chunked else "content-length"
    return WRITERS[kind](True, None if chunked else content_length or 0)
