"""The response side of the server core: a head built, validated and framed once.

:func:`response_head` is the one validator of what a server sends, whoever built the
head: a status that is not three digits, or a field name, field value or reason phrase
that would corrupt or inject (RFC 9112 §4, RFC 9110 §5.1, §5.5), raises
:class:`LocalProtocolError` before a byte is serialized. It also decides the framing
(a writer from framing.py's one table). :func:`simple_response` and
:func:`error_response` are the small complete answers the server gives itself.
"""

from __future__ import annotations

from typing import Iterable

from ..errors import LocalProtocolError, RequestError
from .events import RequestHead
from .fields import check_name, check_value
from .framing import NO_BODY_STATUSES, WRITERS, BodyWriter
from .status import reason as _reason

# What response_head must notice about an app's header, by name as the app spelled it.
# A name is in this cache only once check_name passed it: a hit is a valid name.
# Hot path, so a bare bounded set/dict probed inline rather than functools.lru_cache (the
# one kind of cache elsewhere): a call per header costs more than the probe (docs/architecture.md).
_PLAIN, _HOP, _CONNECTION, _LENGTH, _DATE, _SERVER = range(6)
_name_kinds: dict[str, int] = {}


def _name_kind(name: str) -> int:
    kind = _name_kinds.get(name)
    if kind is None:
        check_name(name)
        lname = name.lower()
        kind = {"transfer-encoding": _HOP, "keep-alive": _HOP, "connection": _CONNECTION,
                "content-length": _LENGTH, "date": _DATE, "server": _SERVER}.get(lname, _PLAIN)
        if len(_name_kinds) < 4096:
            _name_kinds[name] = kind
    return kind


# Built heads: (status, reason, headers, no_body, keep_alive, version, server) ->
# (date, head, framing, keep_alive, content_length); see response_head.
_heads: dict[tuple, tuple[str, bytes, str, bool, int | None]] = {}


def response_head(request: RequestHead, status: int, reason: str,
                  headers: list[tuple[str, str]], date: str, server: str | None,
                  keep_alive: bool) -> tuple[bytes, BodyWriter]:
    """Serialize a response head for ``request`` and decide how its body is framed.

    ``headers`` are the app's; hop-by-hop framing fields among them are replaced
    by our own, because framing is the server's business (PEP 3333 forbids apps
    from setting hop-by-hop headers at all).

    This is the one validator of what a server sends, whoever built the head (the
    WSGI adapter or a ``Server(handler=...)``): a status that is not three digits,
    or a field name, field value or reason phrase that would corrupt or inject
    (RFC 9112 §4, RFC 9110 §5.1, §5.5), raises :class:`LocalProtocolError` and
    nothing is serialized. Cheap on the hot path: a cached name is a checked name,
    and a printable-ASCII value needs no regex.
    """
    if type(status) is not int or not 100 <= status <= 999:
        raise LocalProtocolError(f"invalid status code {status!r}")
    no_body = request.method == "HEAD" or status < 200 or status in NO_BODY_STATUSES
    version = request.http_version
    # An app answers most requests with the same few heads: a head built (and so
    # validated) once is reused while the Date second lasts. Exact equality of
    # every part is the key, so a hit is a head that already passed every check.
    key: tuple | None = (status, reason, tuple(headers), no_body, keep_alive, version, server)
    try:
        cached = _heads.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable header (a list, say): the slow path says why
        key = cached = None
    if cached is not None and cached[0] == date:
        _, head, framing, keep_alive, content_length = cached
        return head, WRITERS[framing](keep_alive, content_length)
    head, framing, keep_alive, content_length = _build_head(
        version, no_body, status, reason, headers, date, server, keep_alive)
    if key is not None:
        if len(_heads) >= 512:
            _heads.clear()
        _heads[key] = (date, head, framing, keep_alive, content_length)
    return head, WRITERS[framing](keep_alive, content_length)

def _build_head(version: str, no_body: bool, status: int, reason: str,
                headers: list[tuple[str, str]], date: str, server: str | None,
                keep_alive: bool) -> tuple[bytes, str, bool, int | None]:
    if type(reason) is not str or not (reason.isascii() and reason.isprintable()):
        check_value("reason phrase", reason)
    content_length: int | None = None
    out: list[str] = [f"HTTP/1.1 {status} {reason}\r\n"]
    has_date = has_server = False
    kinds = _name_kinds
    for name, value in headers:
        kind = kinds.get(name)
        if kind is None:
            kind = _name_kind(name)
        if type(value) is not str or not (value.isascii() and value.isprintable()):
            check_value(name, value)
        if kind:
            if kind == _HOP:
                continue
            if kind == _CONNECTION:
                if "close" in value.lower():
                    keep_alive = False
                continue
            if kind == _LENGTH:
                # RFC 9110 §8.6: 1*DIGIT. Not int() alone, which takes "+5", " 5", "5_0".
                if not (value.isdigit() and value.isascii()):
                    raise LocalProtocolError(f"invalid Content-Length {value!r}")
                content_length = int(value)
                if status < 200 or status == 204:
                    # RFC 9110 §8.6: "A server MUST NOT send a Content-Length header
                    # field in any response with a status code of 1xx or 204."
                    continue
            elif kind == _DATE:
                has_date = True
            else:
                has_server = True
        out.append(f"{name}: {value}\r\n")
    if not has_date:
        out.append(f"Date: {date}\r\n")
    if not has_server and server:
        out.append(f"Server: {server}\r\n")
    # The framing, by name in the one table of writers (framing.py).
    if no_body:
        framing = "none"
    elif content_length is not None:
        framing = "content-length"
    elif version == "1.1":
        framing = "chunked"
        out.append("Transfer-Encoding: chunked\r\n")
    else:
        framing = "close"
        keep_alive = False  # HTTP/1.0: the body ends when we close
    if not keep_alive:
        out.append("Connection: close\r\n")
    elif version == "1.0":
        out.append("Connection: keep-alive\r\n")
    out.append("\r\n")
    return "".join(out).encode("latin-1"), framing, keep_alive, content_length


def simple_response(status: int, body: bytes, date: str, server: str | None = "greenhttp",
                    close: bool = True, content_type: str = "text/plain; charset=utf-8",
                    extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A complete small response: for errors the server answers itself."""
    reason = _reason(status)
    lines = [f"HTTP/1.1 {status} {reason}\r\n", f"Date: {date}\r\n"]
    if server:
        lines.append(f"Server: {server}\r\n")
    lines.append(f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n")
    for name, value in extra:
        lines.append(f"{name}: {value}\r\n")
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1") + body


def error_response(error: RequestError, date: str, server: str | None = "greenhttp") -> bytes:
    """The response a server sends for a malformed request, before it closes."""
    status = error.status_hint
    body = f"{status} {_reason(status)}: {error}\n".encode("utf-8", "replace")
    return simple_response(status, body, date, server)


CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
