"""The HTTP/1.1 client: ``request()`` and its shortcuts, ``Client`` sessions, ``Response``.

How a request flows
-------------------
1. ``Client.request`` resolves the URL (base URL, params), the proxy (argument or
   ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``), the body (``_Payload``: length,
   replayability, content type) and the headers, then runs the redirect loop.
2. ``_send`` checks a connection out of the pool for the request's *route* (direct,
   forward proxy, or CONNECT tunnel) and runs one ``_Exchange`` on it: head (and a
   small body) in one write, optional ``Expect: 100-continue``, the body streamed,
   then events from :class:`ClientProtocol` until the response head.
3. The response body is a :class:`Body` whose ``pull`` reads the connection. The
   connection goes back to the pool when the body ends, when ``close()`` drains it
   (up to a bound, else the connection is closed), or, for a response dropped
   unread, from a ``weakref.finalize``. Every failure path releases in ``finally``
   or ``except BaseException``: a ``gevent.Timeout`` or ``GreenletExit`` never leaks
   a slot.

Retries: see ``exchange.perform``.

Foreign exceptions are mapped in ``transport`` only; this module sees greenhttp's.
"""

from __future__ import annotations

import time
import weakref
from datetime import timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence, Union
from urllib.parse import urljoin

import gevent.pool

from ..body import Body
from .cookies import CookieJar
from ..errors import LocalProtocolError, TooManyRedirects
from ..headers import Headers
from ..protocol.fields import CONNECTION_FIELDS, FRAMING_FIELDS
from .habits import reject_keywords
from .auth import Auth, BasicAuth, as_auth, netrc_auth
from .decoding import ACCEPT_ENCODING, decode_all, decoders_for, decoding_pull
from .exchange import EXPECT_THRESHOLD, perform
from .payload import _Payload
from .pool import Pool, default_pool
from .request import Request
from .response import Response
from .routing import (
    USER_AGENT,
    _URL,
    _add_params,
    _parse_url,
    _Route,
    _route_for,
    _select_proxy,
)
from .timeouts import _as_timeout, _Timer



# -- the client ------------------------------------------------------------------------

HeadersArg = Union[Headers, Mapping[str, str], Sequence[tuple[str, str]], None]
Progress = Callable[[int, Union[int, None]], Any]
# Framing is the client's business: these request headers are computed, never copied.
_FRAMING = FRAMING_FIELDS | CONNECTION_FIELDS


def _header_items(headers: HeadersArg) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Headers):
        return headers.items()
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


class _Call:
    """One call's settings: the call's own keywords, else the session's."""

    __slots__ = ("timer", "pool", "proxy", "verify", "cert", "stream", "progress",
                 "download_progress", "expect_continue", "decode_content", "jar", "extra_cookies")

    def __init__(self, client: "Client", timeout: Any, pool: Pool | None, proxy: Any,
                 verify: bool | str | None, cert: Any, stream: bool, progress: Progress | None,
                 download_progress: Progress | None, expect_continue: bool | None,
                 decode_content: bool | None) -> None:
        self.timer = _Timer(_as_timeout(client.timeout if timeout is ... else timeout))
        self.pool = pool or client.pool or default_pool()
        self.proxy = client.proxy if proxy is ... else proxy
        self.verify = client.verify if verify is None else verify
        self.cert = client.cert if cert is ... else cert
        self.stream = stream
        self.progress = progress
        self.download_progress = download_progress
        self.expect_continue = expect_continue
        self.decode_content = client.decode_content if decode_content is None else decode_content
        self.jar: CookieJar | None = None
        self.extra_cookies: tuple[str, str] | None = None


def _cookie_pairs(cookies: Any) -> dict[str, str]:
    if isinstance(cookies, CookieJar):
        return dict(iter(cookies))
    pairs = cookies.items() if isinstance(cookies, Mapping) else cookies
    return {str(name): str(value) for name, value in pairs}


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


