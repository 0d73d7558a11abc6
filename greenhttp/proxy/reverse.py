"""The reverse proxy: path prefixes mapped to upstream URLs, nginx's ``proxy_pass`` rule."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Union
from urllib.parse import quote, urlsplit

from ..client.pool import Pool
from .headers import VIA, HeaderOverrides
from .request import DEFAULT_TIMEOUT, ProxyResponse, StartResponse, _plain, proxy_request

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
                 on_response: Callable[[ProxyResponse, dict[str, Any]], Any] | None = None,
                 verify: bool | str = True, cert: Any = None) -> None:
        self.routes = parse_routes(routes)
        self.pool = pool
        self.timeout = timeout
        self.headers = headers
        self.preserve_host = preserve_host
        self.forwarded = forwarded
        self.via = via
        self.on_response = on_response
        self.verify = verify
        self.cert = cert

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
                                 via=self.via, verify=self.verify, cert=self.cert)
        if self.on_response is not None:
            try:
                self.on_response(response, environ)
            except BaseException:
                response.close()
                raise
        return response(environ, start_response)

