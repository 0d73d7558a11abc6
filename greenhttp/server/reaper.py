"""The deadline sweeper: one greenlet per server interrupts connections that overstay.

Each connection publishes ``deadline`` (monotonic seconds, 0 for none) before it
blocks in a read or a write. One sweep for all connections replaces a gevent timer
per socket wait: gevent starts and stops a timer for every timed wait, ~10 us a
request, while the sweep costs nothing per request.

The sweep also parks connections that wait for their next request (parking.py). Its
tick is up to a second, so a burst of connections going idle would hold their greenlets
that long. Two things hurry it: a server that has accepted :data:`PARK_SOON` connections
since the last sweep wakes it (``Server.sweep_at``: one comparison per accepted
connection, none per request), and it looks again once those could have idled
``PARK_AFTER``; while at least ``PARK_SOON`` wait unparked it sweeps as soon as the first
of them has waited ``PARK_AFTER`` (not sooner than :data:`MIN_TICK`). A few idle
connections cost little, and a busy server's connections wait microseconds, so either
way the sweep keeps its slow tick.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import gevent
from gevent import socket as gsocket
from gevent.socket import cancel_wait

from .parking import PARK_AFTER, close_parked, park_waiting

if TYPE_CHECKING:
    from .connection import HTTPConnection
    from .listener import Server

#: Unparked connections waiting for their next request that make the sweep hurry: each
#: holds ~5 KiB in its greenlet (parking.py), so a hundred are half a MiB.
PARK_SOON = 100
#: The shortest pause between sweeps: a sweep over 10,000 connections takes ~2 ms, so
#: hurrying costs at most ~4% of a core, and only while idle connections pile up.
MIN_TICK = 0.05


def reap(server: "Server") -> None:
    """Interrupt connections whose read or write deadline passed, until killed.

    The tick is a quarter of the shortest timeout, so a timeout fires at most 25% late.
    """
    config = server.config
    tick = min(config.head_timeout, config.keepalive_timeout, config.body_timeout) / 4
    tick = min(max(tick, 0.02), 1.0)
    monotonic = time.monotonic
    # A connection waiting for its next request set deadline = start + keepalive_timeout:
    # it has waited PARK_AFTER seconds once its deadline is at most this far ahead.
    park_horizon = config.keepalive_timeout - PARK_AFTER
    delay = tick
    wake = server.sweep_soon
    while True:
        woken = wake.wait(delay)
        wake.clear()
        now = monotonic()
        waiting = 0  # idle, not yet parkable
        fresh = 0  # still waiting for their first request
        soonest = tick  # until the first of them is
        for conn in list(server.connections):
            deadline = conn.deadline
            if deadline and deadline <= now:
                if conn.parked:
                    close_parked(conn)
                else:
                    expire(conn)
            elif conn.idle_wait:
                left = deadline - now - park_horizon
                if left <= 0:
                    park_waiting(conn)
                else:
                    waiting += 1
                    soonest = min(soonest, left)
            elif not conn.requests_served and not conn.parked:
                fresh += 1
        server.sweep_at = len(server.connections) + PARK_SOON
        if waiting >= PARK_SOON:
            delay = max(soonest, MIN_TICK)
        elif woken or waiting + fresh >= PARK_SOON:
            # A burst of new connections: look again once they could have idled, and
            # keep looking while it has not sent its first requests yet (a burst's
            # requests may come well after its connects).
            delay = PARK_AFTER + MIN_TICK
        else:
            delay = tick


def expire(conn: "HTTPConnection") -> None:
    """Interrupt ``conn``'s blocked I/O with a timeout.

    ``cancel_wait`` throws only into a greenlet still waiting on that watcher when
    the hub gets to it, so a read that completed meanwhile is never interrupted.
    """
    conn.deadline = 0.0
    error = gsocket.timeout("timed out")
    sock: Any = conn.sock
    for watcher in (getattr(sock, "_read_event", None), getattr(sock, "_write_event", None)):
        if watcher is not None:  # gevent's socket keeps one read and one write watcher
            cancel_wait(watcher, error)
