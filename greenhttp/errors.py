"""The one exception tree of greenhttp, whose classes say whose fault it was.

Everything greenhttp raises on purpose derives from :class:`GreenHTTPError`, so
``except greenhttp.GreenHTTPError`` catches all of it. Where users already expect a
standard exception (a timeout, a bad value, a lost connection) the class also
derives from the stdlib one, as urllib3 v2 does.

Roles
-----
A server, a client and a proxy share this tree, and the same event (a stall, a
truncated body) can be anybody's fault. So every class that can cross the app
boundary has one of three roles, decided once, where the bytes come in (h11 raises
one internal error and re-raises it with the *remote* role at its single
``next_event`` boundary; here the role is the class the reading side raises):

* :class:`RequestError`: **the inbound client** (the peer of our server) did wrong.
  Only the server's own reading of its request raises these (its protocol, its
  ``Body``, ``read_body``), or an app that means "your request is bad". The server
  answers ``status_hint`` (400, 408, 413, ...) whether the app caught it or not.
* :class:`UpstreamError`: **a server we called** (through the client or the proxy)
  failed: refused, timed out, sent a malformed or truncated response. To the inbound
  client that is never a 4xx: a plain app that lets one escape answers 500; the proxy
  API answers 502, or 504 for a timeout.
* :class:`LocalProtocolError` and :class:`UsageError`: **our own side** (the app, the
  caller, the command line) asked for something HTTP or greenhttp forbids. Nothing
  goes on the wire; in a server that is a 500.

Everything else an app lets escape is a 500 with the traceback in the log only.
"""

from __future__ import annotations

import builtins


class GreenHTTPError(Exception):
    """Root of every exception greenhttp raises."""


# -- roles -----------------------------------------------------------------------


class RequestError(GreenHTTPError):
    """The inbound client's fault: the server answers ``status_hint`` (if it still can)."""

    status_hint: int = 400

    def __init__(self, message: str = "", status_hint: int | None = None) -> None:
        super().__init__(message)
        if status_hint is not None:
            self.status_hint = status_hint


class UpstreamError(GreenHTTPError):
    """A server we called failed; to our own client that is a 5xx, never a 4xx.

    ``status_hint`` is what a proxy answers for it (RFC 9110 §15.6.3 502 Bad Gateway,
    §15.6.5 504 Gateway Timeout).
    """

    status_hint: int = 502


class UsageError(GreenHTTPError, ValueError):
    """Our own side asked for something greenhttp cannot do (a bad argument, flag or app)."""


# -- HTTP syntax and framing -------------------------------------------------------


class ProtocolError(GreenHTTPError):
    """HTTP/1.1 framing or syntax was broken; the subclass says by whom.

    ``status_hint`` is the status a server answers when its client sent this
    (h11's ``error_status_hint``).
    """

    status_hint: int = 400

    def __init__(self, message: str = "", status_hint: int | None = None) -> None:
        super().__init__(message)
        if status_hint is not None:
            self.status_hint = status_hint


class LocalProtocolError(ProtocolError, ValueError):
    """Our own side tried to send something HTTP forbids (e.g. CR/LF in a header).

    Raised before a byte of it reaches the wire. In a server it is the app's bug: 500.
    """

    status_hint = 500


class RemoteProtocolError(ProtocolError):
    """The peer broke HTTP/1.1; a request or a response error says which peer."""


class BadRequest(RemoteProtocolError, RequestError):
    """The inbound client sent a malformed request (RFC 9110 §15.5.1: 400)."""

    status_hint = 400


class RequestLineTooLong(BadRequest):
    status_hint = 414


class HeadersTooLarge(BadRequest):
    status_hint = 431


class BodyTooLarge(BadRequest):
    status_hint = 413


class ExpectationFailed(BadRequest):
    status_hint = 417


class NotImplementedCoding(BadRequest):
    """A transfer coding or method we do not implement (RFC 9112 §6.1, RFC 9110 §9.1: 501)."""

    status_hint = 501


class VersionNotSupported(BadRequest):
    status_hint = 505


class UnsupportedMediaType(BadRequest):
    """A request body in a format the app does not read (``greenhttp.read_body``)."""

    status_hint = 415


