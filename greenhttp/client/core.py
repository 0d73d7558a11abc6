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

Retries: only one kind, and never a surprise. A request that fails on a *reused*
connection with the connection lost before any response byte arrived (the server
closed an idle keep-alive connection as we sent) is sent again once on a fresh
connection, if its body can be replayed and its method is idempotent (RFC 9110
§9.2.2) or it carries an ``Idempotency-Key``. Timeouts are never retried: the
server may be working on the request.

Foreign exceptions are mapped in ``_transport`` only; this module sees greenhttp's.
"""

from __future__ import annotations

import json as _json
import time
import weakref
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union
from urllib.parse import urljoin

import gevent.pool
import msgpack as _msgpack

from ..body import Body
from .cookies import CookieJar
from ..errors import (
    ConnectionLost,
    DecodeError,
    HTTPStatusError,
    IncompleteBody,
    LocalProtocolError,
    TimeoutError,
    TooManyRedirects,
)
from ..headers import Headers
from .payload import _FileRegion, _Payload
from .pool import Pool, PooledConnection, default_pool
from ..protocol.core import (
    LAST_CHUNK,
    NEED_DATA,
    Data,
    EndOfMessage,
    InformationalResponse,
    ResponseHead,
    chunk,
)
from .routing import (
    USER_AGENT,
    _URL,
    _add_params,
    _basic_auth,
    _parse_url,
    _Route,
    _route_for,
    _select_proxy,
)
from .timeouts import _as_timeout, _Timer
from .transport import READ_SIZE, SocketStream

# RFC 9110 §9.2.2: methods whose repetition has the same effect as one request.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# A body up to this size leaves in the same send as the head (one syscall, one packet
# train); larger ones are written in WRITE_SIZE slices so progress() can report.
SMALL_BODY = 65536
# Raw reads of Content-Length bodies: 1 MiB, so a 1 GiB download is 1024 recv calls.
RAW_READ_SIZE = 1024 * 1024
# Reading this much of an unwanted body off a warm connection is cheaper than a new
# TCP (and TLS) handshake; beyond it, closing is cheaper.
DRAIN_LIMIT = 262144
# curl sends "Expect: 100-continue" for uploads over 1 MiB and waits 1 s for the
# 100 before sending anyway (servers that predate 100-continue never answer).
EXPECT_THRESHOLD = 1024 * 1024
EXPECT_WAIT = 1.0


# -- one exchange on one connection ------------------------------------------------------


class _Exchange:
    """One request and its response on a checked-out connection; releases it exactly once."""

    __slots__ = ("pool", "conn", "timer", "received", "released", "must_close", "trailers",
                 "keep_alive", "body_length", "body_seen", "raw_remaining", "__weakref__")

    def __init__(self, pool: Pool, conn: PooledConnection, timer: _Timer) -> None:
        self.pool = pool
        self.conn = conn
        self.timer = timer
        self.received = 0
        self.released = False
        self.must_close = False
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.keep_alive = True
        #: Content-Length of a response body framed by it (not chunked, not close-delimited).
        self.body_length: int | None = None
        self.body_seen = 0
        #: body bytes still to read straight off the socket, once in raw mode.
        self.raw_remaining: int | None = None

    # -- reading

    def next_event(self) -> Any:
        protocol = self.conn.protocol
        while True:
            event = protocol.next_event()
            if event is not NEED_DATA:
                return event
            try:
                data = self.conn.stream.read(READ_SIZE, self.timer.read())
            except TimeoutError as exc:
                self.timer.expired(exc)
                raise
            if data:
                self.received += len(data)
                protocol.receive_data(data)
            elif self.received == 0:
                raise ConnectionLost("the server closed the connection without sending a response")
            else:
                protocol.receive_eof()

    def read_head(self) -> ResponseHead:
        while True:
            event = self.next_event()
            if isinstance(event, ResponseHead):
                return event
            # 1xx interim responses (103 Early Hints, an unasked-for 100): skip.

    def pull(self) -> bytes | None:
        """The response Body's pull: the next chunk, or None at the end.

        A Content-Length body, once the parser has handed over what it buffered, is
        read straight off the socket in 1 MiB reads: the bytes ``recv`` returns are the
        chunks, with no copy through llhttp's ``on_body``. That is what makes a 1 GiB
        download run at memory speed. The parser has then not seen the end of the
        message, which does not matter: the next request gets a fresh parser, and
        bytes past the body stay in the kernel for the stale probe to find.
        """
        try:
            if self.raw_remaining is not None:
                return self._pull_raw()
            protocol = self.conn.protocol
            event = protocol.next_event()
            if event is NEED_DATA:
                if self.body_length is not None:
                    self.raw_remaining = self.body_length - self.body_seen
                    return self._pull_raw()
                event = self.next_event()
        except BaseException:
            self.release(False)
            raise
        if type(event) is Data:
            self.body_seen += len(event.data)
            return event.data
        if isinstance(event, EndOfMessage):
            self.trailers = event.trailers
            return None
        return b""  # nothing else can follow a head; b"" makes Body ask again

    def _pull_raw(self) -> bytes | None:
        remaining = self.raw_remaining
        assert remaining is not None
        if remaining <= 0:
            return None
        try:
            data = self.conn.stream.read(RAW_READ_SIZE if remaining > RAW_READ_SIZE else remaining,
                                         self.timer.read())
        except TimeoutError as exc:
            self.timer.expired(exc)
            raise
        if not data:
            received = (self.body_length or 0) - remaining
            raise IncompleteBody(f"connection closed before the response body was complete "
                                 f"({received} of {self.body_length} bytes)")
        self.raw_remaining = remaining - len(data)
        return data

    def body_complete(self, body: Body) -> None:
        if self.trailers:
            body.trailers = Headers.from_raw(self.trailers)
        self.finish()

    def finish(self) -> None:
        """The response ended: back to the pool if the connection can carry another."""
        reusable = not self.must_close and self.keep_alive and not self.conn.protocol.unexpected_data
        self.release(reusable)

    # -- writing

    def send(self, head: bytes, payload: _Payload | None, chunked: bool, expect: bool,
             progress: Callable[[int, int | None], Any] | None) -> ResponseHead:
        stream = self.conn.stream
        try:
            if payload is None:
                stream.write(head, self.timer.write())
                return self.read_head()
            if payload.kind == "bytes" and payload.length is not None \
                    and payload.length <= SMALL_BODY and not expect:
                stream.write(head + bytes(payload.source), self.timer.write())
                if progress is not None:
                    progress(payload.length, payload.length)
                return self.read_head()
            stream.write(head, self.timer.write())
            if expect:
                early = self._wait_for_continue()
                if early is not None:
                    # RFC 9110 §10.1.1: a final answer instead of 100; the body was not
                    # sent, so the connection's framing is unknown to the server: close it.
                    self.must_close = True
                    return early
            self._send_body(payload, chunked, progress)
            return self.read_head()
        except TimeoutError as exc:
            self.timer.expired(exc)
            raise

    def _wait_for_continue(self) -> ResponseHead | None:
        protocol = self.conn.protocol
        wait = EXPECT_WAIT
        read_timeout = self.timer.read()
        if read_timeout is not None and read_timeout < wait:
            wait = read_timeout
        deadline = time.monotonic() + wait
        while True:
            event = protocol.next_event()
            if isinstance(event, InformationalResponse):
                if event.status == 100:
                    return None
                continue
            if isinstance(event, ResponseHead):
                return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                data = self.conn.stream.read(READ_SIZE, remaining)
            except TimeoutError:
                return None  # no 100 in time: send the body anyway, as curl does
            if not data:
                if self.received == 0:
                    raise ConnectionLost("the server closed the connection without sending a response")
                protocol.receive_eof()
                continue
            self.received += len(data)
            protocol.receive_data(data)

    def _send_body(self, payload: _Payload, chunked: bool,
                   progress: Callable[[int, int | None], Any] | None) -> None:
        stream = self.conn.stream
        use_sendfile = not chunked and isinstance(stream, SocketStream) and not stream.tls
        total = payload.length
        sent = 0
        for piece in payload.pieces(use_sendfile):
            if isinstance(piece, _FileRegion):
                assert isinstance(stream, SocketStream)  # pieces() yields regions only for it
                count = stream.sendfile(piece.file, piece.offset, piece.count, self.timer.write())
            else:
                count = len(piece)
                if not count:
                    continue
                stream.write(chunk(bytes(piece)) if chunked else piece, self.timer.write())
            sent += count
            if total is not None and sent > total:
                self.must_close = True
                raise LocalProtocolError(f"request body longer than its Content-Length {total}")
            if progress is not None:
                progress(sent, total)
        if chunked:
            stream.write(LAST_CHUNK, self.timer.write())
        elif total is not None and sent < total:
            self.must_close = True
            raise LocalProtocolError(f"request body shorter ({sent}) than its Content-Length {total}")

    # -- release

    def release(self, reusable: bool) -> None:
        if self.released:
            return
        self.released = True
        self.pool.checkin(self.conn, reusable)

    def close(self) -> None:
        """Done with the response: drain a small rest and reuse the connection, else close it."""
        if self.released:
            return
        try:
            drained = 0
            while drained <= DRAIN_LIMIT:
                data = self.pull()
                if data is None:
                    self.finish()
                    return
                drained += len(data)
        except Exception:
            pass  # a broken connection is closed below: the caller is done with it anyway
        finally:
            self.release(False)

    def abandon(self) -> None:
        """Close the connection with no further I/O and free the slot (``Response.abort``,
        or the Response was garbage-collected unread)."""
        self.release(False)


# -- responses ---------------------------------------------------------------------


class Response:
    """An HTTP response. ``body`` is a :class:`Body`; ``content``/``text``/``json()`` read it all.

    Use it as a context manager (or call ``close()``) with ``stream=True`` so the
    connection goes back to the pool as soon as you are done with it.
    """

    __slots__ = ("status", "reason", "http_version", "_raw_headers", "_headers", "body", "url",
                 "method", "history", "_content", "_exchange", "__weakref__")

    def __init__(self, method: str, url: str, head: ResponseHead, body: Body,
                 exchange: _Exchange | None = None) -> None:
        self.method = method
        self.url = url
        self.status = head.status
        self.reason = head.reason
        self.http_version = head.http_version
        # Decoded on first use: a caller that only wants the body skips the work.
        self._raw_headers = head.headers
        self._headers: Headers | None = None
        self.body = body
        self.history: list[Response] = []
        self._content: bytes | None = None
        self._exchange = exchange

    @property
    def headers(self) -> Headers:
        """Response header fields: case-insensitive, multi-valued, in arrival order."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers.from_raw(self._raw_headers)
        return headers

    def _has_header(self, lname: bytes) -> bool:
        return any(name.lower() == lname for name, _ in self._raw_headers)

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def is_redirect(self) -> bool:
        return self.status in REDIRECT_STATUSES and self._has_header(b"location")

    @property
    def is_buffered(self) -> bool:
        """True when the whole body is in memory and no connection is held: ``content``
        costs no I/O (small bodies that came with their head, or a non-streamed call)."""
        return self._exchange is None and self._content is not None

    @property
    def content(self) -> bytes:
        """The whole body (read on first use, then kept)."""
        if self._content is None:
            self._content = self.body.read()
        return self._content

    @property
    def encoding(self) -> str:
        content_type = self.headers.get("content-type") or ""
        for param in content_type.split(";")[1:]:
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"\' ')
        # RFC 8259 §8.1: JSON is UTF-8; so is most of everything else today.
        return "utf-8"

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding, "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return _json.loads(self.content)
        except ValueError as exc:
            raise DecodeError(f"response body is not valid JSON: {exc}") from exc

    def msgpack(self) -> Any:
        try:
            return _msgpack.unpackb(self.content, raw=False)
        except (ValueError, _msgpack.ExtraData, _msgpack.FormatError, _msgpack.StackError) as exc:
            raise DecodeError(f"response body is not valid msgpack: {exc}") from exc

    def raise_for_status(self) -> "Response":
        if self.status >= 400:
            kind = "client error" if self.status < 500 else "server error"
            raise HTTPStatusError(f"{self.status} {self.reason} ({kind}) for {self.method} {self.url}", self)
        return self

    def close(self) -> None:
        """Release the connection: an unread rest up to 256 KiB is drained, more closes it."""
        exchange = self._exchange
        if exchange is not None:
            self._exchange = None
            exchange.close()

    def abort(self) -> None:
        """Stop at once: close the connection without reading the rest, free its pool slot.

        For an endless or unwanted stream, where ``close()`` would try to drain it, and
        for a proxy whose own client went away.
        """
        exchange = self._exchange
        if exchange is not None:
            self._exchange = None
            exchange.abandon()

    def __enter__(self) -> "Response":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


