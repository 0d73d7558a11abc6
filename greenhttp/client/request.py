"""``Request``: what the client sends (``response.request``), and what an auth flow edits."""

from __future__ import annotations

from typing import Any

from ..headers import Headers
from .payload import _Payload
from .routing import _parse_url


class Request:
    """Method, URL, headers and the body of one request as the client will send it.

    ``headers`` are the caller's (and the session's); the client adds Host, framing,
    ``User-Agent``, ``Accept-Encoding`` and cookies on the wire. ``content`` is the
    body when it is bytes in memory, else None (a file, a stream).
    """

    __slots__ = ("method", "url", "_headers", "_items", "_payload", "body")

    def __init__(self, method: str, url: str,
                 headers: Headers | list[tuple[str, str]] | None = None,
                 payload: _Payload | None = None) -> None:
        self.method = method
        self.url = url
        # A Headers object is built only when someone looks (an auth flow, a hook): a
        # plain call sends its header pairs as they are.
        self._headers: Headers | None = headers if isinstance(headers, Headers) else None
        self._items: list[tuple[str, str]] = headers if isinstance(headers, list) else []
        self._payload = payload
        #: A mock transport's view of the body: a :class:`~greenhttp.Body` to read
        #: (``MockTransport`` handlers); None on the client's side.
        self.body: Any = None

    @property
    def headers(self) -> Headers:
        """The request's header fields (case-insensitive, multi-valued); changes are sent."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self._items)
        return headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    def _header_items(self) -> list[tuple[str, str]]:
        return self._headers.items() if self._headers is not None else self._items

    @property
    def target(self) -> str:
        """The request target (path and query), as Digest's ``uri`` needs it."""
        return _parse_url(self.url).target

    @property
    def content(self) -> bytes | None:
        payload = self._payload
        if payload is not None and payload.kind == "bytes":
            return bytes(payload.source)
        return None if payload is not None else b""

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


