"""``Response``: status, headers, and a streaming :class:`Body` over the exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgpack as _msgpack

from ..body import Body
from ..codecs import parse_json, parse_msgpack
from ..errors import DecodeError, HTTPStatusError
from ..headers import Headers
from ..protocol.core import ResponseHead

if TYPE_CHECKING:
    from .exchange import _Exchange

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# -- responses ---------------------------------------------------------------------


class Response:
    """An HTTP response. ``body`` is a :class:`Body`; ``content``/``text``/``json()`` read it all.

    Use it as a context manager (or call ``close()``) with ``stream=True`` so the
    connection goes back to the pool as soon as you are done with it.
    """

    __slots__ = ("status", "reason", "http_version", "_raw_headers", "_headers", "body", "url",
                 "method", "history", "_content", "_exchange", "__weakref__")

    def __init__(self, method: str, url: str, head: ResponseHead, body: Body,
                 exchange: _Exchange | None = None) -> None:
        self.method = method
        self.url = url
        self.status = head.status
        self.reason = head.reason
        self.http_version = head.http_version
        # Decoded on first use: a caller that only wants the body skips the work.
        self._raw_headers = head.headers
        self._headers: Headers | None = None
        self.body = body
        self.history: list[Response] = []
        self._content: bytes | None = None
        self._exchange = exchange

    @property
    def headers(self) -> Headers:
        """Response header fields: case-insensitive, multi-valued, in arrival order."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers.from_raw(self._raw_headers)
        return headers

    def _has_header(self, lname: bytes) -> bool:
        return any(name.lower() == lname for name, _ in self._raw_headers)

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

