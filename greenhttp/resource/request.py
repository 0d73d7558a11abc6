"""``Request`` and ``Response``: what a resource sees of the WSGI exchange.

The request body is greenhttp's :class:`~greenhttp.Body` (``environ["greenhttp.body"]``,
chunks as they arrive); under another WSGI server (WebTest) a Body is built over
``wsgi.input`` so resources read it the same way.
"""

from __future__ import annotations

import http.cookies
from typing import Any, Iterator
from urllib.parse import parse_qsl, quote
from wsgiref.util import application_uri, request_uri

from greenhttp import Body, Headers


class Request:
    """One request. ``body`` is a :class:`greenhttp.Body`; iterate it for chunks."""

    def __init__(self, environ: dict[str, Any], path_params: dict[str, str] | None = None) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        self.headers = Headers.from_environ(environ)
        self.body: Body = Body.from_environ(environ)
        self.path: str = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        self.query: dict[str, str] = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        self.path_params: dict[str, str] = path_params or {}
        # PEP 3333 strings are latin-1 for bytes; request_uri re-quotes them.
        self.url: str = request_uri(environ)
        self.base_uri: str = application_uri(environ).rstrip("/") + "/"

    @property
    def cookies(self) -> dict[str, str]:
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        try:
            jar.load(self.environ.get("HTTP_COOKIE", ""))
        except http.cookies.CookieError:
            return {}
        return {name: morsel.value for name, morsel in jar.items()}

    def replace_body(self, data: bytes) -> None:
        """After something had to read the body whole (Content-MD5), hand it on unread."""
        self.body = Body.from_bytes(data)
        self.environ["greenhttp.body"] = self.body

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


class Response:
    """The response being built. ``body``: None, str, bytes, an iterable of chunks, a file,
    a callable returning one of those, or a :class:`greenhttp.Stream`."""

    def __init__(self) -> None:
        self.headers = Headers()
        self.body: Any = None
        self.redirect = False
        self.status: int | None = None

    def redirect_to(self, location: str | None = None) -> None:
        """Answer a POST with 303 See Other (to ``location`` if given)."""
        if location is not None:
            self.headers.set("Location", quote(location, safe=":/?#[]@!$&'()*+,;=%~"))
        self.redirect = True

    def set_cookie(self, name: str, value: str, **attributes: Any) -> None:
        """Add one Set-Cookie field (RFC 6265 §4.1: never folded, one per cookie)."""
        morsel: http.cookies.Morsel = http.cookies.Morsel()
        morsel.set(name, value, http.cookies.SimpleCookie().value_encode(value)[1])
        for key, attr in attributes.items():
            morsel[key.replace("_", "-")] = attr
        self.headers.add("Set-Cookie", morsel.OutputString())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers.items())
