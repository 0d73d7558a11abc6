"""Proxying: hand the current request to another server, a reverse proxy, a forward proxy.

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

Which exception came from which side matters, because the server and the client
share one tree (a stalled upload and a stalled upstream are both ``ReadTimeout``).
Errors of the upload are wrapped in ``_DownstreamFailed`` on the way through the
client and unwrapped here, so the server answers them as it always does (408,
400, or nothing for a client that left), never as a 504.

:class:`ReverseProxy` maps path prefixes to upstream URLs; :class:`ForwardProxy` is
an explicit opt-in forward proxy (absolute-form requests and ``CONNECT`` tunnels)
with an allow-list and optional basic ``Proxy-Authorization``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import socket as _stdlib_socket
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union
from urllib.parse import quote, urlsplit

import gevent

from ..body import Body
from ..client.core import Client, Response
from ..errors import (
    ConnectionLost,
    GreenHTTPError,
    LocalProtocolError,
    PoolTimeout,
    TimeoutError,
)
from ..headers import Headers
from ..log import access_line, access_logger, escape
from ..client.pool import Pool
from ..client.timeouts import Timeout
from ..client.transport import connect as _connect

logger = logging.getLogger("greenhttp.proxy")

StartResponse = Callable[..., Any]
HeaderOverrides = Union[Mapping[str, Union[str, None]], Sequence[tuple[str, Union[str, None]]], None]

#: The name this proxy gives itself in ``Via`` (RFC 9110 §7.6.3 allows a pseudonym
#: instead of a host name, and a pseudonym leaks no internal host names).
VIA = "greenhttp"

# RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field before
# a message is forwarded and, for each connection-option in this field, remove any
# header or trailer field(s) from the message with the same name as the
# connection-option, and then remove the Connection header field itself". Besides those,
# the fields that describe one connection whatever Connection says: Keep-Alive, TE,
# Trailer (announces trailers of a body that is re-framed per hop), Transfer-Encoding,
# Upgrade, and every Proxy-* field (Proxy-Connection from old clients such as curl,
# Proxy-Authorization and Proxy-Authenticate, which belong to this hop's proxy).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-connection", "proxy-authorization", "proxy-authenticate"})
# Also never copied into the upstream request: framing and the expectation are the
# client's to compute for its own hop, and "Proxy" is the httpoxy header (CGI turns
# it into HTTP_PROXY, which some HTTP libraries take for their proxy setting).
_REQUEST_DROP = frozenset({"content-length", "expect", "proxy", "host"})

# Upstream timeouts of a proxy: connect 5 s (a live upstream on a LAN answers in
# milliseconds; nginx's proxy_connect_timeout is 60 s, far longer than a user waits),
# and 60 s between bytes, nginx's proxy_read_timeout and proxy_send_timeout.
DEFAULT_TIMEOUT = Timeout(connect=5.0, read=60.0, write=60.0, pool=None)

# What an upstream failure before the response head becomes, first match wins:
# ConnectTimeout is both a TimeoutError and a ConnectError, and like nginx we call it
# a timeout (504). PoolTimeout: our own limit, not the upstream's fault: 503.
FAILURES: tuple[tuple[type, int, str], ...] = (
    (PoolTimeout, 503, "no connection to the upstream server became free"),
    (TimeoutError, 504, "the upstream server did not answer in time"),
    (LocalProtocolError, 500, "the request could not be forwarded"),
    (GreenHTTPError, 502, "the upstream server could not be reached or broke the connection"),
    (OSError, 502, "the upstream server could not be reached or broke the connection"),
)
_REASONS = {403: "Forbidden", 404: "Not Found", 400: "Bad Request", 407: "Proxy Authentication Required",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}

# Upstream requests never follow redirects (the client must see them), never use
# HTTP(S)_PROXY from the environment (nginx does not either) and keep no cookies.
_client = Client(cookies=False, follow_redirects=False, proxy=False)


# -- header fields ----------------------------------------------------------------------

_names: dict[str, str] = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def _field_name(key: str) -> str:
    name = _names.get(key)
    if name is None:
        # HTTP_X_FORWARDED_FOR -> X-Forwarded-For. The server drops header names with
        # underscores, so the mapping back is exact up to case, which HTTP ignores.
        name = "-".join(part.capitalize() for part in key[5:].split("_"))
        if len(_names) < 4096:
            _names[key] = name
    return name


def connection_options(items: Iterable[tuple[str, str]]) -> set[str]:
    """The field names a message's ``Connection`` header lists (lower-case)."""
    named: set[str] = set()
    for name, value in items:
        if len(name) == 10 and name.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(","))
    return named


