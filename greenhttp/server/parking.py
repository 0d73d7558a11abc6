"""Parking: an idle keep-alive connection waits without a greenlet.

A greenlet blocked between requests holds its saved C stack, its Python frames and
the Greenlet object: ~5 KiB, most of what ten thousand idle connections cost
(docs/benchmarks.md, issue 15). Once a connection has waited for its next request
longer than ``PARK_AFTER``, the reaper's sweep interrupts that wait (``Park``); the
greenlet hands the socket's own read watcher a callback and returns. When bytes (or
EOF) arrive, the callback spawns a fresh greenlet that carries on serving.

A connection busy with requests is never parked, so the request path pays nothing
but two flag writes: parking after a fixed idle time instead of on every wait keeps
a spawn per request off the hot path (a spawn costs about what parsing a head does).

While parked the connection stays in ``server.connections`` with ``parked`` set and
no greenlet; the reaper closes it when its keep-alive deadline passes and
``Server.stop`` closes it like any idle connection (``close_parked``). It also drops its ServerProtocol meanwhile: resuming makes a new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gevent
from gevent.hub import get_hub

from ..protocol import ServerProtocol

if TYPE_CHECKING:
    from .connection import HTTPConnection

#: What a parked connection holds instead of its own ServerProtocol (1.4 KiB with its
#: httptools parser). Between requests a protocol holds nothing worth keeping, and no
#: one feeds a parked connection's protocol: only its greenlet reads the socket, and
#: it has none. ``Server.stop`` asks it ``has_buffered_events()``: never.
_PARKED_PROTOCOL = ServerProtocol()

#: Seconds a connection must have waited for its next request before it is parked.
#: Resuming costs one greenlet spawn (a few microseconds), so a client that pauses
#: this long between requests cannot notice it; the reaper's tick (at most 1 s)
#: adds to it.
PARK_AFTER = 0.1


class Park(Exception):
    """Thrown into a connection's greenlet waiting for its next request: park it."""


def park_waiting(conn: "HTTPConnection") -> None:
    """Interrupt ``conn``'s wait for its next request (from the reaper's sweep)."""
    get_hub().loop.run_callback(_throw_park, conn)


def _throw_park(conn: "HTTPConnection") -> None:
    # In the hub, so no greenlet moves while we look: ``idle_wait`` is true only while
    # the greenlet is blocked in that one wait, so Park never lands anywhere else.
    greenlet = conn.greenlet
    if conn.idle_wait and greenlet is not None:
        greenlet.throw(Park())


def park(conn: "HTTPConnection") -> None:
    """Called by the connection's own greenlet, just before it returns: hand the wait
    for the next request to the socket's read watcher."""
    conn.parked = True
    conn.greenlet = None
    conn.protocol = _PARKED_PROTOCOL
    conn.sock._read_event.start(_readable, conn)  # type: ignore[attr-defined]


def _readable(conn: "HTTPConnection") -> None:
    # Runs in the hub: must not block. The greenlet checks ``parked`` first, since
    # the reaper or Server.stop may close the connection before it starts.
    conn.sock._read_event.stop()  # type: ignore[attr-defined]
    gevent.spawn(conn.server._resume_connection, conn)


def close_parked(conn: "HTTPConnection") -> None:
    """Close a parked connection (keep-alive timeout, or the server stopping)."""
    conn.parked = False
    sock: Any = conn.sock
    # Stop the watcher before the fd closes: libev aborts on a watcher whose fd was
    # closed under it, and gevent's close would try to wake the watcher's "greenlet".
    sock._read_event.stop()
    sock.close()  # idle: nothing unread to linger for (takeover.py's _close_socket)
    conn.server._forget(conn)
