"""Where a connection is in its message exchange: named phases and their transitions.

After h11's ``_state.py``: instead of several booleans whose combinations mean a
phase (``_in_head``, ``_message_open``, ``_message_done``, ``_paused``...), each
protocol half holds one :class:`Phase`, and every change goes through a table
that says which events may move it where. An event the table does not allow in
the current phase is a bug in greenhttp (llhttp reports callbacks in order), so
:func:`advance` raises ``KeyError`` rather than guess.

Server (phase of the *request* being read; the server reads, the app answers)::

    IDLE --begin--> HEAD --head_done--> BODY --end--> IDLE   (next pipelined request)
                                         BODY --tunnel--> TUNNEL   (CONNECT: bytes are not HTTP)
    any --error--> ERROR

Client (phase of the *response* to the one request outstanding; never pipelined)::

    IDLE --send--> AWAIT --begin--> HEAD --head_done--> BODY --end--> DONE
                            HEAD --interim--> AWAIT   (1xx: the final response follows)
                            HEAD --head_only--> DONE  (response to HEAD, CONNECT tunnel)
    any --error--> ERROR;   any --send--> AWAIT (a new request, on a fresh parser)

"send" is allowed from every phase, BODY included: the client reads a large
Content-Length body straight off the socket (client/core.py ``_Exchange.pull``),
so this parser need not see a body's end; whether the connection may carry the
next request is the pool's decision, not the parser's.

The tables are per event (``event -> {from: to}``) and the phases an ``IntEnum``, so
a transition on the hot path is one dict lookup with an int hash, no allocation.
"""

from __future__ import annotations

import enum


class Phase(enum.IntEnum):
    IDLE = 0    #: server: between requests; client: no request sent yet
    AWAIT = 1   #: client: request sent, no (final) response byte yet
    HEAD = 2    #: inside a head
    BODY = 3    #: head done, body (possibly empty) in progress
    DONE = 4    #: client: the response is complete
    TUNNEL = 5  #: server: after CONNECT, the bytes belong to the tunnel
    ERROR = 6   #: a protocol error; only a new request (client) leaves it


IDLE, AWAIT, HEAD, BODY, DONE, TUNNEL, ERROR = Phase

_ANY = tuple(Phase)

Table = dict[str, dict[Phase, Phase]]

SERVER_TRANSITIONS: Table = {
    "begin": {IDLE: HEAD},
    "head_done": {HEAD: BODY},
    "end": {BODY: IDLE},
    "tunnel": {BODY: TUNNEL, IDLE: TUNNEL},
    "error": {phase: ERROR for phase in _ANY},
}

CLIENT_TRANSITIONS: Table = {
    "send": {phase: AWAIT for phase in _ANY},
    "begin": {AWAIT: HEAD},
    "interim": {HEAD: AWAIT},
    "head_done": {HEAD: BODY},
    "head_only": {HEAD: DONE},
    "end": {BODY: DONE},
    "error": {phase: ERROR for phase in _ANY},
}


def advance(table: Table, event: str, phase: Phase) -> Phase:
    """The phase after ``event`` in ``phase``; ``KeyError`` if the table forbids it."""
    return table[event][phase]