def is_hop_by_hop(lname: str, named: set[str] | frozenset[str] = frozenset()) -> bool:
    return lname in HOP_BY_HOP or lname.startswith("proxy-") or lname in named


_hop_names: dict[str, bool] = {}


def strip_hop_by_hop(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``items`` without hop-by-hop fields (RFC 9110 §7.6.1), order kept."""
    items = list(items)
    named = connection_options(items)
    if named:
        return [(name, value) for name, value in items if not is_hop_by_hop(name.lower(), named)]
    hop = _hop_names
    out = []
    for item in items:
        name = item[0]
        drop = hop.get(name)
        if drop is None:
            drop = is_hop_by_hop(name.lower())
            if len(hop) < 4096:
                hop[name] = drop
        if not drop:
            out.append(item)
    return out


def _via_version(protocol: str) -> str:
    # RFC 9110 §7.6.3: received-protocol is the version the message came in with;
    # the "HTTP/" prefix is omitted for HTTP.
    return protocol[5:] if protocol.startswith("HTTP/") else protocol


# What forwarded_request_headers does with each environ key, decided once per key:
# (field name, kind). Header names repeat endlessly across requests.
_KEEP, _DROP, _VIA, _XFF, _XFORWARDED = range(5)
_key_kinds: dict[str, tuple[str, int]] = {}


def _key_kind(key: str) -> tuple[str, int]:
    entry = _key_kinds.get(key)
    if entry is None:
        if key[:5] != "HTTP_":
            entry = ("Content-Type", _KEEP) if key == "CONTENT_TYPE" else ("", _DROP)
        else:
            name = _field_name(key)
            lname = name.lower()
            if is_hop_by_hop(lname) or lname in _REQUEST_DROP:
                kind = _DROP
            elif lname == "via":
                kind = _VIA
            elif lname == "x-forwarded-for":
                kind = _XFF
            elif lname.startswith("x-forwarded-"):
                kind = _XFORWARDED
            else:
                kind = _KEEP
            entry = (name, kind)
        if len(_key_kinds) < 4096:
            _key_kinds[key] = entry
    return entry


def forwarded_request_headers(environ: dict[str, Any], *, preserve_host: bool = False,
                              forwarded: bool = True, via: str | None = VIA) -> list[tuple[str, str]]:
    """The header fields to send upstream for this request.

    End-to-end fields of the request, minus hop-by-hop ones and those the client
    computes itself (Host unless ``preserve_host``, Content-Length, Expect); then
    ``X-Forwarded-For`` (the client address appended to any received list, as nginx's
    ``$proxy_add_x_forwarded_for``), ``X-Forwarded-Proto`` and ``X-Forwarded-Host``
    (this hop's view, replacing whatever the client claimed) when ``forwarded``; and
    ``Via``, appended to any received one.
    """
    items: list[tuple[str, str]] = []
    connection = environ.get("HTTP_CONNECTION")
    named = connection_options([("connection", connection)]) if connection else None
    received_via = None
    received_xff = None
    kinds = _key_kinds
    for key, value in environ.items():
        entry = kinds.get(key) or _key_kind(key)
        kind = entry[1]
        if kind == _KEEP:
            if named and entry[0].lower() in named:
                continue
            if value or key != "CONTENT_TYPE":
                items.append((entry[0], value))
        elif kind == _DROP:
            continue
        elif kind == _VIA:
            received_via = value
        elif not forwarded:
            items.append((entry[0], value))  # X-Forwarded-* passed on as received
        elif kind == _XFF:
            received_xff = value
    host = environ.get("HTTP_HOST")
    if preserve_host and host:
        items.append(("Host", host))
    if forwarded:
        remote = environ.get("REMOTE_ADDR") or "unknown"
        items.append(("X-Forwarded-For", f"{received_xff}, {remote}" if received_xff else remote))
        items.append(("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")))
        if host:
            items.append(("X-Forwarded-Host", host))
    if via:
        ours = f"{_via_version(environ.get('SERVER_PROTOCOL', 'HTTP/1.1'))} {via}"
        items.append(("Via", f"{received_via}, {ours}" if received_via else ours))
    elif received_via:
        items.append(("Via", received_via))
    return items


def _apply_overrides(items: list[tuple[str, str]], overrides: HeaderOverrides) -> list[tuple[str, str]]:
    if not overrides:
        return items
    pairs = list(overrides.items()) if isinstance(overrides, Mapping) else list(overrides)
    replaced = {name.lower() for name, _ in pairs}
    out = [(name, value) for name, value in items if name.lower() not in replaced]
    out.extend((name, value) for name, value in pairs if value is not None)
    return out


# -- the response going back ---------------------------------------------------------------


class ProxyResponse:
    """The upstream's answer, ready to go back; a WSGI app itself.

    Change ``status``, ``reason`` or ``headers`` (a :class:`~greenhttp.Headers`, already
    without hop-by-hop fields) before returning ``response(environ, start_response)``.
    ``upstream`` is the client :class:`~greenhttp.Response` (None when the upstream
    failed); ``error`` the exception that made this a 502, 503 or 504 (else None).
    An app that decides not to send it must call :meth:`close`.
    """

    __slots__ = ("status", "reason", "headers", "upstream", "error", "url", "_content", "_log_as")

    def __init__(self, status: int, reason: str, headers: Headers, upstream: Response | None = None,
                 content: bytes | None = None, error: BaseException | None = None, url: str = "",
                 log_as: str = "") -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.upstream = upstream
        self.error = error
        self.url = url
        self._content = content
        self._log_as = log_as

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
        except GreenHTTPError as exc:
            status, text = _failure(exc)
            if sent == 0:
                # Nothing went out yet (the server holds the head until the first body
                # bytes), so PEP 3333's exc_info lets us still answer with an error.
                _log_failure(self._log_as, self.url, status, exc, "before its body")
                content = f"{status} {_REASONS[status]}: {text}\n".encode()
                start_response(f"{status} {_REASONS[status]}", _plain_headers(content), sys.exc_info())
                yield content
                return
            _log_failure(self._log_as, self.url, status, exc, f"after {sent} body bytes; response cut short")
            # The head is out: close the client connection without ending the body, so a
            # truncated body cannot pass for a complete one.
            raise _CutShort(f"upstream {self.url} failed after {sent} body bytes: {exc}") from exc
        finally:
            if not body.complete:
                _abort(upstream)

    def close(self) -> None:
        """Let go of the upstream exchange without sending the response (aborts it)."""
        if self.upstream is not None and not self.upstream.body.complete:
            _abort(self.upstream)

    def __repr__(self) -> str:
        return f"<ProxyResponse {self.status} {self.reason} from {self.url}>"


class _CutShort(ConnectionLost):
    """The upstream broke after the response head went out: the server closes the
    client connection without ending the body (one info line, no traceback)."""


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


def _plain_headers(content: bytes, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    return [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(content))),
            *extra]


def _plain(status: int, text: str, extra: Sequence[tuple[str, str]] = (), url: str = "",
           error: BaseException | None = None) -> ProxyResponse:
    content = f"{status} {_REASONS[status]}: {text}\n".encode()
    return ProxyResponse(status, _REASONS[status], Headers(_plain_headers(content, extra)),
                         content=content, error=error, url=url)


def _failure(exc: BaseException) -> tuple[int, str]:
    for kind, status, text in FAILURES:
        if isinstance(exc, kind):
            return status, text
    return 502, FAILURES[-1][2]


def _log_failure(who: str, url: str, status: int, exc: BaseException, when: str = "") -> None:
    logger.warning("%s -> %s: %d %s%s: %s: %s", who, url, status, _REASONS.get(status, ""),
                   f" ({when})" if when else "", type(exc).__name__, exc)


def _request_line(environ: dict[str, Any]) -> str:
    client = f"{environ.get('REMOTE_ADDR', '-')}:{environ.get('REMOTE_PORT', '-')}"
    target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    return f'{escape(client)} "{escape(environ.get("REQUEST_METHOD", "-") + " " + target)}"'


# -- forwarding one request -------------------------------------------------------------------


class _DownstreamFailed(Exception):
    """Carries an error of the client's upload through the upstream client, unmistaken."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _upload_body(environ: dict[str, Any]) -> Body | None:
    body = environ.get("greenhttp.body")
    if body is None:
        # Another WSGI server: read wsgi.input, bounded by CONTENT_LENGTH.
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= 0:
            return None
        stream = environ["wsgi.input"]
        remaining = [length]

        def read_input() -> bytes | None:
            if remaining[0] <= 0:
                return None
            data = stream.read(min(65536, remaining[0]))
            if not data:
                return None
            remaining[0] -= len(data)
            return data

        body = Body(read_input, length)
    elif body.complete and not body.received:
        return None  # no body at all (GET, or Content-Length: 0)
    chunks = iter(body)

    def pull() -> bytes | None:
        try:
            return next(chunks, None)
        except Exception as exc:  # noqa: BLE001 - wrapped, not swallowed: re-raised by proxy_request
            raise _DownstreamFailed(exc) from exc

    return Body(pull, body.length)


def proxy_request(environ: dict[str, Any], url: str, *, pool: Pool | None = None,
                  timeout: Any = DEFAULT_TIMEOUT, headers: HeaderOverrides = None,
                  preserve_host: bool = False, forwarded: bool = True,
                  via: str | None = VIA, method: str | None = None) -> ProxyResponse:
    """Forward the current request to ``url`` (the full upstream URL) and return the answer.

    The request body streams upstream as it arrives; return
    ``response(environ, start_response)`` and the upstream body streams back. Before
    that, the app may change ``response.status``, ``.reason`` and ``.headers``.
    ``headers`` adds or replaces upstream request fields (a value of None removes one).
    Also available as ``environ["greenhttp.proxy"](environ, url, ...)`` under
    greenhttp's server. Never raises for an upstream failure: that is a 502, 503 or
    504 response (``response.error`` says why). Errors of the client's own side
    (it left, or its upload stalled or was malformed) are raised as the server's.
    """
    method = method or environ["REQUEST_METHOD"]
    items = _apply_overrides(forwarded_request_headers(
        environ, preserve_host=preserve_host, forwarded=forwarded, via=via), headers)
    log_as = _request_line(environ)
    try:
        upstream = _client.request(method, url, headers=items, body=_upload_body(environ),
                                   stream=True, pool=pool, timeout=timeout)
    except _DownstreamFailed as exc:
        logger.info("%s -> %s: the client's upload failed (%s: %s); upstream request aborted",
                    log_as, url, type(exc.error).__name__, exc.error)
        raise exc.error from None
    except (GreenHTTPError, OSError) as exc:
        status, text = _failure(exc)
        _log_failure(log_as, url, status, exc)
        return _plain(status, text, url=url, error=exc)
    out = Headers(strip_hop_by_hop(upstream.headers.items()))
    if via:
        ours = f"{_via_version('HTTP/' + upstream.http_version)} {via}"
        received = out.get("via")
        if received:
            out.set("Via", f"{received}, {ours}")
        else:
            out.add("Via", ours)
    return ProxyResponse(upstream.status, upstream.reason, out, upstream, url=url, log_as=log_as)


# -- reverse proxy --------------------------------------------------------------------------


class Route:
    """``prefix`` -> ``url``, with nginx's ``proxy_pass`` rule for the path.

    If ``url`` has no path (``http://127.0.0.1:9000``), the request path goes upstream
    unchanged. If it has one (``http://127.0.0.1:9000/v2/`` or just ``/``), the matched
    prefix is replaced by it: ``/api=http://h/v2`` sends ``/api/users`` to ``/v2/users``.
    """

    __slots__ = ("prefix", "url", "origin", "path", "replace")

    def __init__(self, prefix: str, url: str) -> None:
        if not prefix.startswith("/"):
            raise ValueError(f"route prefix must start with '/': {prefix!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"route upstream must be an http:// or https:// URL: {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"route upstream must not have a query or fragment: {url!r}")
        self.prefix = prefix.rstrip("/") or "/"
        self.url = url
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.replace = bool(parts.path)
        self.path = parts.path.rstrip("/")

    def matches(self, path: str) -> bool:
        prefix = self.prefix
        if prefix == "/":
            return True
        return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")

    def upstream_url(self, path: str, query: str) -> str:
        if self.replace:
            rest = path[len(self.prefix):] if self.prefix != "/" else path
            path = self.path + rest if rest.startswith("/") or not rest else f"{self.path}/{rest}"
            path = path or "/"
        return f"{self.origin}{path}?{query}" if query else f"{self.origin}{path}"

    def __repr__(self) -> str:
        return f"Route({self.prefix!r}, {self.url!r})"


RoutesLike = Union[Mapping[str, str], Iterable[Union[str, tuple[str, str], Route]]]


def parse_routes(routes: RoutesLike) -> list[Route]:
    """Routes from a mapping, ``(prefix, url)`` pairs or ``"PREFIX=URL"`` strings,
    longest prefix first (the order matching tries them)."""
    parsed: list[Route] = []
    items: Iterable[Any] = routes.items() if isinstance(routes, Mapping) else routes
    for item in items:
        if isinstance(item, Route):
            parsed.append(item)
        elif isinstance(item, str):
            prefix, sep, url = item.partition("=")
            if not sep:
                raise ValueError(f"route must be PREFIX=URL, got {item!r}")
            parsed.append(Route(prefix, url))
        else:
            prefix, url = item
            parsed.append(Route(prefix, url))
    if not parsed:
        raise ValueError("a reverse proxy needs at least one route")
    prefixes = [r.prefix for r in parsed]
    duplicates = {p for p in prefixes if prefixes.count(p) > 1}
    if duplicates:
        raise ValueError(f"route prefix given twice: {', '.join(sorted(duplicates))}")
    parsed.sort(key=lambda r: len(r.prefix), reverse=True)
    return parsed


def _split_target(environ: dict[str, Any]) -> tuple[str, str]:
    """The raw (still percent-encoded) path and query of the request."""
    target = environ.get("REQUEST_URI")
    if target is None:
        path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/%!$&'()*+,;=:@~-._")
        return path or "/", environ.get("QUERY_STRING", "")
    if not target.startswith("/"):
        parts = urlsplit(target)  # absolute-form sent to a reverse proxy: use its path
        return parts.path or "/", parts.query
    path, _, query = target.partition("?")
    return path, query


class ReverseProxy:
    """A WSGI app forwarding each request to the upstream of its longest matching prefix.

    ``ReverseProxy({"/api": "http://127.0.0.1:9000", "/": "http://127.0.0.1:9001"})``.
    Prefixes match whole path segments (``/api`` matches ``/api`` and ``/api/x``, not
    ``/apix``), on the raw path as received. No match: 404. ``on_response(response,
    environ)`` may change each :class:`ProxyResponse` before it is sent. The other
    keywords are :func:`proxy_request`'s.
    """

    def __init__(self, routes: RoutesLike, *, pool: Pool | None = None, timeout: Any = DEFAULT_TIMEOUT,
                 headers: HeaderOverrides = None, preserve_host: bool = False, forwarded: bool = True,
                 via: str | None = VIA,
                 on_response: Callable[[ProxyResponse, dict[str, Any]], Any] | None = None) -> None:
        self.routes = parse_routes(routes)
        self.pool = pool
        self.timeout = timeout
        self.headers = headers
        self.preserve_host = preserve_host
        self.forwarded = forwarded
        self.via = via
        self.on_response = on_response

    def route(self, path: str) -> Route | None:
        for route in self.routes:
            if route.matches(path):
                return route
        return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, query = _split_target(environ)
        route = self.route(path)
        if route is None:
            return _plain(404, "no route for this path")(environ, start_response)
        response = proxy_request(environ, route.upstream_url(path, query), pool=self.pool,
                                 timeout=self.timeout, headers=self.headers,
                                 preserve_host=self.preserve_host, forwarded=self.forwarded,
                                 via=self.via)
        if self.on_response is not None:
            try:
                self.on_response(response, environ)
            except BaseException:
                response.close()
                raise
        return response(environ, start_response)


# -- forward proxy --------------------------------------------------------------------------


def _split_host_port(authority: str) -> tuple[str, str]:
    if authority.startswith("["):
        host, sep, rest = authority[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad authority {authority!r}")
        return host, rest[1:]
    host, sep, port = authority.rpartition(":")
    if not sep:
        return authority, ""
    return host, port


class AllowList:
    """Destinations a forward proxy may reach: ``host:port`` entries.

    ``host`` is a name or address as the client gives it (compared case-insensitively),
    ``*.example.com`` (any subdomain), or ``*``; ``port`` is a number or ``*``.
    ``[::1]:8443`` for IPv6. Names are compared as given, not resolved: allow a name,
    and its address is not allowed with it.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries: list[tuple[str, int | None]] = []
        for entry in entries:
            host, port = _split_host_port(entry.strip())
            if not host or not port:
                raise ValueError(f"allow entry must be HOST:PORT (port may be *), got {entry!r}")
            if port == "*":
                number = None
            else:
                try:
                    number = int(port)
                except ValueError:
                    raise ValueError(f"bad port in allow entry {entry!r}") from None
                if not 0 < number < 65536:
                    raise ValueError(f"bad port in allow entry {entry!r}")
            self.entries.append((host.lower().rstrip("."), number))

    def __call__(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        for pattern, allowed_port in self.entries:
            if allowed_port is not None and allowed_port != port:
                continue
            if pattern == "*" or pattern == host:
                return True
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                return True
        return False

    def __repr__(self) -> str:
        return f"AllowList({[f'{h}:{p if p is not None else chr(42)}' for h, p in self.entries]!r})"


Credentials = Union[tuple[str, str], Callable[[str, str], bool], None]


class ForwardProxy:
    """An explicit forward proxy: ``GET http://host/path`` requests and ``CONNECT`` tunnels.

    ``allow`` is required: ``["example.com:443", "*.internal:*", "127.0.0.1:8080"]``
    (see :class:`AllowList`), or a callable ``allow(host, port) -> bool``; pass
    ``["*:*"]`` to allow every destination, deliberately. ``auth``: ``(user,
    password)`` or ``check(user, password) -> bool`` for basic Proxy-Authorization;
    without it (or a wrong one) the answer is 407 with ``Proxy-Authenticate``.
    Requests that are not proxy requests (origin-form) go to ``app`` if given, else 400.
    CONNECT tunnels need greenhttp's server (they take over its connection).
    """

    #: Tells greenhttp's server to pass CONNECT requests here (other apps get 405).
    greenhttp_connect = True

    def __init__(self, allow: Union[Iterable[str], Callable[[str, int], bool]], *,
                 auth: Credentials = None, realm: str = "greenhttp proxy", pool: Pool | None = None,
                 timeout: Any = DEFAULT_TIMEOUT, connect_timeout: float = 10.0,
                 tunnel_idle_timeout: float = 300.0, forwarded: bool = False,
                 via: str | None = VIA, app: Callable[..., Any] | None = None) -> None:
        if isinstance(allow, str):
            allow = [allow]
        self.allow: Callable[[str, int], bool] = allow if callable(allow) else AllowList(allow)
        self.auth = auth
        self.realm = realm
        self.pool = pool
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.tunnel_idle_timeout = tunnel_idle_timeout
        self.forwarded = forwarded
        self.via = via
        self.app = app

    # -- checks

    def authorized(self, environ: dict[str, Any]) -> bool:
        auth = self.auth
        if auth is None:
            return True
        value = environ.get("HTTP_PROXY_AUTHORIZATION", "")
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        if callable(auth):
            return bool(auth(user, password))
        # Constant-time comparisons, and both of them: no timing hint which one failed.
        ok_user = hmac.compare_digest(user.encode(), auth[0].encode())
        ok_password = hmac.compare_digest(password.encode(), auth[1].encode())
        return ok_user and ok_password

    def _refuse(self, environ: dict[str, Any], start_response: StartResponse, status: int,
                text: str) -> Iterable[bytes]:
        extra: list[tuple[str, str]] = []
        if status == 407:
            realm = self.realm.replace("\\", "\\\\").replace('"', '\\"')
            extra.append(("Proxy-Authenticate", f'Basic realm="{realm}", charset="UTF-8"'))
        if status == 403:
            logger.info("%s: refused: %s", _request_line(environ), text)
        return _plain(status, text, extra)(environ, start_response)

    # -- the app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        target = environ.get("REQUEST_URI", "")
        if method == "CONNECT":
            return self._connect(environ, start_response, target)
        lower = target[:8].lower()
        if not (lower.startswith("http://") or lower.startswith("https://")):
            if self.app is not None:
                return self.app(environ, start_response)
            return self._refuse(environ, start_response, 400,
                                "this is a forward proxy: send absolute-form requests or CONNECT")
        if not self.authorized(environ):
            return self._refuse(environ, start_response, 407, "proxy credentials required")
        try:
            parts = urlsplit(target)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            return self._refuse(environ, start_response, 400, "bad request target")
        if not host:
            return self._refuse(environ, start_response, 400, "no host in the request target")
        if not self.allow(host, port):
            return self._refuse(environ, start_response, 403, f"destination {host}:{port} is not allowed")
        response = proxy_request(environ, target, pool=self.pool, timeout=self.timeout,
                                 forwarded=self.forwarded, via=self.via)
        return response(environ, start_response)

    def _connect(self, environ: dict[str, Any], start_response: StartResponse,
                 target: str) -> Iterable[bytes]:
        if not self.authorized(environ):
            return self._refuse(environ, start_response, 407, "proxy credentials required")
        try:
            host, port_text = _split_host_port(target)
            port = int(port_text)
            if not host or not 0 < port < 65536:
                raise ValueError(target)
        except ValueError:
            # RFC 9110 §9.3.6: CONNECT's target is host and port, the port is required.
            return self._refuse(environ, start_response, 400, "CONNECT needs host:port")
        if not self.allow(host, port):
            return self._refuse(environ, start_response, 403, f"destination {host}:{port} is not allowed")
        conn = environ.get("greenhttp.connection")
        if conn is None:
            return self._refuse(environ, start_response, 400, "CONNECT needs greenhttp's server")
        log_as = _request_line(environ)
        try:
            upstream = _connect(host, port, self.connect_timeout).sock
        except (GreenHTTPError, OSError) as exc:
            status, text = _failure(exc)
            _log_failure(log_as, f"{host}:{port}", status, exc)
            return _plain(status, text, error=exc)(environ, start_response)
        started = time.perf_counter()
        sock, early = conn.detach()
        try:
            # RFC 9110 §9.3.6: any 2xx means the tunnel is up; it has no body, and
            # curl and browsers expect exactly this line.
            sock.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            up, down = pump(sock, upstream, early, self.tunnel_idle_timeout)
        except OSError:
            up = down = 0
        finally:
            sock.close()
            upstream.close()
        server = environ.get("greenhttp.server")
        if server is None or getattr(server, "access_log", True):
            access_logger.info(access_line(conn.client, "CONNECT", target.encode("latin-1"), "1.1",
                                           200, down, time.perf_counter() - started)
                               + f" tunnel up={up} down={down}")
        return []


def pump(client: Any, upstream: Any, early: bytes = b"", idle_timeout: float | None = 300.0,
         size: int = 65536) -> tuple[int, int]:
    """Copy bytes both ways until both directions end; returns (bytes up, bytes down).

    Each direction runs until EOF, then half-closes the other side (``SHUT_WR``), so a
    peer that finishes sending still gets its answer. ``idle_timeout`` ends a direction
    that sees no byte for that long. Memory: one ``size`` buffer per direction.
    """
    for sock in (client, upstream):
        sock.settimeout(idle_timeout)
    counts = [0, 0]

    def one_way(src: Any, dst: Any, index: int) -> None:
        try:
            while True:
                data = src.recv(size)
                if not data:
                    break
                dst.sendall(data)
                counts[index] += len(data)
        except (OSError, _stdlib_socket.timeout):
            pass  # reset, or idle too long: the tunnel ends either way
        finally:
            try:
                dst.shutdown(_stdlib_socket.SHUT_WR)
            except OSError:
                pass

    if early:
        upstream.sendall(early)
        counts[0] += len(early)
    back = gevent.spawn(one_way, upstream, client, 1)
    try:
        one_way(client, upstream, 0)
        back.join()
    finally:
        back.kill()
    return counts[0], counts[1]


__all__ = ["proxy_request", "ProxyResponse", "ReverseProxy", "ForwardProxy", "Route", "AllowList",
           "parse_routes", "strip_hop_by_hop", "forwarded_request_headers", "pump", "HOP_BY_HOP",
           "DEFAULT_TIMEOUT", "VIA"]
