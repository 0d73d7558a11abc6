"""Where a client request goes: URL parsing, proxy selection (arguments and
``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``), and the route a pooled connection is
keyed and opened by (direct, forward proxy, or CONNECT tunnel).

No I/O here: a route is data. ``exchange.open_route`` dials it (and runs the CONNECT
exchange of a tunnel) through the pool's connector."""

from __future__ import annotations

import base64
import functools
import ipaddress
import os
from typing import Any, Callable, Mapping, Union
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
    __slots__ = ("scheme", "host", "port", "target", "username", "password", "_text")

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
        self._text: str | None = None

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
        # Parsed URLs are cached and immutable once in use: the text is built once.
        text = self._text
        if text is None:
            text = self._text = f"{self.scheme}://{self.authority}{self.target}"
        return text


def _add_params(url: str, params: Any) -> str:
    if not params:
        return url
    query = params if isinstance(params, str) else urlencode(
        list(params.items()) if isinstance(params, Mapping) else list(params), doseq=True)
    base, hash_mark, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return base + joiner + query + hash_mark + fragment


# -- proxies ------------------------------------------------------------------------


#: Proxy URL schemes: an HTTP proxy spoken to in plain text or over TLS, or SOCKS
#: (``socks5h``/``socks4a``: the proxy resolves the host name, as curl's spelling says).
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")
SOCKS_PORT = 1080  # RFC 1928 §3


class _Proxy:
    __slots__ = ("url", "authorization", "key", "scheme")

    def __init__(self, url: str) -> None:
        if "://" not in url:
            url = "http://" + url  # HTTP_PROXY=host:3128 is common and curl accepts it
        scheme, _, rest = url.partition("://")
        scheme = scheme.lower()
        if scheme not in PROXY_SCHEMES:
            raise ProxyError(f"unsupported proxy scheme in {url!r} ({', '.join(PROXY_SCHEMES)})")
        parsed = _URL(("https" if scheme == "https" else "http") + "://" + rest)
        if scheme.startswith("socks") and urlsplit(url).port is None:
            parsed.port = SOCKS_PORT
        self.scheme = scheme
        self.url = parsed
        self.key = url
        self.authorization: str | None = None
        if parsed.username is not None and not scheme.startswith("socks"):
            self.authorization = _basic_auth(parsed.username, parsed.password or "")

    @property
    def socks(self) -> bool:
        return self.scheme.startswith("socks")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _proxy(url: str) -> _Proxy:
    return _Proxy(url)


# os.environ.get encodes the key and decodes the value on every call (~2 us, and a
# request asks up to seven times). On POSIX its backing dict of bytes is read
# directly: the same data, and os.environ writes (monkeypatch.setenv too) update it.
_environ_bytes: dict[bytes, bytes] | None = getattr(os.environ, "_data", None) if os.name == "posix" else None
_ENV_NAMES: dict[str, tuple[Any, Any]] = {}


# Every variable _select_proxy may read, both spellings (request_method matters only
# with http_proxy set).
_PROXY_VARIABLES = frozenset(spelling.encode() for name in ("no_proxy", "http_proxy", "https_proxy", "all_proxy")
                             for spelling in (name, name.upper()))


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
    """True if NO_PROXY exempts ``host``.

    Entries (comma-separated, as curl, requests and Go read them): ``*`` (everything);
    a host name matching itself and its subdomains, written ``example.com``,
    ``.example.com`` or ``*.example.com``; an IP address; a CIDR block (``10.0.0.0/8``,
    ``::1/128``) matching IP-literal hosts (names are not resolved for this, as in curl);
    any of them with ``:port`` (``[::1]:8080`` for IPv6).
    """
    value = _env("no_proxy")
    if not value:
        return False
    names, networks, everything = _no_proxy_entries(value)
    if everything:
        return True
    host = host.lower().strip("[]")
    try:
        address: Any = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for name, entry_port in names:
        if entry_port is not None and entry_port != port:
            continue
        # An IP address matches only itself (curl, Go): ".0.0.1" is no suffix of 127.0.0.1.
        if host == name or (address is None and host.endswith("." + name)):
            return True
    if networks and address is not None:
        for network, entry_port in networks:
            if (entry_port is None or entry_port == port) and address in network:
                return True
    return False


_Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@functools.lru_cache(maxsize=16)
def _no_proxy_entries(value: str) -> tuple[list[tuple[str, int | None]],
                                           list[tuple[_Network, int | None]], bool]:
    """NO_PROXY parsed once per distinct value: (names, networks, "*")."""
    names: list[tuple[str, int | None]] = []
    networks: list[tuple[_Network, int | None]] = []
    for entry in value.replace(" ", "").lower().split(","):
        if not entry:
            continue
        if entry == "*":
            return names, networks, True
        entry_port: int | None = None
        if entry.startswith("["):  # [::1]:8080 or [::1]
            address, _, rest = entry[1:].partition("]")
            entry, entry_port = address, int(rest[1:]) if rest[1:].isdigit() else None
        elif entry.count(":") == 1:  # host:port (more colons: a bare IPv6 address)
            entry, _, port_text = entry.partition(":")
            entry_port = int(port_text) if port_text.isdigit() else None
        if "/" in entry:
            try:
                networks.append((ipaddress.ip_network(entry, strict=False), entry_port))
            except ValueError:
                pass  # not a CIDR block: ignored, as curl does
            continue
        name = entry.removeprefix("*").lstrip(".")
        if name:
            names.append((name, entry_port))
    return names, networks, False


def _select_proxy(url: _URL, proxy: Any) -> _Proxy | None:
    """``proxy``: None (use the environment), False (none), a URL, or {scheme: URL}."""
    if proxy is False:
        return None
    if proxy is None:
        if _environ_bytes is not None and not (_environ_bytes.keys() & _PROXY_VARIABLES):
            return None  # no proxy variable set at all: one probe, not seven
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
                 "address", "context", "server_hostname", "tunnel_to", "proxy_context", "socks")
    #: What makes two connections interchangeable in the pool.
    key: tuple[Any, ...]

    def __init__(self, url: _URL, proxy: _Proxy | None, verify: bool | str,
                 cert: Any, connect: Callable[..., Stream],
                 proxy_verify: bool | str | None = None) -> None:
        self.connector = connect
        self.context: Any = None
        self.server_hostname: str | None = None
        #: (origin authority, proxy) for a CONNECT tunnel, else None.
        self.tunnel_to: tuple[str, _Proxy] | None = None
        self.absolute_target = False
        self.proxy_authorization: str | None = None
        self.poolable = True
        #: TLS to an https:// proxy itself (the origin's TLS, if any, runs inside it).
        self.proxy_context: Any = None
        #: (proxy, host, port) when the connection is dialled through SOCKS.
        self.socks: tuple[_Proxy, str, int] | None = None
        host, port = url.host, url.port
        if proxy is not None and proxy.socks:
            # A SOCKS connection is a plain pipe to the origin: pooled like a direct one.
            self.socks = (proxy, host, port)
            self.address = (proxy.url.host, proxy.url.port)
            self.key = (url.scheme, host, port, proxy.key, verify, cert)
            self.label = f"{url.scheme}://{url.authority} via {proxy.scheme}://{proxy.url.authority}"
            if url.scheme == "https":
                self.context = tls_context(verify, cert)
                self.server_hostname = host
            return
        if proxy_verify is None:
            proxy_verify = verify
        if proxy is not None and proxy.scheme == "https":
            # The proxy's certificate is checked like an origin's: with proxy_verify= when
            # given (curl's --proxy-cacert: a corporate proxy's private CA need not be
            # trusted for origins too), else the same verify=.
            self.proxy_context = tls_context(proxy_verify, None)
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
                self.key = ("tunnel", host, port, proxy.key, verify, cert, proxy_verify)
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
            self.key = ("http-proxy", proxy.key, proxy.authorization, proxy_verify)
            self.label = f"proxy {proxy.scheme}://{proxy.url.authority}"
            if self.proxy_context is not None:
                # Absolute-form over TLS to the proxy: the connection's own TLS is the proxy's.
                self.context, self.proxy_context = self.proxy_context, None
                self.server_hostname = proxy.url.host
            self.absolute_target = True
            self.proxy_authorization = proxy.authorization
            self.address = (proxy.url.host, proxy.url.port)


# Routes and parsed URLs are immutable once built; a client that talks to a few hosts
# should not pay urlsplit, quoting and TLS-context lookups on every request. Every
# cache here is a functools.lru_cache of the same bound: one kind of cache, bounded.
def _route_for(url: _URL, proxy: _Proxy | None, verify: bool | str, cert: Any,
               connect: Callable[..., Stream], proxy_verify: bool | str | None = None) -> _Route:
    return _cached_route(url.scheme, url.host, url.port, proxy.key if proxy is not None else None,
                         verify, cert, connect, proxy_verify)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _cached_route(scheme: str, host: str, port: int, proxy_key: str | None, verify: bool | str,
                  cert: Any, connect: Callable[..., Stream],
                  proxy_verify: bool | str | None = None) -> _Route:
    bracketed = f"[{host}]" if ":" in host else host
    url = _parse_url(f"{scheme}://{bracketed}:{port}/")
    return _Route(url, _proxy(proxy_key) if proxy_key is not None else None, verify, cert, connect,
                  proxy_verify)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_url(url: str) -> _URL:
    return _URL(url)
