"""One hop: a :class:`Request` on the wire (or to a test transport) and its :class:`Response`.

``send(request, same_origin, call)`` computes the head fields (Host, framing, cookies,
``Accept-Encoding``, proxy credentials), runs one exchange on a pooled connection
(``exchange.perform``) or hands the request to ``Client(transport=...)``, and wraps
the response body in the decoders its ``Content-Encoding`` asks for. Redirects, auth
flows, retries and hooks are the session's loop around this (``session.py``).
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Mapping  # not typing's: its isinstance is ~10x slower
from typing import TYPE_CHECKING, Any, Callable, Sequence, Union

from ..body import Body
from ..errors import LocalProtocolError
from ..headers import Headers
from ..protocol.fields import CONNECTION_FIELDS, FRAMING_FIELDS
from .cookies import CookieJar
from .decoding import ACCEPT_ENCODING, decode_all, decoders_for, decoding_pull
from .exchange import EXPECT_THRESHOLD, perform
from .payload import _Payload
from .pool import Pool, default_pool
from .request import Request
from .response import Response
from .retry import Retry
from .routing import _CACHE_SIZE, USER_AGENT, _URL, _parse_url, _Route, _route_for, _select_proxy
from .timeouts import _as_timeout, _Timer

if TYPE_CHECKING:
    from .session import Client
    from .transports import Transport

HeadersArg = Union[Headers, Mapping[str, str], Sequence[tuple[str, str]], None]
Progress = Callable[[int, Union[int, None]], Any]
Hook = Callable[[Any], Any]
# Framing is the client's business: these request headers are computed, never copied.
_FRAMING = FRAMING_FIELDS | CONNECTION_FIELDS


def header_items(headers: HeadersArg) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Headers):
        return headers.items()
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def cookie_pairs(cookies: Any) -> dict[str, str]:
    if isinstance(cookies, CookieJar):
        return dict(iter(cookies))
    pairs = cookies.items() if isinstance(cookies, Mapping) else cookies
    return {str(name): str(value) for name, value in pairs}


class Call:
    """One call's settings: the call's own keywords, else the session's."""

    __slots__ = ("timer", "pool", "proxy", "verify", "proxy_verify", "cert", "stream", "progress",
                 "download_progress", "expect_continue", "decode_content", "jar", "extra_cookies",
                 "retry", "request_hooks", "response_hooks", "transport")

    def __init__(self, client: "Client", timeout: Any, pool: Pool | None, proxy: Any,
                 verify: bool | str | None, cert: Any, stream: bool, progress: Progress | None,
                 download_progress: Progress | None, expect_continue: bool | None,
                 decode_content: bool | None, proxy_verify: bool | str | None = None) -> None:
        self.timer = _Timer(_as_timeout(client.timeout if timeout is ... else timeout))
        self.pool = pool or client.pool or default_pool()
        self.proxy = client.proxy if proxy is ... else proxy
        self.verify = client.verify if verify is None else verify
        #: None: an https:// proxy's certificate is checked with ``verify``.
        self.proxy_verify = client.proxy_verify if proxy_verify is None else proxy_verify
        self.cert = client.cert if cert is ... else cert
        self.stream = stream
        self.progress = progress
        self.download_progress = download_progress
        self.expect_continue = expect_continue
        self.decode_content = client.decode_content if decode_content is None else decode_content
        self.jar: CookieJar | None = None
        self.extra_cookies: tuple[str, str] | None = None
        self.retry: Retry | None = client.retries
        self.request_hooks: Sequence[Hook] = ()
        self.response_hooks: Sequence[Hook] = ()
        self.transport: Transport | None = client.transport


def _counting_pull(pull: Callable[[], bytes | None], progress: Progress,
                   total: int | None) -> Callable[[], bytes | None]:
    received = 0

    def counted() -> bytes | None:
        nonlocal received
        data = pull()
        if data:
            received += len(data)
            progress(received, total)
        return data

    return counted


