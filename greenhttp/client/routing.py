"""Where a client request goes: URL parsing, proxy selection (arguments and
``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``), and the route a pooled connection is
keyed and opened by (direct, forward proxy, or CONNECT tunnel).

No I/O here: a route is data. ``exchange.open_route`` dials it (and runs the CONNECT
exchange of a tunnel) through the pool's connector."""

from __future__ import annotations

import base64
import functools
import os
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlencode, urlsplit

from ..errors import (
    InvalidURL,
    ProxyError,
)
from .transport import Stream, tls_context
from .._version import __version__

USER_AGENT = f"greenhttp/{__version__}"



# -- URLs ------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Bound of every cache in the client (parsed URLs, proxies, routes): lru_cache, one size.
_CACHE_SIZE = 512
# Characters left as they are in a request target: RFC 3986 reserved and unreserved,
# and "%" so that an already-encoded URL is not encoded twice.
_SAFE_TARGET = "!#$%&'()*+,/:;=?@[]~-._"


class _URL:
    __slots__ = ("scheme", "host", "port", "target", "username", "password")

    def __init__(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidURL(f"invalid URL {url!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise InvalidURL(f"unsupported URL scheme in {url!r} (http and https only)")
        host = parts.hostname
        if not host:
            raise InvalidURL(f"no host in URL {url!r}")
        try:
            host.encode("ascii")
        except UnicodeEncodeError:
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError as exc:
                raise InvalidURL(f"invalid host name in {url!r}: {exc}") from None
        self.scheme = scheme
        self.host = host
        self.port = port or _DEFAULT_PORTS[scheme]
        target = quote(parts.path or "/", safe=_SAFE_TARGET)
        if parts.query:
            target += "?" + quote(parts.query, safe=_SAFE_TARGET)
        self.target = target
        self.username = parts.username
        self.password = parts.password

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"


def _add_params(url: str, params: Any) -> str:
    if not params:
        return url
    query = params if isinstance(params, str) else urlencode(
        list(params.items()) if isinstance(params, Mapping) else list(params), doseq=True)
    base, hash_mark, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return base + joiner + query + hash_mark + fragment


# -- proxies ------------------------------------------------------------------------


class _Proxy:
    __slots__ = ("url", "authorization", "key")

    def __init__(self, url: str) -> None:
        if "://" not in url:
            url = "http://" + url  # HTTP_PROXY=host:3128 is common and curl accepts it
        parsed = _URL(url)
        if parsed.scheme != "http":
            raise ProxyError(f"only http:// proxies are supported, not {url!r}")
        self.url = parsed
        self.key = url
        self.authorization: str | None = None
        if parsed.username is not None:
            self.authorization = _basic_auth(parsed.username, parsed.password or "")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _proxy(url: str) -> _Proxy:
    return _Proxy(url)


# os.environ.get encodes the key and decodes the value on every call (~2 us, and a
# request asks up to seven times). On POSIX its backing dict of bytes is read
# directly: the same data, and os.environ writes (monkeypatch.setenv too) update it.
_environ_bytes: dict[bytes, bytes] | None = getattr(os.environ, "_data", None) if os.name == "posix" else None
_ENV_NAMES: dict[str, tuple[Any, Any]] = {}


def _env(name: str) -> str | None:
    # curl and requests prefer the lower-case name; both are honoured.
    if _environ_bytes is None:
        return os.environ.get(name.lower()) or os.environ.get(name.upper()) or None
    keys = _ENV_NAMES.get(name)
    if keys is None:
        keys = _ENV_NAMES[name] = (name.lower().encode(), name.upper().encode())
    value = _environ_bytes.get(keys[0]) or _environ_bytes.get(keys[1])
    return os.fsdecode(value) if value else None


def _no_proxy(host: str, port: int) -> bool:
    """True if NO_PROXY exempts ``host`` (curl's rules: suffix match, leading dot optional, ``*``)."""
    value = _env("no_proxy")
    if not value:
        return False
    host = host.lower()
    for entry in value.replace(" ", "").split(","):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.lower().lstrip(".").strip("[]")
        if host == name or host.endswith("." + name):
            return True
    return False


def _select_proxy(url: _URL, proxy: Any) -> _Proxy | None:
    """``proxy``: None (use the environment), False (none), a URL, or {scheme: URL}."""
    if proxy is False:
        return None
    if proxy is None:
        if _no_proxy(url.host, url.port):
            return None
        # HTTP_PROXY comes from the request in CGI (httpoxy): ignore it there, as requests does.
        if url.scheme == "http" and _env("request_method"):
            value = os.environ.get("http_proxy")
        else:
            value = _env(f"{url.scheme}_proxy")
        if not value:
            value = _env("all_proxy")
        return _proxy(value) if value else None
    if isinstance(proxy, Mapping):
        value = proxy.get(url.scheme) or proxy.get("all")
        return _proxy(value) if value else None
    return _proxy(str(proxy))


def _basic_auth(username: str, password: str) -> str:
    token = f"{username}:{password}".encode("utf-8")
    return "Basic " + base64.b64encode(token).decode("ascii")


class _Route:
    """Where a request's connection goes, and how it is opened and pooled."""

    __slots__ = ("key", "label", "poolable", "absolute_target", "proxy_authorization", "connector",
                 "address", "context", "server_hostname", "tunnel_to")
    #: What makes two connections interchangeable in the pool.
    key: tuple[Any, ...]

    def __init__(self, url: _URL, proxy: _Proxy | None, verify: bool | str,
                 cert: Any, connect: Callable[..., Stream]) -> None:
        self.connector = connect
        self.context: Any = None
        self.server_hostname: str | None = None
        #: (origin authority, proxy) for a CONNECT tunnel, else None.
        self.tunnel_to: tuple[str, _Proxy] | None = None
        self.absolute_target = False
        self.proxy_authorization: str | None = None
        self.poolable = True
        host, port = url.host, url.port
        if url.scheme == "https":
            context: Any = tls_context(verify, cert)
            self.context = context
            self.server_hostname = host
            if proxy is None:
                self.key = ("https", host, port, verify, cert)
                self.label = f"https://{url.authority}"
                self.address = (host, port)
            else:
                # A tunnel is the client's private pipe to one origin through one proxy;
                # it is never pooled (a CONNECT exchange per request, then closed).
                self.key = ("tunnel", host, port, proxy.url.host, proxy.url.port, verify, cert)
                self.label = f"https://{url.authority} via {proxy.url.authority}"
                self.poolable = False
                bracketed = f"[{host}]" if ":" in host else host
                self.tunnel_to = (f"{bracketed}:{port}", proxy)
                self.address = (proxy.url.host, proxy.url.port)
        elif proxy is None:
            self.key = ("http", host, port)
            self.label = f"http://{url.authority}"
            self.address = (host, port)
        else:
            # RFC 9112 §3.2.2: to a forward proxy, the target is the absolute URI.
            self.key = ("http-proxy", proxy.url.host, proxy.url.port, proxy.authorization)
            self.label = f"proxy http://{proxy.url.authority}"
            self.absolute_target = True
            self.proxy_authorization = proxy.authorization
            self.address = (proxy.url.host, proxy.url.port)


# Routes and parsed URLs are immutable once built; a client that talks to a few hosts
# should not pay urlsplit, quoting and TLS-context lookups on every request. Every
# cache here is a functools.lru_cache of the same bound: one kind of cache, bounded.
def _route_for(url: _URL, proxy: _Proxy | None, verify: bool | str, cert: Any,
               connect: Callable[..., Stream]) -> _Route:
    return _cached_route(url.scheme, url.host, url.port, proxy.key if proxy is not None else None,
                         verify, cert, connect)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_route(scheme: str, host: str, port: int, proxy_key: str | None, verify: bool | str,
                  cert: Any, connect: Callable[..., Stream]) -> _Route:
    bracketed = f"[{host}]" if ":" in host else host
    url = _parse_url(f"{scheme}://{bracketed}:{port}/")
    return _Route(url, _proxy(proxy_key) if proxy_key is not None else None, verify, cert, connect)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_url(url: str) -> _URL:
    return _URL(url)