# -- the client ------------------------------------------------------------------------

HeadersArg = Union[Headers, Mapping[str, str], Sequence[tuple[str, str]], None]
Progress = Callable[[int, Union[int, None]], Any]
# Framing is the client's business: these request headers are computed, never copied.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive",
                      "proxy-connection", "te", "upgrade"})


def _header_items(headers: HeadersArg) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Headers):
        return headers.items()
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


class Client:
    """A session: base URL, default headers, a cookie jar, and a pool (the shared one by default).

    ``Client(base_url="http://api/v1/")`` then ``client.get("items")`` fetches
    ``http://api/v1/items``; an absolute URL is used as given. Every keyword that
    ``request()`` takes can be given here as the session default.
    """

    def __init__(self, base_url: str | None = None, *, headers: HeadersArg = None,
                 pool: Pool | None = None, cookies: bool = True, timeout: Any = ...,
                 follow_redirects: bool = True, max_redirects: int = 5, proxy: Any = None,
                 verify: bool | str = True, cert: Any = None,
                 auth: tuple[str, str] | None = None) -> None:
        self.base_url = base_url
        self.headers = Headers(_header_items(headers))
        self.pool = pool
        self.cookies: CookieJar | None = CookieJar() if cookies else None
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.proxy = proxy
        self.verify = verify
        self.cert = cert
        self.auth = auth

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
                files: Any = None, auth: tuple[str, str] | None = None, timeout: Any = ...,
                follow_redirects: bool | None = None, max_redirects: int | None = None,
                stream: bool = False, pool: Pool | None = None, proxy: Any = ...,
                progress: Progress | None = None, verify: bool | str | None = None,
                cert: Any = ..., expect_continue: bool | None = None) -> Response:
        """Send one request (following redirects) and return its :class:`Response`.

        ``body``: bytes, str, a file, an iterable or generator of bytes, or a
        :class:`Body`; or ``json=``, ``msgpack=``, ``form=`` (urlencoded, or multipart
        with ``files=``). ``stream=True`` returns after the head; read ``response.body``
        from any greenlet and ``close()`` it (or use ``with``). ``progress(sent,
        total)`` is called as the request body goes out (``total`` is None when unknown).
        """
        method = method.upper()
        timer = _Timer(_as_timeout(self.timeout if timeout is ... else timeout))
        pool = pool or self.pool or default_pool()
        proxy = self.proxy if proxy is ... else proxy
        verify = self.verify if verify is None else verify
        cert = self.cert if cert is ... else cert
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        limit = self.max_redirects if max_redirects is None else max_redirects
        auth = auth if auth is not None else self.auth
        payload = _Payload.prepare(body, json, msgpack, form, files)
        url = _add_params(self._resolve(url), params)

        items = self.headers.items() + _header_items(headers) if len(self.headers) else _header_items(headers)
        history: list[Response] = []
        current = _parse_url(url)
        first_origin = current.origin
        if auth is None and current.username is not None:
            auth = (current.username, current.password or "")
        while True:
            same_origin = current.origin == first_origin
            response = self._send(method, current, items, payload, auth if same_origin else None,
                                  same_origin, timer, stream, pool, proxy, verify, cert, progress,
                                  expect_continue)
            response.history = history
            if self.cookies is not None and response._has_header(b"set-cookie"):
                self.cookies.extract(current, response.headers)
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

    def _send(self, method: str, url: _URL, items: list[tuple[str, str]], payload: _Payload | None,
              auth: tuple[str, str] | None, same_origin: bool, timer: _Timer, stream: bool,
              pool: Pool, proxy: Any, verify: bool | str, cert: Any, progress: Progress | None,
              expect_continue: bool | None) -> Response:
        route = _route_for(url, _select_proxy(url, proxy), verify, cert, pool.connector)
        opener = partial(route.open, timer)
        headers, chunked, expect = self._head_fields(method, url, items, payload, auth, same_origin,
                                                    route, expect_continue)
        target = str(url) if route.absolute_target else url.target
        if payload is not None:
            length = payload.length
        else:
            # RFC 9112 §6.3: without Content-Length a POST's body length is unknown to
            # some servers (411); say 0. GET and friends send no framing at all.
            length = 0 if method in ("POST", "PUT", "PATCH") else None
        retried = False
        while True:
            conn = pool.checkout(route.key, opener, timer.pool(), route.label,
                                 fresh=retried, poolable=route.poolable)
            exchange = _Exchange(pool, conn, timer)
            reused = conn.reused  # read before release(), which counts the request
            try:
                head_bytes = conn.protocol.request_head(method, target, headers, length, chunked)
                head = exchange.send(head_bytes, payload, chunked, expect, progress)
            except BaseException as exc:
                exchange.release(False)
                if (not retried and reused and exchange.received == 0
                        and isinstance(exc, ConnectionLost)
                        and (method in IDEMPOTENT_METHODS or any(k.lower() == "idempotency-key" for k, _ in headers))
                        and (payload is None or payload.rewind())):
                    retried = True
                    continue
                raise
            break
        exchange.keep_alive = head.keep_alive
        if head.content_length is not None and not head.chunked and method != "HEAD":
            exchange.body_length = head.content_length
        protocol = conn.protocol
        if protocol.response_complete:
            # The whole response came with its head (small bodies, HEAD, 204, 304): take
            # the body from the parsed events and free the connection before returning.
            data = b"".join(_drain_buffered(exchange))
            exchange.finish()
            body = Body.from_bytes(data)
            response = Response(method, str(url), head, body)
            response._content = data
            if exchange.trailers:
                body.trailers = Headers.from_raw(exchange.trailers)
            return response
        body = Body(exchange.pull, head.content_length, on_complete=exchange.body_complete)
        response = Response(method, str(url), head, body, exchange)
        if stream:
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

    def _head_fields(self, method: str, url: _URL, items: list[tuple[str, str]],
                     payload: _Payload | None, auth: tuple[str, str] | None, same_origin: bool,
                     route: _Route, expect_continue: bool | None
                     ) -> tuple[list[tuple[str, str]], bool, bool]:
        fields: dict[str, tuple[str, str]] = {
            "host": ("Host", url.authority),
            "user-agent": ("User-Agent", USER_AGENT),
            "accept": ("Accept", "*/*"),
        }
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
        if auth is not None:
            fields["authorization"] = ("Authorization", _basic_auth(*auth))
        if payload is not None and payload.content_type and "content-type" not in fields:
            fields["content-type"] = ("Content-Type", payload.content_type)
        if self.cookies is not None:
            jar_cookies = self.cookies.header_for(url)
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
            if expect_continue is None:
                expect = payload.length is not None and payload.length >= EXPECT_THRESHOLD
            else:
                expect = expect_continue
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


