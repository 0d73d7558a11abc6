"""A small cookie jar for ``Client`` sessions (RFC 6265 domain/path matching,
expiry; no public-suffix list)."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Iterator

from ..headers import Headers
from .routing import _URL


# -- cookies -----------------------------------------------------------------------------


class _Cookie:
    __slots__ = ("name", "value", "domain", "host_only", "path", "secure", "expires")

    def __init__(self, name: str, value: str, domain: str, host_only: bool, path: str,
                 secure: bool, expires: float | None) -> None:
        self.name = name
        self.value = value
        self.domain = domain
        self.host_only = host_only
        self.path = path
        self.secure = secure
        self.expires = expires


class CookieJar:
    """A small RFC 6265 cookie store: domain and path matching, Secure, Max-Age/Expires.

    ``http.cookiejar`` would pull in ``urllib.request`` (and with it ``ssl`` at import
    time, which the CLI must not see before it monkey-patches), so this is our own.
    """

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], _Cookie] = {}

    def set(self, name: str, value: str, domain: str, path: str = "/") -> None:
        domain = domain.lower().lstrip(".")
        self._cookies[(domain, path, name)] = _Cookie(name, value, domain, False, path, False, None)

    def get(self, name: str, default: str | None = None) -> str | None:
        for cookie in self._cookies.values():
            if cookie.name == name:
                return cookie.value
        return default

    def clear(self) -> None:
        self._cookies.clear()

    def __len__(self) -> int:
        return len(self._cookies)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter([(c.name, c.value) for c in self._cookies.values()])

    def extract(self, url: _URL, headers: Headers) -> None:
        for line in headers.get_all("set-cookie"):
            self._extract_one(url, line)

    def _extract_one(self, url: _URL, line: str) -> None:
        pair, *attributes = line.split(";")
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            return
        domain, host_only = url.host, True
        request_path = url.target.split("?", 1)[0]
        # RFC 6265 §5.1.4: the default path is the request path up to its last "/".
        path = request_path[:request_path.rfind("/")] or "/"
        secure = False
        expires: float | None = None
        max_age: float | None = None
        for attribute in attributes:
            key, _, attr_value = attribute.strip().partition("=")
            key = key.lower()
            attr_value = attr_value.strip()
            if key == "domain" and attr_value:
                candidate = attr_value.lower().lstrip(".")
                if url.host != candidate and not url.host.endswith("." + candidate):
                    return  # §5.3 step 6: a cookie for a domain the host is not in
                domain, host_only = candidate, False
            elif key == "path" and attr_value.startswith("/"):
                path = attr_value
            elif key == "secure":
                secure = True
            elif key == "max-age":
                try:
                    max_age = time.time() + int(attr_value)
                except ValueError:
                    pass
            elif key == "expires":
                try:
                    expires = parsedate_to_datetime(attr_value).timestamp()
                except (TypeError, ValueError, IndexError):
                    pass
        if max_age is not None:
            expires = max_age  # §5.3 step 3: Max-Age wins over Expires
        key3 = (domain, path, name)
        if expires is not None and expires <= time.time():
            self._cookies.pop(key3, None)
            return
        self._cookies[key3] = _Cookie(name, value, domain, host_only, path, secure, expires)

    def header_for(self, url: _URL) -> str | None:
        if not self._cookies:
            return None
        now = time.time()
        path = url.target.split("?", 1)[0]
        host = url.host
        matches: list[_Cookie] = []
        for key, cookie in list(self._cookies.items()):
            if cookie.expires is not None and cookie.expires <= now:
                del self._cookies[key]
                continue
            if cookie.host_only or cookie.domain == host:
                if host != cookie.domain:
                    continue
            elif not host.endswith("." + cookie.domain):
                continue
            if cookie.secure and url.scheme != "https":
                continue
            cp = cookie.path
            if not (path == cp or (path.startswith(cp) and (cp.endswith("/") or path[len(cp):][:1] == "/"))):
                continue
            matches.append(cookie)
        if not matches:
            return None
        # §5.4: longer paths first.
        matches.sort(key=lambda c: -len(c.path))
        return "; ".join(f"{c.name}={c.value}" for c in matches)