class Client:
    """A session: base URL, default headers, a cookie jar, and a pool (the shared one by default).

    ``Client(base_url="http://api/v1/")`` then ``client.get("items")`` fetches
    ``http://api/v1/items``; an absolute URL is used as given. Every keyword that
    ``request()`` takes can be given here as the session default.
    """

    def __init__(self, base_url: str | None = None, *, headers: HeadersArg = None,
                 pool: Pool | None = None, cookies: Any = True, timeout: Any = ...,
                 follow_redirects: bool = True, max_redirects: int = 5, proxy: Any = None,
                 verify: bool | str = True, cert: Any = None, auth: Any = None,
                 decode_content: bool = True, trust_env: bool = True) -> None:
        self.base_url = base_url
        self.headers = Headers(_header_items(headers))
        self.pool = pool
        # cookies: True (a fresh jar), False (none kept between calls), a jar, or a
        # dict: a fresh jar, and these sent to every host (requests' session.cookies).
        self.cookies: CookieJar | None = None
        self.default_cookies: dict[str, str] = {}
        if isinstance(cookies, CookieJar):
            self.cookies = cookies
        elif cookies:
            self.cookies = CookieJar()
            if cookies is not True:
                self.default_cookies = _cookie_pairs(cookies)
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.proxy = proxy
        self.verify = verify
        self.cert = cert
        self.auth = as_auth(auth)
        self.decode_content = decode_content
        #: read ``.netrc`` (and, as always, the proxy variables) from the environment.
        self.trust_env = trust_env

    def _resolve(self, url: str) -> str:
        base = self.base_url
        if not base or "://" in url:
            return url
        if not url:
            return base
        # httpx's rule: the base URL's path is a prefix, "/items" does not replace it.
        return base.rstrip("/") + "/" + url.lstrip("/")

    def request(self, method: str, url: str, *, params: Any = None, headers: HeadersArg = None,
                body: Any = None, json: Any = ..., msgpack: Any = ..., form: Any = None,
                files: Any = None, auth: Any = None, cookies: Any = None, timeout: Any = ...,
                follow_redirects: bool | None = None, max_redirects: int | None = None,
                stream: bool = False, pool: Pool | None = None, proxy: Any = ...,
                progress: Progress | None = None, download_progress: Progress | None = None,
                verify: bool | str | None = None, cert: Any = ...,
                expect_continue: bool | None = None, decode_content: bool | None = None,
                **unknown: Any) -> Response:
        """Send one request (following redirects) and return its :class:`Response`.

        ``body``: bytes, str, a file, an iterable or generator of bytes, or a
        :class:`Body`; or ``json=``, ``msgpack=``, ``form=`` (urlencoded, or multipart
        with ``files=``). ``auth``: ``(user, password)`` (Basic), a
        :class:`~greenhttp.Auth` such as :class:`~greenhttp.DigestAuth`, or a callable
        that gets and returns the :class:`~greenhttp.Request`; without it, ``.netrc``
        is consulted (``Client(trust_env=False)`` turns that off). ``cookies``: a dict
        or :class:`CookieJar` sent with this call (set cookies are kept for the
        redirect chain). ``stream=True`` returns after the head; read
        ``response.body`` from any greenlet and ``close()`` it (or use ``with``).
        ``progress(sent, total)`` is called as the request body goes out,
        ``download_progress(received, total)`` as the response body comes in
        (``total`` is None when unknown). ``decode_content=False`` hands over the body
        as sent (gzip and all) and sends no ``Accept-Encoding`` of its own.
        """
        if unknown:
            reject_keywords(unknown)
        method = method.upper()
        options = _Call(self, timeout, pool, proxy, verify, cert, stream, progress, download_progress,
                        expect_continue, decode_content)
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        limit = self.max_redirects if max_redirects is None else max_redirects
        payload = _Payload.prepare(body, json, msgpack, form, files)
        url = _add_params(self._resolve(url), params)

        items = self.headers.items() + _header_items(headers) if len(self.headers) else _header_items(headers)
        history: list[Response] = []
        current = _parse_url(url)
        first_origin = current.origin
        # Module-level calls keep no jar between calls, but one call's redirect chain does.
        options.jar = self.cookies if self.cookies is not None else CookieJar()
        if cookies or self.default_cookies:
            # Sent as given, to the first host only (and not stored): the call's own cookies.
            extra = {**self.default_cookies, **(_cookie_pairs(cookies) if cookies else {})}
            options.extra_cookies = (current.host, "; ".join(f"{k}={v}" for k, v in extra.items()))
        flow_auth = as_auth(auth if auth is not None else self.auth)
        if flow_auth is None and current.username is not None:
            flow_auth = BasicAuth(current.username, current.password or "")
        if flow_auth is None and self.trust_env:
            flow_auth = netrc_auth(current.host)
        while True:
            same_origin = current.origin == first_origin
            request = Request(method, str(current), Headers(items), payload)
            response = self._send_with_auth(request, flow_auth if same_origin else None,
                                            same_origin, options)
            response.history = history
            if not follow or not response.is_redirect:
                return response
            status = response.status
            if status in (307, 308) and payload is not None and not payload.rewind():
                return response  # the body is gone; the caller sees the redirect itself
            if len(history) >= limit:
                response.close()
                raise TooManyRedirects(f"more than {limit} redirects (last: {status} to "
                                       f"{response.headers.get('location')})")
            location = urljoin(str(current), response.headers["location"])
            response.close()
            history.append(response)
            if status == 303 or (status in (301, 302) and method != "HEAD"):
                # What every browser does, and RFC 9110 §15.4.2-4 allows: the body does not follow.
                if method != "HEAD":
                    method = "GET"
                payload = None
                items = [(k, v) for k, v in items if k.lower() not in ("content-type", "content-length")]
            current = _parse_url(location)

    def _send_with_auth(self, request: Request, auth: Auth | None, same_origin: bool,
                        options: "_Call") -> Response:
        if auth is None:
            return self._send(request, same_origin, options)
        flow = auth.auth_flow(request)
        request = next(flow)
        response = self._send(request, same_origin, options)
        while True:
            try:
                payload = request._payload
                if payload is not None and not payload.rewind():
                    return response  # the body cannot be sent again: the caller gets this answer
                next_request = flow.send(response)
            except StopIteration:
                return response
            response.close()
            request = next_request
            response = self._send(request, same_origin, options)

    def _send(self, request: Request, same_origin: bool, options: "_Call") -> Response:
        method = request.method
        url = _parse_url(request.url)
        payload = request._payload
        pool = options.pool
        route = _route_for(url, _select_proxy(url, options.proxy), options.verify, options.cert,
                           pool.connector)
        headers, chunked, expect = self._head_fields(method, url, request.headers.items(), payload,
                                                    same_origin, route, options)
        target = str(url) if route.absolute_target else url.target
        if payload is not None:
            length = payload.length
        else:
            # RFC 9112 §6.3: without Content-Length a POST's body length is unknown to
            # some servers (411); say 0. GET and friends send no framing at all.
            length = 0 if method in ("POST", "PUT", "PATCH") else None
        started = time.monotonic()
        head, exchange, data = perform(pool, route, options.timer, method, target, headers, payload,
                                       length, chunked, expect, options.progress)
        elapsed = time.monotonic() - started
        decoders = None
        if options.decode_content and method != "HEAD":
            for name, value in head.headers:
                if name.lower() == b"content-encoding":
                    decoders = decoders_for(value.decode("latin-1"))
        if data is not None and decoders and options.stream:
            # Small on the wire is not small decoded: stream the decoding all the same.
            chunks = iter((data,))
            pull: Callable[[], bytes | None] = decoding_pull(lambda: next(chunks, None), decoders)
            response = Response(method, str(url), head, Body(pull))
            self._received(response, request, url, elapsed, options)
            return response
        if data is not None:
            # The whole response came with its head (small bodies, HEAD, 204, 304).
            if decoders:
                data = decode_all(data, decoders)
            if options.download_progress is not None:
                options.download_progress(len(data), len(data))
            body = Body.from_bytes(data)
            response = Response(method, str(url), head, body)
            response._content = data
            if exchange.trailers:
                body.trailers = Headers.from_raw(exchange.trailers)
            self._received(response, request, url, elapsed, options)
            return response
        pull = exchange.pull
        if options.download_progress is not None:
            pull = _counting_pull(pull, options.download_progress, head.content_length)
        length = head.content_length
        if decoders:
            pull, length = decoding_pull(pull, decoders), None
        body = Body(pull, length, on_complete=exchange.body_complete)
        response = Response(method, str(url), head, body, exchange)
        self._received(response, request, url, elapsed, options)
        if options.stream:
            # A response dropped unread must not hold its slot until the process ends.
            weakref.finalize(response, exchange.abandon)
            return response
        try:
            response._content = body.read()
        finally:
            exchange.release(False)  # no-op when the body completed and released already
        response.body = Body.from_bytes(response._content)
        response._exchange = None
        return response

    @staticmethod
    def _received(response: Response, request: Request, url: _URL, elapsed: float,
                  options: "_Call") -> None:
        response.request = request
        response.elapsed = timedelta(seconds=elapsed)
        if options.jar is not None and response._has_header(b"set-cookie"):
            options.jar.extract(url, response.headers)

    def _head_fields(self, method: str, url: _URL, items: list[tuple[str, str]],
                     payload: _Payload | None, same_origin: bool, route: _Route,
                     options: "_Call") -> tuple[list[tuple[str, str]], bool, bool]:
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
        if options.jar is not None:
            jar_cookies = options.jar.header_for(url)
            extra = options.extra_cookies
            if extra is not None and extra[0] == url.host and same_origin:
                jar_cookies = f"{extra[1]}; {jar_cookies}" if jar_cookies else extra[1]
            if jar_cookies:
                existing = fields.get("cookie")
                value = f"{existing[1]}; {jar_cookies}" if existing else jar_cookies
                fields["cookie"] = ("Cookie", value)
        if route.proxy_authorization:
            fields["proxy-authorization"] = ("Proxy-Authorization", route.proxy_authorization)
        if payload is not None and payload.length is None and user_length is not None:
            payload.length = user_length  # a forwarded Body whose size the caller knows
        chunked = payload is not None and payload.length is None
        expect = False
        if payload is not None:
            if options.expect_continue is None:
                expect = payload.length is not None and payload.length >= EXPECT_THRESHOLD
            else:
                expect = options.expect_continue
        if expect:
            fields["expect"] = ("Expect", "100-continue")
        return list(fields.values()), chunked, expect

    # -- shortcuts

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Response:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Response:
        return self.request("OPTIONS", url, **kwargs)

    def fetch_all(self, requests: Iterable[Any], concurrency: int = 10,
                  **common: Any) -> list[Union[Response, Exception]]:
        """Send many requests, at most ``concurrency`` at a time, on gevent greenlets.

        Each item is a URL (GET), a ``(method, url)`` pair, a ``(method, url, kwargs)``
        triple, or a dict of ``request()`` keywords with ``method`` and ``url``.
        Returns each response, or the exception its request raised, in input order.
        """
        def one(item: Any) -> Union[Response, Exception]:
            try:
                if isinstance(item, str):
                    return self.request("GET", item, **common)
                if isinstance(item, Mapping):
                    kwargs = {**common, **item}
                    return self.request(kwargs.pop("method", "GET"), kwargs.pop("url"), **kwargs)
                method, url, *rest = item
                return self.request(method, url, **{**common, **(rest[0] if rest else {})})
            except Exception as exc:  # noqa: BLE001 - returned, not swallowed: the caller gets it
                return exc

        group = gevent.pool.Pool(max(1, concurrency))
        return list(group.imap(one, requests))

    def close(self) -> None:
        """Close the session's own pool (the shared default pool is left alone)."""
        if self.pool is not None:
            self.pool.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

