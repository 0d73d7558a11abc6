"""The connection pool: bounded per host and in total, LIFO idle reuse, no leaked slots.

Theory of operation
-------------------
A *slot* is one open connection, idle or in use, or one being opened. Each host
(scheme, host, port, TLS settings, proxy) has at most ``max_per_host`` slots and the
whole pool at most ``max_total``. A greenlet that finds its host full waits for a
slot up to the checkout timeout and then gets :class:`PoolTimeout`; nothing grows
without bound and nothing is silently dropped (urllib3's ``block=False`` default
opens extra connections and throws them away; hackney's users chased leaked slots).

Idle connections are kept per host in a list used as a stack: the most recently
returned one is reused first (urllib3's ``LifoQueue``), so the warm connections stay
warm and the cold ones age out by ``idle_timeout``. Before reuse a connection is
probed (``Stream.is_stale``): an idle keep-alive connection with anything to read
was closed or broken by the server.

Every checkout is paired with exactly one :meth:`Pool.checkin` in the caller's
``finally``, because ``gevent.Timeout`` and ``GreenletExit`` are BaseExceptions
that ``except Exception`` would let through. All of this runs in one thread on
gevent's hub, so plain counters need no lock: only the waits switch greenlets.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Hashable

import gevent.event

from ..errors import PoolTimeout
from ..settings import default
from .transport import Stream, connect

# Declared, with their precedents, in greenhttp.settings (scope "pool").
DEFAULT_MAX_PER_HOST: int = default("pool_max_per_host")
DEFAULT_MAX_TOTAL: int = default("pool_max_total")
DEFAULT_IDLE_TIMEOUT: float = default("pool_idle_timeout")
DEFAULT_CHECKOUT_TIMEOUT: float = default("pool_checkout_timeout")


class PooledConnection:
    """One connection (a stream), owned by a pool; the exchange brings the protocol."""

    __slots__ = ("key", "stream", "requests", "idle_since", "poolable", "_pool",
                 "checked_out", "label", "protocol")

    def __init__(self, pool: "Pool", key: Hashable, stream: Stream, poolable: bool = True,
                 label: str = "") -> None:
        self._pool = pool
        self.key = key
        self.stream = stream
        #: requests sent on this connection before the current one (0: fresh).
        self.requests = 0
        self.idle_since = 0.0
        #: False for CONNECT tunnels: they carry one exchange and are closed.
        self.poolable = poolable
        self.checked_out = True
        self.label = label
        #: the connection's ClientProtocol, made by its first exchange and reused by the
        #: next ones (request_head resets it): one per connection, not per request.
        self.protocol: Any = None

    @property
    def reused(self) -> bool:
        return self.requests > 0

    def close(self) -> None:
        self.stream.close()

    def __repr__(self) -> str:
        return f"<PooledConnection {self.label or self.key!r} requests={self.requests}>"


class _Host:
    __slots__ = ("idle", "open", "waiting", "label")

    def __init__(self, label: str) -> None:
        self.idle: list[PooledConnection] = []  # a stack: append and pop at the end
        self.open = 0  # idle + in use + being opened
        self.waiting = 0
        self.label = label


class Pool:
    """Keep-alive connections shared by every greenlet that uses this pool.

    ``max_per_host``: open connections per host (scheme, host, port, TLS, proxy).
    ``max_total``: open connections across hosts; an idle connection of another host
    is closed to make room before anyone waits. ``idle_timeout``: seconds an idle
    connection is kept. ``checkout_timeout``: seconds a request waits for a slot
    before :class:`~greenhttp.PoolTimeout` (a request's ``timeout.pool`` overrides it).
    ``connector``: opens a connection, ``connector(host, port, timeout, tls_context,
    server_hostname, tunnel) -> Stream``; the default dials with gevent sockets, replay
    tests pass one that returns canned streams.
    """

    def __init__(self, max_per_host: int = DEFAULT_MAX_PER_HOST,
                 max_total: int = DEFAULT_MAX_TOTAL,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 checkout_timeout: float | None = DEFAULT_CHECKOUT_TIMEOUT,
                 connector: Callable[..., Stream] | None = None) -> None:
        if max_per_host < 1 or max_total < 1:
            raise ValueError("pool limits must be at least 1")
        self.max_per_host = max_per_host
        self.max_total = max_total
        self.idle_timeout = idle_timeout
        self.checkout_timeout = checkout_timeout
        self.connector: Callable[..., Stream] = connector or connect
        self._hosts: dict[Hashable, _Host] = {}
        self._open = 0
        # Greenlets waiting for a slot. A release wakes them all and each re-checks
        # its own host: simple, and waits are the slow path by definition.
        self._waiters: deque[gevent.event.Event] = deque()
        self._closed = False
        self._last_prune = 0.0

    # -- checkout / checkin -----------------------------------------------------

    def checkout(self, key: Hashable, opener: Callable[[], Stream], timeout: Any = None,
                 label: str = "", fresh: bool = False, poolable: bool = True) -> PooledConnection:
        """A connection for ``key``: the most recent idle one, or a new one from ``opener``.

        ``fresh`` skips idle connections (the retry after a stale reuse must not land
        on another connection that went stale the same way). ``timeout`` is the
        checkout timeout; ``None`` means the pool's own, a number overrides it.
        """
        if self._closed:
            raise RuntimeError("the pool is closed")
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(label or str(key))
        wait = self.checkout_timeout if timeout is None else timeout
        deadline: float | None = None
        while True:
            if not fresh and poolable:
                conn = self._pop_idle(host)
                if conn is not None:
                    return conn
            if host.open < self.max_per_host and (self._open < self.max_total or self._evict_idle()):
                return self._open_new(key, host, opener, poolable)
            if fresh and host.idle:
                # Our own host is full of idle connections and we want a new one: make room.
                host.idle.pop(0).close()
                self._forget(host)
                continue
            if deadline is None:
                deadline = time.monotonic() + wait if wait is not None else None
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise PoolTimeout(
                    f"no connection to {host.label} became free within {wait} s "
                    f"({host.open} open, limit {self.max_per_host} per host, "
                    f"{self._open}/{self.max_total} in total)")
            self._wait(host, remaining)

    def _wait(self, host: _Host, timeout: float | None) -> None:
        event = gevent.event.Event()
        self._waiters.append(event)
        host.waiting += 1
        try:
            event.wait(timeout)
        finally:
            host.waiting -= 1
            try:
                self._waiters.remove(event)
            except ValueError:
                pass  # already taken off by _notify

    def _notify(self) -> None:
        waiters = self._waiters
        while waiters:
            waiters.popleft().set()

    def _open_new(self, key: Hashable, host: _Host, opener: Callable[[], Stream],
                  poolable: bool) -> PooledConnection:
        # Reserve the slot before connecting (connecting switches greenlets), and give
        # it back whatever happens while connecting, BaseExceptions included.
        host.open += 1
        self._open += 1
        try:
            stream = opener()
        except BaseException:
            self._forget(host)
            raise
        return PooledConnection(self, key, stream, poolable, host.label)

    def _pop_idle(self, host: _Host) -> PooledConnection | None:
        idle = host.idle
        expired_before = time.monotonic() - self.idle_timeout
        while idle:
            conn = idle.pop()
            if conn.idle_since < expired_before:
                # LIFO: everything below this one is older still.
                idle.append(conn)
                self._close_idle(host, len(idle))
                return None
            if conn.stream.is_stale():
                conn.close()
                self._forget(host)
                continue
            conn.checked_out = True
            return conn
        return None

    def _close_idle(self, host: _Host, count: int) -> None:
        for conn in host.idle[:count]:
            conn.close()
        del host.idle[:count]
        host.open -= count
        self._open -= count
        if count:
            self._notify()

    def _evict_idle(self) -> bool:
        """Close the longest-idle connection of any host to free a slot of the total."""
        oldest: _Host | None = None
        for host in self._hosts.values():
            if host.idle and (oldest is None or host.idle[0].idle_since < oldest.idle[0].idle_since):
                oldest = host
        if oldest is None:
            return False
        oldest.idle.pop(0).close()
        oldest.open -= 1
        self._open -= 1
        return True

    def _forget(self, host: _Host) -> None:
        host.open -= 1
        self._open -= 1
        self._notify()

    def checkin(self, conn: PooledConnection, reusable: bool) -> None:
        """Give a connection back: kept idle if ``reusable``, else closed. Idempotent."""
        if not conn.checked_out:
            return
        conn.checked_out = False
        host = self._hosts.get(conn.key)
        if host is None:  # the pool was closed meanwhile
            conn.close()
            return
        conn.requests += 1
        if reusable and conn.poolable and not self._closed:
            now = time.monotonic()
            conn.idle_since = now
            host.idle.append(conn)
            self._notify()
            if now - self._last_prune > 1.0:
                self._prune(now)
        else:
            conn.close()
            self._forget(host)

    def _prune(self, now: float) -> None:
        """Close idle connections past ``idle_timeout`` on every host (at most once a second)."""
        self._last_prune = now
        expired_before = now - self.idle_timeout
        for host in self._hosts.values():
            count = 0
            for conn in host.idle:
                if conn.idle_since >= expired_before:
                    break
                count += 1
            if count:
                self._close_idle(host, count)

    # -- management -----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts of open, idle, in-use connections and waiting greenlets, overall and per host."""
        hosts: dict[str, dict[str, int]] = {}
        idle_total = waiting_total = 0
        for host in self._hosts.values():
            idle = len(host.idle)
            if not (host.open or host.waiting):
                continue
            idle_total += idle
            waiting_total += host.waiting
            entry = hosts.setdefault(host.label, {"open": 0, "idle": 0, "in_use": 0, "waiting": 0})
            entry["open"] += host.open
            entry["idle"] += idle
            entry["in_use"] += host.open - idle
            entry["waiting"] += host.waiting
        return {"open": self._open, "idle": idle_total, "in_use": self._open - idle_total,
                "waiting": waiting_total, "hosts": hosts}

    def close(self) -> None:
        """Close every idle connection; connections in use are closed when returned."""
        self._closed = True
        for host in self._hosts.values():
            self._close_idle(host, len(host.idle))
        self._notify()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.stats()
        return f"<Pool open={s['open']} idle={s['idle']} in_use={s['in_use']} waiting={s['waiting']}>"


_default_pool: Pool | None = None


def default_pool() -> Pool:
    """The pool shared by every request that names no pool of its own."""
    global _default_pool
    if _default_pool is None or _default_pool._closed:
        _default_pool = Pool()
    return _default_pool
