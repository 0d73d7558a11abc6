"""The events the parsers produce, and the NEED_DATA sentinel.

Plain slotted classes rather than dataclasses: one is built per request on the
server's hot path, and a slotted ``__init__`` is the cheapest object Python makes.
"""

from __future__ import annotations

from typing import Union

RawHeaders = list[tuple[bytes, bytes]]

class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


class RequestHead:
    """A parsed request line and header block."""

    __slots__ = (
        "method", "target", "http_version", "headers", "keep_alive",
        "content_length", "chunked", "expect_continue", "upgrade", "host",
    )

    def __init__(self, method: str, target: bytes, http_version: str, headers: RawHeaders,
                 keep_alive: bool, content_length: int | None, chunked: bool,
                 expect_continue: bool, upgrade: bool, host: bytes | None) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked
        self.expect_continue = expect_continue
        #: CONNECT (or an honoured Upgrade): the bytes after the head are no longer HTTP.
        self.upgrade = upgrade
        self.host = host

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    def __repr__(self) -> str:
        return f"<RequestHead {self.method} {self.target!r} HTTP/{self.http_version}>"


class ResponseHead:
    """A parsed status line and header block (client side)."""

    __slots__ = ("status", "reason", "http_version", "headers", "keep_alive",
                 "content_length", "chunked", "content_encoding", "sets_cookie")

    def __init__(self, status: int, reason: str, http_version: str, headers: RawHeaders,
                 keep_alive: bool, content_length: int | None, chunked: bool,
                 content_encoding: bytes | None = None, sets_cookie: bool = False) -> None:
        self.status = status
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.content_length = content_length
        self.chunked = chunked
        #: the Content-Encoding fields, combined (RFC 9110 §5.3); None without any.
        self.content_encoding = content_encoding
        #: a Set-Cookie field is among ``headers``.
        self.sets_cookie = sets_cookie

    def __repr__(self) -> str:
        return f"<ResponseHead {self.status} {self.reason}>"


class InformationalResponse:
    """A 1xx interim response (``100 Continue``, ``103 Early Hints``)."""

    __slots__ = ("status", "reason", "headers")

    def __init__(self, status: int, reason: str, headers: RawHeaders) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers


class Data:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<Data {len(self.data)} bytes>"


class EndOfMessage:
    __slots__ = ("trailers",)

    def __init__(self, trailers: RawHeaders | None = None) -> None:
        self.trailers = trailers

    def __repr__(self) -> str:
        return f"<EndOfMessage trailers={self.trailers!r}>"


Event = Union[RequestHead, ResponseHead, InformationalResponse, Data, EndOfMessage, _NeedData]
