"""Client timeouts: the ``Timeout`` settings object and the per-request timer that
turns them into a deadline for each socket operation."""

from __future__ import annotations

import time
from typing import Any, Union

from ..errors import DeadlineExceeded, UpstreamTimeout
from ..settings import default


# -- timeouts ------------------------------------------------------------------------


class Timeout:
    """Per-phase timeouts in seconds; ``None`` disables one.

    ``connect``: DNS, TCP, proxy tunnel and TLS handshake together. ``read``: the
    longest wait for the next bytes of a response. ``write``: the longest wait to
    send the next bytes. ``pool``: the longest wait for a pool slot (``None``: the
    pool's ``checkout_timeout``). ``total``: an overall deadline for the whole
    request, redirects and body included.

    ``Timeout(5)`` sets connect, read, write and pool to 5 s.
    """

    __slots__ = ("connect", "read", "write", "pool", "total")

    def __init__(self, default: float | None = None, *, connect: float | None = ...,  # type: ignore[assignment]
                 read: float | None = ..., write: float | None = ...,  # type: ignore[assignment]
                 pool: float | None = ..., total: float | None = None) -> None:  # type: ignore[assignment]
        self.connect = default if connect is ... else connect
        self.read = default if read is ... else read
        self.write = default if write is ... else write
        self.pool = default if pool is ... else pool
        self.total = total

    def __repr__(self) -> str:
        return (f"Timeout(connect={self.connect}, read={self.read}, write={self.write}, "
                f"pool={self.pool}, total={self.total})")


# Declared, with their precedents, in greenhttp.settings (scope "client"); pool: the pool's own.
DEFAULT_TIMEOUT = Timeout(connect=default("client_connect_timeout"), read=default("client_read_timeout"),
                          write=default("client_write_timeout"), pool=None)

TimeoutLike = Union[Timeout, float, int, None]


def _as_timeout(value: Any) -> Timeout:
    if value is ...:
        return DEFAULT_TIMEOUT
    if isinstance(value, Timeout):
        return value
    if value is None:
        return Timeout(None)
    return Timeout(float(value))


class _Timer:
    """One request's timeouts, each capped by the overall deadline when there is one."""

    __slots__ = ("timeout", "deadline")

    def __init__(self, timeout: Timeout) -> None:
        self.timeout = timeout
        self.deadline = None if timeout.total is None else time.monotonic() + timeout.total

    def _cap(self, base: float | None) -> float | None:
        deadline = self.deadline
        if deadline is None:
            return base
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(f"request deadline of {self.timeout.total} s passed")
        return remaining if base is None or remaining < base else base

    def connect(self) -> float | None:
        return self._cap(self.timeout.connect)

    def read(self) -> float | None:
        return self._cap(self.timeout.read)

    def write(self) -> float | None:
        return self._cap(self.timeout.write)

    def pool(self) -> float | None:
        base = self.timeout.pool
        if self.deadline is None:
            return base
        # None means "the pool's own"; a deadline still caps it.
        return self._cap(base)

    def expired(self, exc: BaseException) -> None:
        """Re-raise a timeout as DeadlineExceeded when the deadline, not the phase, ran out.

        Only the upstream's timeouts: a RequestTimeout out of the payload (the inbound
        client of a proxy stalled its upload) stays the inbound client's fault (408),
        whenever it fires (errors.py, "Roles").
        """
        if (self.deadline is not None and isinstance(exc, UpstreamTimeout)
                and time.monotonic() >= self.deadline - 0.001):
            raise DeadlineExceeded(f"request deadline of {self.timeout.total} s passed") from exc