def send(request: Request, same_origin: bool, options: Call) -> Response:
    """Send ``request`` once (no redirects, auth or retries) and return its response."""
    method = request.method
    url = _parse_url(request.url)
    payload = request._payload
    pool = options.pool
    transport = options.transport
    route = None if transport is not None else _route_for(
        url, _select_proxy(url, options.proxy), options.verify, options.cert, pool.connector,
        options.proxy_verify)
    headers, chunked, expect = head_fields(method, url, request._header_items(), payload,
                                           same_origin, route, options)
    length = _length(method, payload)
    started = time.monotonic()
    if transport is not None:
        head, exchange, data = transport.handle(method, url, headers, payload, length, chunked)
    else:
        assert route is not None
        target = str(url) if route.absolute_target else url.target
        head, exchange, data = perform(pool, route, options.timer, method, target, headers, payload,
                                       length, chunked, expect, options.progress)
    elapsed = time.monotonic() - started
    # The two fields the client acts on, noted by the parser as it went. Decoding stays
    # lazy: no decoder exists until a Content-Encoding arrives.
    decoders = None
    set_cookie = head.sets_cookie
    coding = head.content_encoding
    if coding is not None and options.decode_content and method != "HEAD":
        decoders = decoders_for(coding.decode("latin-1"))
    if data is not None and decoders and options.stream:
        # Small on the wire is not small decoded: stream the decoding all the same.
        chunks = iter((data,))
        pull: Callable[[], bytes | None] = decoding_pull(lambda: next(chunks, None), decoders)
        response = Response(method, str(url), head, Body(pull))
        _received(response, request, url, elapsed, options, set_cookie)
        return response
    if data is not None:
        # The whole response came with its head (small bodies, HEAD, 204, 304): no Body
        # object unless someone asks for one (Response.body).
        if decoders:
            data = decode_all(data, decoders)
        if options.download_progress is not None:
            options.download_progress(len(data), len(data))
        response = _response(method, str(url), head, exchange, data, exchange.pull, None, False)
        _received(response, request, url, elapsed, options, set_cookie)
        return response
    pull = exchange.pull
    if options.download_progress is not None:
        pull = _counting_pull(pull, options.download_progress, head.content_length)
    length = head.content_length
    if decoders:
        pull, length = decoding_pull(pull, decoders), None
    response = _response(method, str(url), head, exchange, None, pull, length, options.stream)
    _received(response, request, url, elapsed, options, set_cookie)
    if options.stream:
        return response
    body = response.body
    try:
        response._content = body.read()
    finally:
        exchange.release(False)  # no-op when the body completed and released already
    trailers = body.trailers
    response._body = None  # rebuilt over the bytes on first use
    if trailers is not None:
        response.body.trailers = trailers
    response._exchange = None
    return response


def _response(method: str, url: str, head: Any, exchange: Any, data: bytes | None,
              pull: Callable[[], bytes | None], length: int | None, stream: bool) -> Response:
    """The :class:`Response` around one exchange: ``data`` when the body came whole with
    its head, else a :class:`Body` over ``pull`` that releases the connection when read
    to its end (and, ``stream``, aborts the exchange when dropped unread)."""
    if data is not None:
        response = Response(method, url, head, None, content=data)
        if exchange.trailers:
            response.body.trailers = Headers.from_raw(exchange.trailers)
        return response
    body = Body(pull, length, on_complete=exchange.body_complete)
    response = Response(method, url, head, body, exchange)
    if stream:
        # A response dropped unread must not hold its slot until the process ends.
        weakref.finalize(response, exchange.abandon)
    return response


def forward(method: str, url: str, fields: list[tuple[str, str]], body: Body | None, *,
            pool: Pool | None = None, timeout: Any = ..., verify: bool | str = True,
            cert: Any = None) -> Response:
    """One request on a proxy's behalf: the fields as the proxy built them, the body as it
    arrives, the response streaming (the proxy's upstream hop, ``greenhttp.proxy``).

    ``fields`` go upstream as given, so they must hold ``Host`` (RFC 9112 §3.2) and no
    hop-by-hop or framing fields: the framing is computed from ``body`` (its length, else
    chunked; ``Expect: 100-continue`` from :data:`EXPECT_THRESHOLD`, as for any request).
    None of ``Client.request``'s user-agent conveniences apply: no default User-Agent,
    Accept or Accept-Encoding fields (a proxy adds none: nginx's ``proxy_pass`` neither),
    no redirects, cookies, auth, decoding or hooks. The one retry of a stale keep-alive
    connection does apply (``exchange.perform``), for a body that was never read.
    """
    parsed = _parse_url(url)
    pool = pool or default_pool()
    route = _route_for(parsed, None, verify, cert, pool.connector, None)
    timer = _Timer(_as_timeout(timeout))
    payload = None if body is None else _Payload.prepare(body)
    length = _length(method, payload)
    expect = _expects_continue(payload, None)
    if expect:
        fields = [*fields, ("Expect", "100-continue")]
    started = time.monotonic()
    target = str(parsed) if route.absolute_target else parsed.target
    head, exchange, data = perform(pool, route, timer, method, target, fields, payload,
                                   length, payload is not None and length is None, expect, None)
    response = _response(method, url, head, exchange, data, exchange.pull, head.content_length, True)
    response._elapsed = time.monotonic() - started
    return response


