"""Forwarding one request: :func:`proxy_request` and the :class:`ProxyResponse` it returns.

Theory of operation
-------------------
:func:`proxy_request` turns one WSGI request into one client request over the shared
pool (or the one given), and returns a :class:`ProxyResponse` that is itself a WSGI
app: return ``response(environ, start_response)`` and the answer goes back.

* Upload: the request :class:`~greenhttp.Body` is handed to the client as the request
  body, so each chunk goes upstream as it comes off the client's socket (Content-Length
  when the client sent one, else chunked). Memory is one chunk, whatever the size.
* Download: the client is called with ``stream=True``; the upstream head is turned
  into a ``ProxyResponse`` (hop-by-hop fields removed, ``Via`` added) that the app
  may change, and the upstream :class:`~greenhttp.Body` is relayed chunk by chunk.
  A body that came whole with its head is returned as a list, so the server sends
  head and body in one write.
* Failures before the head: refused, reset or malformed upstream -> 502, upstream
  too slow -> 504, no free pool slot -> 503; a short plain body and one line on the
  ``greenhttp.proxy`` logger. After the head: nothing can change the status any
  more, so the client connection is closed without ending the body (a truncated
  body must look truncated), with one log line.
* Client gone mid-transfer: reading the upload raises inside the client's send, or
  writing the download raises in the server and the WSGI iterable is closed; both
  paths abort the upstream exchange (connection closed, no draining) so its pool slot
  is free at once.

Which side failed is the role of the exception (greenhttp.errors): reading the
client's upload raises a :class:`~greenhttp.errors.RequestError` (a stalled upload
is ``RequestTimeout``, a client that left ``ClientDisconnected``), which passes
through the upstream client untouched and propagates, so the server answers it as
for any app (408, 400, or nothing), never as a 504; an
:class:`~greenhttp.errors.UpstreamError` becomes its ``status_hint``.

The header policy is in :mod:`.headers`; :mod:`.reverse` and :mod:`.forward` build
the two proxies on :func:`proxy_request`, :mod:`.tunnel` does ``CONNECT``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..body import Body
from ..client import Response
from ..client.routing import _parse_url
from ..client.send import forward
from ..client.pool import Pool
from ..client.timeouts import Timeout
from ..errors import ConnectionLost, LocalProtocolError, PoolTimeout, RequestError, UpstreamError
from ..headers import Headers
from ..log import escape
from ..protocol.status import reason
from ..settings import default
from .headers import VIA, HeaderOverrides, apply_overrides, forwarded_request_headers, raw_response_headers

logger = logging.getLogger("greenhttp.proxy")

StartResponse = Callable[..., Any]

# Upstream timeouts of a proxy, as declared in greenhttp.settings (why those values: there).
DEFAULT_TIMEOUT = Timeout(connect=default("proxy_connect_timeout"), read=default("proxy_read_timeout"),
                          write=default("proxy_read_timeout"), pool=None)

# The errors a proxy answers itself, each with its role's status_hint (greenhttp.errors):
# UpstreamError: 502, or 504 for a timeout (ConnectTimeout is a timeout and a connect
# error; like nginx we call it a timeout). PoolTimeout: our own capacity, not the
# upstream's fault: 503. LocalProtocolError: the request cannot be put on the wire: 500.
# A lost upstream connection is UpstreamDisconnected, an UpstreamError: 502. A
# RequestError is the inbound client's (ClientDisconnected, RequestTimeout...): it
# propagates and the server answers it.
ANSWERED: tuple[type[Exception], ...] = (UpstreamError, PoolTimeout, LocalProtocolError)
FAILURE_TEXTS = {
    500: "the request could not be forwarded",
    502: "the upstream server could not be reached or broke the connection",
    503: "no connection to the upstream server became free",
    504: "the upstream server did not answer in time",
}

# Upstream requests (client.send.forward) never follow redirects (the client must see
# them), never use HTTP(S)_PROXY from the environment (nginx does not either), keep no
# cookies, read no .netrc (a forwarded request carries its own client's Authorization or
# none; nginx adds none either) and add no default fields.


# -- the response going back ---------------------------------------------------------------


class ProxyResponse:
    """The upstream's answer, ready to go back; a WSGI app itself.

    Change ``status``, ``reason`` or ``headers`` (a :class:`~greenhttp.Headers`, already
    without hop-by-hop fields) before returning ``response(environ, start_response)``.
    ``upstream`` is the client :class:`~greenhttp.Response` (None when the upstream
    failed); ``error`` the exception that made this a 502, 503 or 504 (else None).
    An app that decides not to send it must call :meth:`close`.
    """

    __slots__ = ("status", "reason", "headers", "upstream", "error", "url", "_content", "_log_as",
                 "_environ")

    def __init__(self, status: int, reason: str, headers: Headers, upstream: Response | None = None,
                 content: bytes | None = None, error: BaseException | None = None, url: str = "",
                 log_as: str = "", environ: dict[str, Any] | None = None) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.upstream = upstream
        self.error = error
        self.url = url
        self._content = content
        self._log_as = log_as
        # The log line's request is formatted from the environ only if a failure logs it:
        # the success path formats nothing.
        self._environ = environ

    @property
    def body(self) -> Body:
        """The body to relay: the upstream's, streaming, or our own error text."""
        if self.upstream is not None:
            return self.upstream.body
        return Body.from_bytes(self._content or b"")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response(f"{self.status} {self.reason}", self.headers.items())
        upstream = self.upstream
        if upstream is None:
            return [self._content] if self._content else []
        content = _buffered_content(upstream)
        if content is not None:
            return [content] if content else []
        return self._relay(upstream, start_response)

    def _relay(self, upstream: Response, start_response: StartResponse) -> Iterator[bytes]:
        sent = 0
        body = upstream.body
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        except ANSWERED as exc:
            status, text = _failure(exc)
            if sent == 0:
                # Nothing went out yet (the server holds the head until the first body
                # bytes), so PEP 3333's exc_info lets us still answer with an error.
                _log_failure(self._who(), self.url, status, exc, "before its body")
                answer = _plain(status, text)
                start_response(f"{status} {answer.reason}", answer.headers.items(), sys.exc_info())
                yield answer._content or b""
                return
            _log_failure(self._who(), self.url, status, exc, f"after {sent} body bytes; response cut short")
            # The head is out: close the client connection without ending the body, so a
            # truncated body cannot pass for a complete one. The server takes a
            # ConnectionLost out of a response body for exactly that: a body that lost
            # its upstream, one log line (ours, above), no traceback.
            raise ConnectionLost(f"upstream {self.url} failed after {sent} body bytes: {exc}") from exc
        finally:
            if not body.complete:
                _abort(upstream)

    def _who(self) -> str:
        if not self._log_as and self._environ is not None:
            self._log_as = _request_line(self._environ)
        return self._log_as

    def close(self) -> None:
        """Let go of the upstream exchange without sending the response (aborts it)."""
        if self.upstream is not None and not self.upstream.body.complete:
            _abort(self.upstream)

    def __repr__(self) -> str:
        return f"<ProxyResponse {self.status} {self.reason} from {self.url}>"