def _drain_buffered(exchange: _Exchange) -> Iterator[bytes]:
    """The body events already parsed, for a response that arrived whole with its head."""
    protocol = exchange.conn.protocol
    while True:
        event = protocol.next_event()
        if type(event) is Data:
            yield event.data
        elif isinstance(event, EndOfMessage):
            exchange.trailers = event.trailers
            return
        elif event is NEED_DATA:
            return


# -- module-level API ----------------------------------------------------------------------

# Module-level calls keep no cookies between unrelated requests: a session does that.
_default_client = Client(cookies=False)


def request(method: str, url: str, **kwargs: Any) -> Response:
    """Send one request with the shared pool. See :meth:`Client.request` for the keywords."""
    return _default_client.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> Response:
    return _default_client.request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> Response:
    return _default_client.request("POST", url, **kwargs)


def put(url: str, **kwargs: Any) -> Response:
    return _default_client.request("PUT", url, **kwargs)


def patch(url: str, **kwargs: Any) -> Response:
    return _default_client.request("PATCH", url, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    return _default_client.request("DELETE", url, **kwargs)


def head(url: str, **kwargs: Any) -> Response:
    return _default_client.request("HEAD", url, **kwargs)


def options(url: str, **kwargs: Any) -> Response:
    return _default_client.request("OPTIONS", url, **kwargs)


def fetch_all(requests: Iterable[Any], concurrency: int = 10, **common: Any) -> list[Union[Response, Exception]]:
    """``Client.fetch_all`` on the shared pool: responses or exceptions, in input order."""
    return _default_client.fetch_all(requests, concurrency, **common)