def _length(method: str, payload: _Payload | None) -> int | None:
    """The Content-Length to send: the payload's (None: chunked), or for no body at all 0
    where the method implies one. RFC 9112 §6.3: without Content-Length a POST's body
    length is unknown to some servers (411); GET and friends send no framing at all."""
    if payload is not None:
        return payload.length
    return 0 if method in ("POST", "PUT", "PATCH") else None


def _expects_continue(payload: _Payload | None, setting: bool | None) -> bool:
    """Whether to send ``Expect: 100-continue``: as ``setting`` says, or (None) for a body
    of EXPECT_THRESHOLD bytes or more."""
    if payload is None:
        return False
    if setting is None:
        return payload.length is not None and payload.length >= EXPECT_THRESHOLD
    return setting


def _received(response: Response, request: Request, url: _URL, elapsed: float,
              options: Call, set_cookie: bool) -> None:
    response.request = request
    response._elapsed = elapsed
    if set_cookie:
        if options.jar is None:
            options.jar = CookieJar()  # this call's own, for the rest of its redirect chain
        options.jar.extract(url, response.headers)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _plain_fields(authority: str, decode_content: bool) -> tuple[tuple[str, str], ...]:
    fields = [("Host", authority), ("User-Agent", USER_AGENT), ("Accept", "*/*")]
    if decode_content:
        fields.append(("Accept-Encoding", ACCEPT_ENCODING))
    return tuple(fields)


def head_fields(method: str, url: _URL, items: list[tuple[str, str]], payload: _Payload | None,
                same_origin: bool, route: _Route | None, options: Call
                ) -> tuple[list[tuple[str, str]], bool, bool]:
    if (not items and payload is None and options.jar is None and options.extra_cookies is None
            and (route is None or route.proxy_authorization is None)):
        # The common GET: no fields of the caller's, no body, no cookies. The same few
        # fields as below, computed once per authority.
        return list(_plain_fields(url.authority, options.decode_content)), False, False
    fields: dict[str, tuple[str, str]] = {
        "host": ("Host", url.authority),
        "user-agent": ("User-Agent", USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    if options.decode_content:
        fields["accept-encoding"] = ("Accept-Encoding", ACCEPT_ENCODING)
    user_length: int | None = None
    for name, value in items:
        lname = name.lower()
        if lname in _FRAMING:
            if lname == "content-length" and payload is not None and payload.length is None:
                try:
                    user_length = int(value)
                except ValueError:
                    raise LocalProtocolError(f"invalid Content-Length {value!r}") from None
            continue
        if not same_origin and lname in ("authorization", "cookie"):
            continue  # credentials do not follow a redirect to another origin
        fields[lname] = (name, value)
    if payload is not None and payload.content_type and "content-type" not in fields:
        fields["content-type"] = ("Content-Type", payload.content_type)
    jar, extra = options.jar, options.extra_cookies
    if jar is not None or extra is not None:
        jar_cookies = jar.header_for(url) if jar is not None else ""
        if extra is not None and extra[0] == url.host and same_origin:
            jar_cookies = f"{extra[1]}; {jar_cookies}" if jar_cookies else extra[1]
        if jar_cookies:
            existing = fields.get("cookie")
            value = f"{existing[1]}; {jar_cookies}" if existing else jar_cookies
            fields["cookie"] = ("Cookie", value)
    if route is not None and route.proxy_authorization:
        fields["proxy-authorization"] = ("Proxy-Authorization", route.proxy_authorization)
    if payload is not None and payload.length is None and user_length is not None:
        payload.length = user_length  # a forwarded Body whose size the caller knows
    chunked = payload is not None and payload.length is None
    expect = route is not None and _expects_continue(payload, options.expect_continue)
    if expect:
        fields["expect"] = ("Expect", "100-continue")
    return list(fields.values()), chunked, expect