def _buffered_content(response: Response) -> bytes | None:
    # The client reads a response that arrived whole with its head (small bodies, 304,
    # HEAD) before returning it, and then holds no connection: send it as a list.
    return response.content if response.is_buffered else None


def _abort(response: Response) -> None:
    """Close the upstream connection at once and free its pool slot: no draining.

    ``Response.close()`` would read up to 256 KiB of the rest to keep the connection,
    which, from a slow upstream, can take the whole read timeout.
    """
    response.abort()


def _plain(status: int, text: str, extra: Sequence[tuple[str, str]] = (), url: str = "",
           error: BaseException | None = None) -> ProxyResponse:
    """A short text/plain answer of the proxy's own (an error, a refusal)."""
    content = f"{status} {reason(status)}: {text}\n".encode()
    headers = Headers([("Content-Type", "text/plain; charset=utf-8"),
                       ("Content-Length", str(len(content))), *extra])
    return ProxyResponse(status, reason(status), headers, content=content, error=error, url=url)


def _failure(exc: BaseException) -> tuple[int, str]:
    """The status and text for one of :data:`ANSWERED`: its role's ``status_hint``."""
    status = getattr(exc, "status_hint", 502)
    return status, FAILURE_TEXTS[status]


def _log_failure(who: str, url: str, status: int, exc: BaseException, when: str = "") -> None:
    logger.warning("%s -> %s: %d %s%s: %s: %s", who, url, status, reason(status),
                   f" ({when})" if when else "", type(exc).__name__, exc)


