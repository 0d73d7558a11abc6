"""Transports for tests: ``Client(transport=...)`` sends requests here instead of the network."""

from __future__ import annotations

from typing import Any, Protocol

from ..protocol.core import ResponseHead
from .payload import _Payload
from .routing import _URL


class Transport(Protocol):
    """What ``Client(transport=...)`` needs: the request on its way, the response head, an
    exchange-like body source (``pull``, ``body_complete``, ``release``, ``close``,
    ``abandon``, ``trailers``) and, when the whole body is known at once, its bytes."""

    def handle(self, method: str, url: _URL, headers: list[tuple[str, str]],
               payload: _Payload | None, length: int | None, chunked: bool
               ) -> tuple[ResponseHead, Any, bytes | None]: ...
