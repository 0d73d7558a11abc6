"""The HTTP/1.1 client: ``request()`` and its shortcuts, ``Client`` sessions, ``Response``.

How a request flows
-------------------
1. ``Client.request`` resolves the URL (base URL, params), the proxy (argument or
   ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``), the body (``_Payload``: length,
   replayability, content type) and the headers, then runs the redirect loop; each
   hop runs the auth flow, and each request the flow yields goes through ``_send``:
   request hooks, the retry policy (``retry.send_with_retries``), response hooks.
2. ``send.send`` checks a connection out of the pool for the request's *route*
   (direct, forward proxy, or CONNECT tunnel) and runs one ``_Exchange`` on it: head
   (and a small body) in one write, optional ``Expect: 100-continue``, the body
   streamed, then events from :class:`ClientProtocol` until the response head (or
   hands the request to ``Client(transport=...)`` instead).
3. The response body is a :class:`Body` whose ``pull`` reads the connection. The
   connection goes back to the pool when the body ends, when ``close()`` drains it
   (up to a bound, else the connection is closed), or, for a response dropped
   unread, from a ``weakref.finalize``. Every failure path releases in ``finally``
   or ``except BaseException``: a ``gevent.Timeout`` or ``GreenletExit`` never leaks
   a slot.

Retries: the policy in ``retry.py``; the one silent retry of a stale keep-alive
connection is ``exchange.perform``'s.

Foreign exceptions are mapped in ``transport`` only; this module sees greenhttp's.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping  # not typing's: its isinstance is ~10x slower
from typing import TYPE_CHECKING, Any, Iterable, Union
from urllib.parse import urljoin

import gevent.pool

from .cookies import CookieJar
from ..errors import TooManyRedirects, UsageError
from ..headers import Headers
from .habits import reject_keywords
from .auth import Auth, BasicAuth, as_auth, netrc_auth
from .payload import _Payload
from .pool import Pool
from .request import Request
from .response import Response
from .retry import Retry, send_with_retries
from .routing import _add_params, _parse_url
from .send import Call, HeadersArg, Hook, Progress, cookie_pairs, header_items, send

if TYPE_CHECKING:
    from .transports import Transport


class Client:
    """A session: base URL, default headers, a cookie jar, and a pool (the shared one by default).

    ``Client(base_url="http://api/v1/")`` then ``client.get("items")`` fetches
    ``http://api/v1/items``; an absolute URL is used as given. Every keyword that
    ``request()`` takes can be given here as the session default.
    """

    def __init__(self, base_url: str | None = None, *, headers: HeadersArg = None,
                 pool: Pool | None = None, cookies: Any = True, timeout: Any = ...,
                 follow_redirects: bool = True, max_redirects: int = 5, proxy: Any = None,
                 verify: bool | str = True, proxy_verify: bool | str | None = None,
                 cert: Any = None, auth: Any = None,
                 decode_content: bool = True, trust_env: bool = True, retries: Any = None,
                 hooks: Mapping[str, Iterable[Hook]] | None = None,
                 transport: "Transport | None" = None) -> None:
        self.base_url = base_url
        self.headers = Headers(header_items(headers))
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
                self.default_cookies = cookie_pairs(cookies)
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        self.proxy = proxy
        self.verify = verify
        self.proxy_verify = proxy_verify
        self.cert = cert
        self.auth = as_auth(auth)
        self.decode_content = decode_content
        #: read ``.netrc`` (and, as always, the proxy variables) from the environment.
        self.trust_env = trust_env
        #: the retry policy of every call (a call's ``retries=`` replaces it).
        self.retries = Retry.from_value(retries)
        #: ``{"request": [...], "response": [...]}``: called for every request sent and
        #: every response received (redirects and auth rounds included); a call's own
        #: ``hooks=`` run after these.
        self.hooks: dict[str, list[Hook]] = _as_hooks(hooks)
        #: where requests go instead of the network: a ``MockTransport`` or ``WSGITransport``.
        self.transport = transport

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
                verify: bool | str | None = None, proxy_verify: bool | str | None = None,
                cert: Any = ..., expect_continue: bool | None = None,
                decode_content: bool | None = None,
                retries: Any = ..., hooks: Mapping[str, Iterable[Hook]] | None = None,
                compress: str | None = None, **unknown: Any) -> Response:
        """Send one request (following redirects) and return its :class:`Response`.

        Keywords (where a call leaves one out, the ``Client``'s default applies):

        - ``params``: a mapping, pairs or a string, appended to the query.
        - ``headers``: a mapping, pairs or :class:`~greenhttp.Headers`; framing headers
          are computed, not copied.
        - ``body``: bytes, str (UTF-8), a file, an iterable or generator of bytes, or a
          :class:`~greenhttp.Body`; or ``json=``, ``msgpack=``, ``form=`` (urlencoded,
          or multipart with ``files=``).
        - ``auth``: ``(user, password)`` (Basic), a :class:`~greenhttp.Auth` such as
          :class:`~greenhttp.DigestAuth`, or a callable that gets and returns the
          :class:`~greenhttp.Request`; without it, ``.netrc`` is read
          (``Client(trust_env=False)`` turns that off).
        - ``cookies``: a dict or :class:`~greenhttp.CookieJar` sent with this call (cookies
          set by the server are kept for the redirect chain).
        - ``timeout``: a :class:`~greenhttp.Timeout`, seconds, or None (no timeouts).
        - ``follow_redirects``, ``max_redirects``: default True and 5.
        - ``stream=True``: return after the head; read ``response.body`` from any
          greenlet and ``close()`` it (or use ``with``).
        - ``pool``: the :class:`~greenhttp.Pool` (default: the client's, else the shared one).
        - ``proxy``: None (the environment), False (none), a URL, or ``{scheme: URL}``.
        - ``progress(sent, total)``, ``download_progress(received, total)``: called as
          the request body goes out and the response body comes in (``total`` None
          when unknown).
        - ``verify``: True, a CA file or directory, or False; ``cert``: a client
          certificate (one PEM path, or ``(certfile, keyfile)``).
        - ``proxy_verify``: the same choices for an ``https://`` proxy's own certificate
          (curl's ``--proxy-cacert``/``--proxy-insecure``); None: ``verify``.
        - ``expect_continue``: None (automatic from 1 MiB), True, False.
        - ``decode_content=False``: the body as sent (gzip and all), no ``Accept-Encoding``.
        - ``retries``: a :class:`~greenhttp.Retry` or a number (None: only the one safe
          retry of a stale keep-alive connection).
        - ``hooks``: ``{"request": [f, ...], "response": [g, ...]}``, after the Client's.
        - ``compress``: ``"gzip"`` or ``"deflate"``: send the body content-coded.
        """
        if unknown:
            reject_keywords(unknown)
        method = method.upper()
        options = Call(self, timeout, pool, proxy, verify, cert, stream, progress, download_progress,
                       expect_continue, decode_content, proxy_verify)
        if retries is not ...:
            options.retry = Retry.from_value(retries)
        if hooks or self.hooks["request"] or self.hooks["response"]:
            merged = _as_hooks(hooks, self.hooks)
            options.request_hooks, options.response_hooks = merged["request"], merged["response"]
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        limit = self.max_redirects if max_redirects is None else max_redirects
        # The common small GET passes none of these: skip the calls that would find so.
        payload = None if (body is None and json is ... and msgpack is ... and form is None and not files) \
            else _Payload.prepare(body, json, msgpack, form, files)
        if self.base_url:
            url = self._resolve(url)
        if params:
            url = _add_params(url, params)

        items = header_items(headers) if headers is not None else []
        if len(self.headers):
            items = self.headers.items() + items
        if compress is not None and payload is not None:
            payload = payload.compressed(compress)
            items.append(("Content-Encoding", compress))
        history: list[Response] = []
        current = _parse_url(url)
        first_origin = current.origin
        # Module-level calls keep no jar between calls, but one call's redirect chain does:
        # send._received makes one when a response first sets a cookie.
        options.jar = self.cookies
        if cookies or self.default_cookies:
            # Sent as given, to the first host only (and not stored): the call's own cookies.
            extra = {**self.default_cookies, **(cookie_pairs(cookies) if cookies else {})}
            options.extra_cookies = (current.host, "; ".join(f"{k}={v}" for k, v in extra.items()))
        flow_auth = as_auth(auth if auth is not None else self.auth) if (auth is not None or self.auth is not None) \
            else None
        if flow_auth is None and current.username is not None:
            flow_auth = BasicAuth(current.username, current.password or "")
        if flow_auth is None and self.trust_env:
            flow_auth = netrc_auth(current.host)
        while True:
            same_origin = current.origin == first_origin
            request = Request(method, str(current), items, payload)
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
                items = [(k, v) for k, v in items
                         if k.lower() not in ("content-type", "content-length", "content-encoding")]
            current = _parse_url(location)

    def _send_with_auth(self, request: Request, auth: Auth | None, same_origin: bool,
                        options: Call) -> Response:
        if auth is None:
            return _send(request, same_origin, options)
        flow = auth.auth_flow(request)
        request = next(flow)
        response = _send(request, same_origin, options)
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
            response = _send(request, same_origin, options)

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



def _as_hooks(hooks: Mapping[str, Iterable[Hook]] | None,
              base: Mapping[str, list[Hook]] | None = None) -> dict[str, list[Hook]]:
    result: dict[str, list[Hook]] = {"request": list(base["request"]) if base else [],
                                     "response": list(base["response"]) if base else []}
    for event, functions in (hooks or {}).items():
        if event not in result:
            raise UsageError(f"hooks= takes 'request' and 'response' lists, not {event!r}")
        result[event] += [functions] if callable(functions) else list(functions)
    return result


def _send(request: Request, same_origin: bool, options: Call) -> Response:
    """One hop with its policy: request hooks, the retries of ``options.retry`` around
    ``send``, then response hooks (httpx's order: a hook that raises ends the call)."""
    for hook in options.request_hooks:
        hook(request)
    if options.retry is None:
        response = send(request, same_origin, options)
    else:
        response, options.retry = send_with_retries(options.retry, request, options.timer,
                                                    lambda: send(request, same_origin, options))
    for hook in options.response_hooks:
        try:
            hook(response)
        except BaseException:
            response.close()
            raise
    return response


def request_signature(*, bound: bool, method: bool) -> inspect.Signature:
    """``Client.request``'s signature as a shortcut shows it: with or without ``self`` and
    ``method``, without the ``**unknown`` that only exists to name requests' keywords."""
    signature = inspect.signature(Client.request)
    parameters = [p for name, p in signature.parameters.items()
                  if p.kind is not inspect.Parameter.VAR_KEYWORD
                  and (bound or name != "self") and (method or name != "method")]
    return signature.replace(parameters=parameters)


def _document(function: Any, verb: str | None, bound: bool) -> None:
    function.__signature__ = request_signature(bound=bound, method=verb is None)
    what = f"Send a {verb} request" if verb else "Send one request"
    function.__doc__ = f"{what}; the keywords are :meth:`Client.request`'s.\n\n" + (
        Client.request.__doc__ or "").split("\n", 1)[1]


setattr(Client.request, "__signature__", request_signature(bound=True, method=True))
for _verb in ("get", "post", "put", "patch", "delete", "head", "options"):
    _document(getattr(Client, _verb), _verb.upper(), bound=True)