def _request_line(environ: dict[str, Any]) -> str:
    client = f"{environ.get('REMOTE_ADDR', '-')}:{environ.get('REMOTE_PORT', '-')}"
    target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    return f'{escape(client)} "{escape(environ.get("REQUEST_METHOD", "-") + " " + target)}"'


# -- forwarding one request -------------------------------------------------------------------


def _upload_body(environ: dict[str, Any]) -> Body | None:
    body = Body.from_environ(environ)  # greenhttp's own, or one over another server's wsgi.input
    if body.complete and not body.received:
        return None  # no body at all (GET, or Content-Length: 0)
    return body


def proxy_request(environ: dict[str, Any], url: str, *, pool: Pool | None = None,
                  timeout: Any = DEFAULT_TIMEOUT, headers: HeaderOverrides = None,
                  preserve_host: bool = False, forwarded: bool = True,
                  via: str | None = VIA, method: str | None = None,
                  verify: bool | str = True, cert: Any = None) -> ProxyResponse:
    """Forward the current request to ``url`` (the full upstream URL) and return the answer.

    The request body streams upstream as it arrives; return
    ``response(environ, start_response)`` and the upstream body streams back. Before
    that, the app may change ``response.status``, ``.reason`` and ``.headers``.
    ``headers`` adds or replaces upstream request fields (a value of None removes one).
    ``verify`` and ``cert`` are the client's, for an ``https://`` upstream: True (the
    system trust store), a CA file or directory, or False; a client certificate.
    Also available as ``environ["greenhttp.proxy"](environ, url, ...)`` under
    greenhttp's server. Never raises for an upstream failure: that is a 502, 503 or
    504 response (``response.error`` says why). A :class:`~greenhttp.errors.RequestError`
    of the client's own side (it left, or its upload stalled or was malformed)
    propagates, and the server answers it.
    """
    method = method or environ["REQUEST_METHOD"]
    items = forwarded_request_headers(environ, preserve_host=preserve_host, forwarded=forwarded, via=via)
    if not preserve_host or not environ.get("HTTP_HOST"):
        # The upstream's own name, first as user agents send it (RFC 9110 §7.2; nginx's
        # proxy_pass default, "Host: $proxy_host"). An InvalidURL is the caller's bug.
        items.insert(0, ("Host", _parse_url(url).authority))
    items = apply_overrides(items, headers)
    if "HTTP_UPGRADE" in environ and "greenhttp.connection" in environ:
        # RFC 9110 §7.8: a WebSocket handshake is upgraded hop by hop, then pumped.
        from ..websocket.proxy import forward_upgrade
        tunnel = forward_upgrade(environ, url, items, timeout=timeout, via=via,
                                 log_as=_request_line(environ))
        if tunnel is not None:
            return tunnel
    try:
        # client/send.py's proxy hop: the fields as built here, the upload as it comes,
        # the bytes as the upstream coded them, no redirects, cookies or defaults.
        upstream = forward(method, url, items, _upload_body(environ), pool=pool, timeout=timeout,
                           verify=verify, cert=cert)
    except RequestError as exc:
        # The inbound client's fault (its upload stalled, broke or ended): the server answers it.
        logger.info("%s -> %s: the client's upload failed (%s: %s); upstream request aborted",
                    _request_line(environ), url, type(exc).__name__, exc)
        raise
    except ANSWERED as exc:
        status, text = _failure(exc)
        _log_failure(_request_line(environ), url, status, exc)
        return _plain(status, text, url=url, error=exc)
    # From the raw fields: the upstream Response's own Headers is never built.
    out = raw_response_headers(upstream._raw_headers, upstream.http_version, via)
    return ProxyResponse(upstream.status, upstream.reason, out, upstream, url=url, environ=environ)


