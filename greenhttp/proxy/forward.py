"""The explicit forward proxy: absolute-form requests and ``CONNECT`` tunnels, to the
destinations of an allow-list, optionally behind basic ``Proxy-Authorization``."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any, Callable, Iterable, Union
from urllib.parse import urlsplit

from ..client.pool import Pool
from ..settings import default
from .headers import VIA
from .request import DEFAULT_TIMEOUT, StartResponse, _plain, _request_line, logger, proxy_request
from .tunnel import tunnel

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

    #: Tells greenhttp's server that this app takes CONNECT; to any other app the
    #: server answers 405 itself (server/connection.py, RFC 9110 §15.5.6).
    greenhttp_connect = True

    def __init__(self, allow: Union[Iterable[str], Callable[[str, int], bool]], *,
                 auth: Credentials = None, realm: str = "greenhttp proxy", pool: Pool | None = None,
                 timeout: Any = DEFAULT_TIMEOUT,
                 connect_timeout: float = default("proxy_connect_timeout"),
                 tunnel_idle_timeout: float = default("proxy_tunnel_idle_timeout"), forwarded: bool = False,
                 via: str | None = VIA, app: Callable[..., Any] | None = None,
                 verify: bool | str = True, cert: Any = None) -> None:
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
        # For absolute-form https:// requests, where this proxy opens the TLS connection
        # itself (a CONNECT tunnel carries the client's own TLS, which we never see).
        self.verify = verify
        self.cert = cert

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
                                 forwarded=self.forwarded, via=self.via, verify=self.verify,
                                 cert=self.cert)
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
        return tunnel(environ, start_response, conn, host, port, self.connect_timeout,
                      self.tunnel_idle_timeout)
