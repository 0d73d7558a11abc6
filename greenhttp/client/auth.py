"""Client authentication: an ``Auth`` flow object (httpx's ``Auth.auth_flow`` shape),
Basic (RFC 7617), Digest (RFC 7616) and ``.netrc``.

An auth is a generator: it gets the :class:`Request`, may change its headers, and
``yield``\\s it; it receives the :class:`Response` back and may yield another request
(a 401 answered with credentials, a refreshed token). Most auths are a few lines::

    class Bearer(greenhttp.Auth):
        def __init__(self, token): self.token = token
        def auth_flow(self, request):
            request.headers["Authorization"] = f"Bearer {self.token}"
            response = yield request
            if response.status == 401:          # refresh once, and send again
                self.token = refresh()
                request.headers["Authorization"] = f"Bearer {self.token}"
                yield request

The client sends every yielded request (on the same origin only: credentials never
follow a redirect elsewhere) and returns the last response. A request whose body
cannot be replayed is not sent twice; the caller gets the 401 instead.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import netrc
import os
import re
import time
from typing import TYPE_CHECKING, Any, Callable, Generator

from ..errors import UsageError
# os.environ.get decodes on every call; on POSIX the raw bytes are read (routing._env's trick).
from .routing import _environ_bytes

if TYPE_CHECKING:
    from .request import Request
    from .response import Response

Flow = Generator["Request", "Response", None]


class Auth:
    """Base class: override :meth:`auth_flow`. The default sends the request unchanged."""

    def auth_flow(self, request: "Request") -> Flow:
        yield request


class BasicAuth(Auth):
    """RFC 7617 Basic: ``user:password`` in UTF-8 (§2.1 charset), base64."""

    def __init__(self, username: str, password: str) -> None:
        token = f"{username}:{password}".encode("utf-8")
        self.header = "Basic " + base64.b64encode(token).decode("ascii")

    def auth_flow(self, request: "Request") -> Flow:
        request.headers["Authorization"] = self.header
        yield request


class FunctionAuth(Auth):
    """``auth=callable``: the callable gets the request and returns it (signed, say)."""

    def __init__(self, function: Callable[["Request"], "Request"]) -> None:
        self.function = function

    def auth_flow(self, request: "Request") -> Flow:
        yield self.function(request)


_DIGEST_HASHES: dict[str, Callable[..., Any]] = {
    "MD5": hashlib.md5, "MD5-SESS": hashlib.md5,
    "SHA-256": hashlib.sha256, "SHA-256-SESS": hashlib.sha256,
    "SHA-512-256": lambda data=b"": hashlib.new("sha512_256", data),
    "SHA-512-256-SESS": lambda data=b"": hashlib.new("sha512_256", data),
}
_PARAM = re.compile(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')


def _parse_challenge(value: str) -> dict[str, str]:
    return {k.lower(): (v[1:-1].replace('\\"', '"') if v.startswith('"') else v)
            for k, v in _PARAM.findall(value)}


class DigestAuth(Auth):
    """RFC 7616 Digest: MD5 and SHA-256 (and their -sess), qop=auth, nonce counting.

    The first request goes without credentials; the 401's challenge is answered and
    remembered, so later requests through the same ``DigestAuth`` answer it at once
    (the nonce count goes up, §3.4). A 401 with ``stale=true`` (§3.3: the nonce
    expired, the password was right) is answered once more with the new nonce.
    """

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._challenge: dict[str, str] | None = None
        self._nonce_count = 0

    def auth_flow(self, request: "Request") -> Flow:
        answered = self._challenge is not None
        if answered:
            request.headers["Authorization"] = self._authorization(request)
        response = yield request
        for _ in range(2):  # the first answer, and once more for a stale nonce
            if response.status != 401:
                return
            challenge = self._digest_challenge(response)
            if challenge is None:
                return
            if answered and challenge.get("stale", "").lower() != "true":
                return  # refused without "stale": the credentials are wrong, do not loop
            self._challenge = challenge
            self._nonce_count = 0
            request.headers["Authorization"] = self._authorization(request)
            answered = True
            response = yield request

    @staticmethod
    def _digest_challenge(response: "Response") -> dict[str, str] | None:
        for value in response.headers.get_all("www-authenticate"):
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "digest":
                return _parse_challenge(rest)
        return None

    def _authorization(self, request: "Request") -> str:
        challenge = self._challenge
        assert challenge is not None
        algorithm = challenge.get("algorithm", "MD5").upper()
        hash_new = _DIGEST_HASHES.get(algorithm)
        if hash_new is None:
            raise UsageError(f"unsupported Digest algorithm {algorithm!r}")

        def h(data: str) -> str:
            return str(hash_new(data.encode("utf-8")).hexdigest())

        realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
        qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
        self._nonce_count += 1
        nc = f"{self._nonce_count:08x}"
        cnonce = hashlib.sha256(os.urandom(16) + str(time.time()).encode()).hexdigest()[:16]
        ha1 = h(f"{self.username}:{realm}:{self.password}")
        if algorithm.endswith("-SESS"):
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        uri = request.target
        ha2 = h(f"{request.method}:{uri}")
        if "auth" in qops:
            response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        elif not qops:
            response = h(f"{ha1}:{nonce}:{ha2}")  # RFC 2069 compatibility
        else:
            raise UsageError(f"unsupported Digest qop {challenge.get('qop')!r} (auth only)")
        parts = [f'username="{self.username}"', f'realm="{realm}"', f'nonce="{nonce}"',
                 f'uri="{uri}"', f'response="{response}"', f"algorithm={challenge.get('algorithm', 'MD5')}"]
        if "opaque" in challenge:
            parts.append(f'opaque="{challenge["opaque"]}"')
        if "auth" in qops:
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        return "Digest " + ", ".join(parts)


def _netrc_file(path: str) -> netrc.netrc | None:
    # A stat and a parse per request would cost more than the rest of a small GET: the
    # parse is cached per path and per second of the clock, so a changed .netrc is seen
    # within a second.
    return _parsed_netrc(path, int(time.monotonic()))


@functools.lru_cache(maxsize=8)
def _parsed_netrc(path: str, second: int) -> netrc.netrc | None:
    if not os.path.isfile(path):
        return None
    try:
        return netrc.netrc(path)
    except (netrc.NetrcParseError, OSError):
        return None


@functools.lru_cache(maxsize=8)
def _netrc_now(netrc_env: Any, home_env: Any, second: int) -> netrc.netrc | None:
    # One cache probe per request (keyed like the two below): the path and the parse.
    return _netrc_file(_netrc_path(netrc_env, home_env))


@functools.lru_cache(maxsize=64)
def _netrc_path(netrc_env: Any, home_env: Any) -> str:
    # expanduser and join per request cost more than the lookups that key them.
    return os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")


def netrc_auth(host: str) -> BasicAuth | None:
    """Credentials for ``host`` from ``$NETRC`` or ``~/.netrc`` (curl's and requests' rule)."""
    raw = _environ_bytes
    if raw is not None:
        parsed = _netrc_now(raw.get(b"NETRC"), raw.get(b"HOME"), int(time.monotonic()))
    else:
        parsed = _netrc_now(os.environ.get("NETRC"), os.environ.get("HOME"), int(time.monotonic()))
    entry = parsed.authenticators(host) if parsed is not None else None
    if not entry:
        return None
    login, _, password = entry
    return BasicAuth(login or "", password or "")


def as_auth(value: Any) -> Auth | None:
    """What ``auth=`` accepts: an :class:`Auth`, a ``(user, password)`` pair, a callable."""
    if value is None or isinstance(value, Auth):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return BasicAuth(str(value[0]), str(value[1]))
    if callable(value):
        return FunctionAuth(value)
    raise UsageError(f"auth= takes a (user, password) pair, a greenhttp.Auth or a callable, "
                     f"not {type(value).__name__}")
