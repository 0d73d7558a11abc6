"""``Retry``: an immutable retry policy, urllib3's ``Retry`` in greenhttp's terms.

What is retried (each only while its counter and ``total`` last):

- *connect* errors (:class:`~greenhttp.ConnectError`, ``ConnectTimeout``): nothing was
  sent, so any method may go again (urllib3's rule);
- *read* errors (``ConnectionLost``, ``ReadTimeout``, ``WriteTimeout``, a malformed or
  cut-short response): the server may have acted on the request, so only
  ``allowed_methods`` (idempotent by default, RFC 9110 §9.2.2) or a request with an
  ``Idempotency-Key`` header;
- *status*: an answer whose status is in ``status_forcelist``, or a 413/429/503 that
  carries ``Retry-After`` (RFC 9110 §10.2.3), for ``allowed_methods`` again.

Never: a body that cannot be replayed (a generator, a forwarded ``Body``), a pool
timeout, a total deadline that ran out, a decoding error. The one silent retry of a
stale keep-alive connection (``exchange.perform``) happens below this policy and does
not count against it.

``increment()`` returns a new ``Retry`` with the counters decreased and the attempt
appended to ``history``: one policy object can be shared by many calls and greenlets.
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import TYPE_CHECKING, Any, Callable, Collection, NamedTuple

import gevent

from ..errors import (
    ConnectError,
    ConnectionLost,
    DeadlineExceeded,
    GreenHTTPError,
    HTTPStatusError,
    ReadTimeout,
    ResponseProtocolError,
    UsageError,
    WriteTimeout,
)

if TYPE_CHECKING:
    from .request import Request
    from .response import Response
    from .timeouts import _Timer

# RFC 9110 §9.2.2: methods whose repetition has the same effect as one request.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
# Where RFC 9110 (§15.5.14, §15.6.4) and RFC 6585 §4 give Retry-After a meaning (urllib3's set).
RETRY_AFTER_STATUSES = frozenset({413, 429, 503})


class RetryAttempt(NamedTuple):
    """One failed attempt in ``Retry.history``: the error, or the status that was retried."""

    method: str
    url: str
    error: BaseException | None
    status: int | None


def _is_connect_error(exc: BaseException) -> bool:
    return isinstance(exc, ConnectError)


def _is_read_error(exc: BaseException) -> bool:
    if isinstance(exc, DeadlineExceeded):
        return False
    return isinstance(exc, (ConnectionLost, ReadTimeout, WriteTimeout, ResponseProtocolError))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date (§10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Retry:
    """How many times, for what, and how long to wait between attempts.

    ``total``: attempts after the first, all reasons together (``None``: only the
    per-reason counters limit). ``connect``, ``read``, ``status``: per reason (``None``:
    only ``total``). ``status_forcelist``: statuses to retry. ``allowed_methods``:
    methods retried after a read error or a status (``None``: every method).
    ``backoff_factor``: the wait before retry *n* is ``backoff_factor * 2 ** (n - 1)``
    seconds, plus up to ``backoff_jitter`` random seconds, at most ``backoff_max``.
    ``respect_retry_after``: a 413/429/503 with ``Retry-After`` waits what it says
    (and is retried even when its status is not in the forcelist, as urllib3 does).
    ``raise_on_status``: when the status retries run out, raise
    :class:`~greenhttp.HTTPStatusError` (True) or return the last response (False).

    ``retries=3`` on a call means ``Retry(3)``.
    """

    __slots__ = ("total", "connect", "read", "status", "status_forcelist", "allowed_methods",
                 "backoff_factor", "backoff_max", "backoff_jitter", "respect_retry_after",
                 "raise_on_status", "history")

    def __init__(self, total: int | None = 3, *, connect: int | None = None,
                 read: int | None = None, status: int | None = None,
                 status_forcelist: Collection[int] = (),
                 allowed_methods: Collection[str] | None = IDEMPOTENT_METHODS,
                 backoff_factor: float = 0.0, backoff_max: float = 120.0,
                 backoff_jitter: float = 0.0, respect_retry_after: bool = True,
                 raise_on_status: bool = True, history: tuple[RetryAttempt, ...] = ()) -> None:
        self.total = total
        self.connect = connect
        self.read = read
        self.status = status
        self.status_forcelist = frozenset(status_forcelist)
        self.allowed_methods = None if allowed_methods is None else frozenset(
            m.upper() for m in allowed_methods)
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.backoff_jitter = backoff_jitter
        self.respect_retry_after = respect_retry_after
        self.raise_on_status = raise_on_status
        self.history = history

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "history"):  # set last in __init__: frozen from then on
            raise AttributeError("Retry is immutable: use new(...) or increment(...)")
        object.__setattr__(self, name, value)

    @classmethod
    def from_value(cls, value: Any) -> "Retry | None":
        """What ``retries=`` accepts: a ``Retry``, a number of retries, or None/0/False (none)."""
        if value is None or value is False or isinstance(value, Retry):
            return value or None
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value) if value > 0 else None
        raise UsageError(f"retries= takes a greenhttp.Retry or a number, not {type(value).__name__}")

    def new(self, **changes: Any) -> "Retry":
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        total = values.pop("total")
        return Retry(total, **values)

    # -- decisions

    def _method_allowed(self, method: str, idempotency_key: bool) -> bool:
        return self.allowed_methods is None or method in self.allowed_methods or idempotency_key

    def retries_error(self, method: str, exc: BaseException, idempotency_key: bool = False) -> bool:
        """Whether ``exc`` is worth another attempt (before the counters are looked at)."""
        if _is_connect_error(exc):
            return True
        return _is_read_error(exc) and self._method_allowed(method, idempotency_key)

    def retries_status(self, method: str, status: int, has_retry_after: bool,
                       idempotency_key: bool = False) -> bool:
        if not self._method_allowed(method, idempotency_key):
            return False
        if status in self.status_forcelist:
            return True
        return bool(self.total and self.respect_retry_after and has_retry_after
                    and status in RETRY_AFTER_STATUSES)

    def increment(self, method: str, url: str, error: BaseException | None = None,
                  status: int | None = None) -> "Retry":
        """A new ``Retry`` with one attempt used for ``error`` (or ``status``)."""
        changes: dict[str, Any] = {"history": self.history + (RetryAttempt(method, url, error, status),)}
        if self.total is not None:
            changes["total"] = self.total - 1
        if error is not None and _is_connect_error(error):
            if self.connect is not None:
                changes["connect"] = self.connect - 1
        elif error is not None:
            if self.read is not None:
                changes["read"] = self.read - 1
        elif self.status is not None:
            changes["status"] = self.status - 1
        return self.new(**changes)

    def is_exhausted(self) -> bool:
        counts = (self.total, self.connect, self.read, self.status)
        return any(count is not None and count < 0 for count in counts)

    def backoff(self) -> float:
        """Seconds to wait before the next attempt (after ``increment``)."""
        attempts = len(self.history)
        if attempts == 0 or self.backoff_factor <= 0 and self.backoff_jitter <= 0:
            return 0.0
        value = self.backoff_factor * (2 ** (attempts - 1))
        if self.backoff_jitter:
            value += random.random() * self.backoff_jitter
        return max(0.0, min(self.backoff_max, value))

    def wait_for(self, status: int | None, retry_after: str | None) -> float:
        """The wait before the next attempt: ``Retry-After`` when it applies, else the backoff."""
        if (status in RETRY_AFTER_STATUSES and self.respect_retry_after):
            seconds = parse_retry_after(retry_after)
            if seconds is not None:
                return seconds
        return self.backoff()

    def __repr__(self) -> str:
        return (f"Retry(total={self.total}, connect={self.connect}, read={self.read}, "
                f"status={self.status}, status_forcelist={sorted(self.status_forcelist)}, "
                f"backoff_factor={self.backoff_factor})")


def _replayable(request: "Request") -> bool:
    payload = request._payload
    return payload is None or payload.rewind()


def _wait(seconds: float, timer: "_Timer") -> bool:
    """Sleep before the next attempt; False if that would pass the call's total deadline."""
    deadline = timer.deadline
    if deadline is not None and time.monotonic() + seconds >= deadline:
        return False
    if seconds > 0:
        gevent.sleep(seconds)
    return True


