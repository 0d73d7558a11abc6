"""The named phases of a server connection, and how one moves between them."""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    """Where one connection is in its request/response cycle (h11's _state.py idea).

    ``IDLE``: between requests, reading (maybe part of) a head. No app runs, so
    ``Server.stop`` may close the connection. ``APP``: the app runs and no response
    has begun, so a ``100 Continue`` or any status may still go out. ``HEAD_HELD``:
    the response head is fixed but held back for the first body bytes (one send for
    head and a small body); a RequestError may still replace it. ``SENT``: response
    bytes are queued or sent, too late for another status. ``DETACHED``: the socket
    was handed over (CONNECT tunnel) and the loop must not touch it again.

    The transitions, all of them::

        IDLE      -> APP        a whole request head arrived (_serve -> _handle)
        APP       -> HEAD_HELD  start_response() fixed the head
        APP       -> SENT       the server answered itself (_reject, send_simple)
        HEAD_HELD -> SENT       write()/respond_whole()/finish()/sendfile() queued the
                                head, or a RequestError replaced it (_reject)
        SENT      -> IDLE       response done, connection reusable (start_next_cycle)
        APP, HEAD_HELD, SENT -> DETACHED   detach()

    Two flags are not phases because they cut across them: ``closing`` (the server is
    stopping: every response from now on says ``Connection: close``; set from outside
    in any phase) and ``_continue_pending`` (the request side: the client waits for a
    ``100 Continue`` not yet sent; it matters in APP and for draining).
    """

    IDLE = "idle"
    APP = "app"
    HEAD_HELD = "head held"
    SENT = "sent"
    DETACHED = "detached"


# Module-level names: ``self.phase is SENT`` is one global lookup on the hot path.
IDLE, APP, HEAD_HELD, SENT, DETACHED = Phase.IDLE, Phase.APP, Phase.HEAD_HELD, Phase.SENT, Phase.DETACHED
