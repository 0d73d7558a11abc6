"""The one exception tree of greenhttp.

Everything greenhttp raises on purpose derives from :class:`GreenHTTPError`, so
``except greenhttp.GreenHTTPError`` catches all of it. Where users already expect a
standard exception (a timeout, a bad value, a lost connection) the class also
derives from the stdlib one, as urllib3 v2 does.

Protocol errors carry ``status_hint``: the status a server answers with when the
peer sent this (h11's ``error_status_hint``), so the server loop turns any
``ProtocolError`` straight into a response without a table of its own.
"""

from __future__ import annotations

import builtins


class GreenHTTPError(Exception):
    """Root of every exception greenhttp raises."""


# -- protocol -----------------------------------------------------------------


class ProtocolError(GreenHTTPError):
    """The peer broke HTTP/1.1 framing or syntax."""

    status_hint: int = 400

    def __init__(self, message: str, status_hint: int | None = None) -> None:
        super().__init__(message)
        if status_hint is not None:
            self.status_hint = status_hint


class BadRequest(ProtocolError):
    status_hint = 400


class RequestLineTooLong(ProtocolError):
    status_hint = 414


class HeadersTooLarge(ProtocolError):
    status_hint = 431


class BodyTooLarge(ProtocolError):
    status_hint = 413


class ExpectationFailed(ProtocolError):
    status_hint = 417


class NotImplementedCoding(ProtocolError):
    """A transfer coding we do not implement (RFC 9112 §6.1: answer 501)."""

    status_hint = 501


class VersionNotSupported(ProtocolError):
    status_hint = 505


class ResponseProtocolError(ProtocolError):
    """A server sent a malformed response (client side)."""

    status_hint = 502


class IncompleteBody(ProtocolError):
    """The connection ended before the body its framing promised."""

    status_hint = 400


class UnsupportedMediaType(ProtocolError):
    """A request body in a format the app does not read (``greenhttp.read_body``)."""

    status_hint = 415


class LocalProtocolError(GreenHTTPError, ValueError):
    """Our own side tried to send something HTTP forbids (e.g. CR/LF in a header)."""


# -- connections and timeouts -------------------------------------------------


class ConnectionLost(GreenHTTPError, ConnectionError):
    """The peer closed or reset the connection while we still needed it."""


class ClientDisconnected(ConnectionLost):
    """Server side: the client went away before the request body was complete."""


class ConnectError(GreenHTTPError, ConnectionError):
    """Client side: could not establish a connection (DNS, refused, unreachable, TLS)."""


class TimeoutError(GreenHTTPError, builtins.TimeoutError):  # noqa: A001 - deliberate mix-in
    """Root of greenhttp's timeouts; also a builtin ``TimeoutError``."""


class ConnectTimeout(TimeoutError, ConnectError):
    pass


class ReadTimeout(TimeoutError):
    pass


class WriteTimeout(TimeoutError):
    pass


class PoolTimeout(TimeoutError):
    """No connection slot became free within the pool's checkout timeout."""


class DeadlineExceeded(TimeoutError):
    """The overall deadline of a request passed."""


# -- client-level --------------------------------------------------------------


class InvalidURL(GreenHTTPError, ValueError):
    pass


class TooManyRedirects(GreenHTTPError):
    pass


class ProxyError(GreenHTTPError):
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


# -- serving --------------------------------------------------------------------


class AppLoadError(GreenHTTPError):
    """The CLI could not find or import the application."""
