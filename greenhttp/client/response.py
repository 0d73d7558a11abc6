"""``Response``: status, headers, and a streaming :class:`Body` over the exchange."""

from __future__ import annotations

import codecs
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterator

import msgpack as _msgpack

from ..body import Body
from ..codecs import parse_json, parse_msgpack
from ..errors import DecodeError, HTTPStatusError
from ..headers import Headers
from ..protocol import ResponseHead

from .habits import missing_attribute

if TYPE_CHECKING:
    from .exchange import _Exchange
    from .request import Request

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# -- responses ---------------------------------------------------------------------


class Response:
    """An HTTP response. ``body`` is a :class:`Body`; ``content``/``text``/``json()`` read it all.

    Use it as a context manager (or call ``close()``) with ``stream=True`` so the
    connection goes back to the pool as soon as you are done with it.
    """

    __slots__ = ("status", "reason", "http_version", "_raw_headers", "_headers", "_body", "url",
                 "method", "history", "_content", "_exchange", "request", "_elapsed", "__weakref__")

    def __init__(self, method: str, url: str, head: ResponseHead, body: Body | None,
                 exchange: _Exchange | None = None, content: bytes | None = None) -> None:
        self.method = method
        self.url = url
        self.status = head.status
        self.reason = head.reason
        self.http_version = head.http_version
        # Decoded on first use: a caller that only wants the body skips the work.
        self._raw_headers = head.headers
        self._headers: Headers | None = None
        # None for a body already in memory (``content``): built on first use, so a
        # caller that reads ``.content`` never pays for a Body it does not touch.
        self._body = body
        self.history: list[Response] = []
        self._content = content
        self._exchange = exchange
        #: The :class:`~greenhttp.Request` as sent (after auth), set by the client.
        self.request: Request | None = None
        self._elapsed = 0.0

    @property
    def body(self) -> Body:
        """The body as a :class:`Body` stream (over the bytes already read, if they were)."""
        body = self._body
        if body is None:
            body = self._body = Body.from_bytes(self._content or b"")
        return body

    @body.setter
    def body(self, value: Body) -> None:
        self._body = value

    @property
    def elapsed(self) -> timedelta:
        """Time from sending the request to the response head (requests' ``elapsed``)."""
        return timedelta(seconds=self._elapsed)

    @property
    def headers(self) -> Headers:
        """Response header fields: case-insensitive, multi-valued, in arrival order."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers.from_raw(self._raw_headers)
        return headers

    def _has_header(self, lname: bytes) -> bool:
        for name, _ in self._raw_headers:  # a plain loop: no generator per response
            if name.lower() == lname:
                return True
        return False

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def is_redirect(self) -> bool:
        return self.status in REDIRECT_STATUSES and self._has_header(b"location")

    @property
    def is_buffered(self) -> bool:
        """True when the whole body is in memory and no connection is held: ``content``
        costs no I/O (small bodies that came with their head, or a non-streamed call)."""
        return self._exchange is None and self._content is not None

    @property
    def content(self) -> bytes:
        """The whole body (read on first use, then kept)."""
        if self._content is None:
            self._content = self.body.read()
        return self._content

    @property
    def encoding(self) -> str:
        content_type = self.headers.get("content-type") or ""
        for param in content_type.split(";")[1:]:
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"\' ')
        # RFC 8259 §8.1: JSON is UTF-8; so is most of everything else today.
        return "utf-8"

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding, "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return parse_json(self.content)
        except ValueError as exc:
            raise DecodeError(f"response body is not valid JSON: {exc}") from exc

    def msgpack(self) -> Any:
        try:
            return parse_msgpack(self.content)
        except (ValueError, _msgpack.ExtraData, _msgpack.FormatError, _msgpack.StackError) as exc:
            raise DecodeError(f"response body is not valid msgpack: {exc}") from exc

    def iter_bytes(self, size: int | None = None) -> Iterator[bytes]:
        """The body in pieces of ``size`` bytes (the last may be shorter), or as they
        arrive when ``size`` is None. Decoded unless ``decode_content=False``."""
        if self._content is not None and self._exchange is None:
            data = self._content
            step = size or len(data) or 1
            for start in range(0, len(data), step):
                yield data[start:start + step]
            return
        if not size:
            yield from self.body
            return
        buffer = bytearray()
        for piece in self.body:
            buffer += piece
            while len(buffer) >= size:
                yield bytes(buffer[:size])
                del buffer[:size]
        if buffer:
            yield bytes(buffer)

    def iter_lines(self) -> Iterator[str]:
        """Lines of text as they arrive, without their ending (``\n``, ``\r\n`` or ``\r``)."""
        decoder = codecs.getincrementaldecoder(self._codec())("replace")
        pending = ""
        for piece in self.iter_bytes():
            pending += decoder.decode(piece)
            lines = pending.splitlines(keepends=True)
            # A trailing "\r" may be half of "\r\n": keep it (and any unfinished line).
            pending = lines.pop() if lines and not lines[-1].endswith("\n") else ""
            for line in lines:
                yield line.rstrip("\r\n")
        pending += decoder.decode(b"", final=True)
        for line in pending.splitlines():
            yield line

    def _codec(self) -> str:
        try:
            return codecs.lookup(self.encoding).name
        except LookupError:
            return "utf-8"

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header (RFC 8288) by ``rel`` (else by URL): ``{"next": {"url": ..., "rel": "next"}}``."""
        result: dict[str, dict[str, str]] = {}
        for value in self.headers.get_all("link"):
            for link in _split_links(value):
                key = link.get("rel") or link["url"]
                for rel in key.split():
                    result[rel] = link
        return result

    def __getattr__(self, name: str) -> Any:
        raise missing_attribute("Response", name)

    def raise_for_status(self) -> "Response":
        if self.status >= 400:
            kind = "client error" if self.status < 500 else "server error"
            raise HTTPStatusError(f"{self.status} {self.reason} ({kind}) for {self.method} {self.url}", self)
        return self

    def close(self) -> None:
        """Release the connection: an unread rest up to 256 KiB is drained, more closes it."""
        exchange = self._exchange
        if exchange is not None:
            self._exchange = None
            exchange.close()

    def abort(self) -> None:
        """Stop at once: close the connection without reading the rest, free its pool slot.

        For an endless or unwanted stream, where ``close()`` would try to drain it, and
        for a proxy whose own client went away.
        """
        exchange = self._exchange
        if exchange is not None:
            self._exchange = None
            exchange.abandon()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"



_LINK = re.compile(r'\s*<([^>]*)>\s*((?:;\s*[^;,]+=(?:"[^"]*"|[^;,]*)\s*)*)')
_LINK_PARAM = re.compile(r';\s*([^;,=\s]+)\s*=\s*("[^"]*"|[^;,]*)')


def _split_links(value: str) -> Iterator[dict[str, str]]:
    """RFC 8288 §3: ``<url>; rel="next"; title="x", <url2>; rel=last``."""
    position = 0
    while position < len(value):
        match = _LINK.match(value, position)
        if match is None:
            return
        link = {"url": match.group(1)}
        for name, param in _LINK_PARAM.findall(match.group(2)):
            link[name.lower()] = param.strip().strip('"')
        yield link
        position = match.end()
        while position < len(value) and value[position] in ", ":
            position += 1