def send_with_retries(policy: Retry, request: "Request", timer: "_Timer",
                      attempt: Callable[[], "Response"]) -> "tuple[Response, Retry]":
    """Run ``attempt`` until it succeeds or ``policy`` says stop; returns the response and
    the policy as it stands (the rest of the call, its redirects and auth rounds, go on
    with what is left)."""
    method = request.method
    keyed = "idempotency-key" in request.headers
    while True:
        try:
            response = attempt()
        except GreenHTTPError as exc:
            if not policy.retries_error(method, exc, keyed):
                raise
            following = policy.increment(method, request.url, error=exc)
            if following.is_exhausted() or not _replayable(request) \
                    or not _wait(following.backoff(), timer):
                raise
            policy = following
            continue
        status = response.status
        if not (policy.status_forcelist or status in RETRY_AFTER_STATUSES):
            return response, policy  # the common case: no header lookups at all
        retry_after = response.headers.get("retry-after")
        if not policy.retries_status(method, status, retry_after is not None, keyed):
            return response, policy
        following = policy.increment(method, request.url, status=status)
        if following.is_exhausted():
            if policy.raise_on_status:
                response.close()
                raise HTTPStatusError(f"{status} {response.reason} for {method} {request.url} "
                                      f"after {len(policy.history)} retries", response)
            return response, policy
        if not _replayable(request) or not _wait(following.wait_for(status, retry_after), timer):
            return response, policy
        response.close()
        policy = following
