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

    __slots__ = ("method", "url", "headers", "_payload", "body")

    def __init__(self, method: str, url: str, headers: Headers | None = None,
                 payload: _Payload | None = None) -> None:
        self.method = method
        self.url = url
        self.headers = headers if headers is not None else Headers()
        self._payload = payload
        #: A mock transport's view of the body: a :class:`~greenhttp.Body` to read
        #: (``MockTransport`` handlers); None on the client's side.
        self.body: Any = None

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


