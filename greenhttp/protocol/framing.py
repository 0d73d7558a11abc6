"""Body framing on the way out: Content-Length, chunked, or delimited by close."""

from __future__ import annotations

from ..errors import LocalProtocolError


def chunk(data: bytes) -> bytes:
    """Frame ``data`` as one chunk of a chunked body (empty data frames nothing)."""
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"

NO_BODY_STATUSES = frozenset({204, 304})


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