class ResponseProtocolError(RemoteProtocolError, UpstreamError):
    """A server we called sent a malformed response (client side)."""

    status_hint = 502


class IncompleteBody(ResponseProtocolError):
    """A response ended before the body its framing promised (the upstream closed early)."""

    status_hint = 502


# -- connections and timeouts -------------------------------------------------


class ConnectionLost(GreenHTTPError, ConnectionError):
    """The peer closed or reset the connection while we still needed it."""


class ClientDisconnected(ConnectionLost, RequestError):
    """Server side: the inbound client went away. There is nobody left to answer."""

    status_hint = 400


class UpstreamDisconnected(ConnectionLost, UpstreamError):
    """Client side: a server we called closed or reset the connection mid-exchange.

    A proxy answers 502 (RFC 9110 §15.6.3). The client's transport raises it for any
    connection loss after connecting, so whoever catches by role (the proxy's ``ANSWERED``)
    needs no ``ConnectionLost`` of its own.
    """

    status_hint = 502


class ConnectError(UpstreamError, ConnectionError):
    """Client side: could not establish a connection (DNS, refused, unreachable, TLS)."""


class TimeoutError(GreenHTTPError, builtins.TimeoutError):  # noqa: A001 - deliberate mix-in
    """Root of greenhttp's timeouts; also a builtin ``TimeoutError``."""


class RequestTimeout(TimeoutError, RequestError):
    """Server side: the inbound client stalled while sending its body (RFC 9110 §15.5.9: 408)."""

    status_hint = 408


class UpstreamTimeout(TimeoutError, UpstreamError):
    """Client side: a server we called was too slow. A proxy answers 504 (RFC 9110 §15.6.5)."""

    status_hint = 504


class ConnectTimeout(UpstreamTimeout, ConnectError):
    status_hint = 504


class ReadTimeout(UpstreamTimeout):
    pass


class WriteTimeout(UpstreamTimeout):
    pass


class DeadlineExceeded(UpstreamTimeout):
    """The overall deadline of a request passed."""


class PoolTimeout(TimeoutError):
    """No connection slot became free within the pool's checkout timeout.

    Our own capacity, not the upstream's fault: a proxy answers 503 (RFC 9110 §15.6.4).
    """

    status_hint = 503


# -- client-level --------------------------------------------------------------


class InvalidURL(UsageError):
    pass


class TooManyRedirects(UpstreamError):
    pass


class ProxyError(UpstreamError):
    """A proxy refused or failed to set up the request or tunnel."""


class HTTPStatusError(GreenHTTPError):
    """Raised by ``Response.raise_for_status()`` for 4xx and 5xx answers."""

    def __init__(self, message: str, response: object) -> None:
        super().__init__(message)
        self.response = response


class DecodeError(GreenHTTPError, ValueError):
    """A body could not be decoded as the codec it claims (JSON, msgpack)."""


class MalformedBody(DecodeError, BadRequest):
    """Server side: a request body is not valid for its Content-Type (bad JSON or msgpack).

    A :class:`BadRequest` too, so an app that lets it escape still answers 400 with
    the message, never 500.
    """


class StreamClosed(ConnectionLost):
    """``Stream.send()`` on a stream that was closed, by its producer or because the client left.

    Deliberately without a role: it reaches the producer (often a greenlet of our own
    side, not the request's app) for three causes that blame different parties (the
    inbound client left, the producer closed the stream itself, or the producer cut a
    slow consumer off with ``abort()``), and by then the response is under way, so no
    status line depends on it. A producer that must tell "the client left" apart checks
    ``stream.closed`` before its own ``close()``. It is never answered by the proxy.
    """


# -- serving and the command line ------------------------------------------------------


class AppLoadError(UsageError):
    """The CLI could not find or import the application."""


class CLIError(UsageError):
    """A command-line argument is wrong; the CLI prints the message on one line and exits 2."""


class ReplError(UsageError):
    """A REPL command used wrongly (the user's input): printed as one line, the prompt stays."""


class ItemError(UsageError):
    """A request item (HTTPie syntax) that cannot be understood: one line for the user.

    Also a ``ValueError`` (as every :class:`UsageError`), which callers parsing items
    have always caught."""
