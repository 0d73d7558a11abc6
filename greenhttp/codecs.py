"""JSON and msgpack request and response bodies, chosen by Content-Type and Accept.

Three functions make the public surface:

- :func:`read_body` decodes the request body by its Content-Type, or raises a
  :class:`~greenhttp.ProtocolError` whose ``status_hint`` is the answer: 400
  (:class:`~greenhttp.MalformedBody`), 413 (:class:`~greenhttp.BodyTooLarge`), 415
  (:class:`~greenhttp.UnsupportedMediaType`). An app that does not catch them still
  answers that status with a one-line message (the connection loop turns any
  ``ProtocolError`` into a response), so a malformed body is never a 500.
- :func:`negotiate` picks the response media type from an Accept header.
- :func:`respond` encodes a value in that type and starts the response; 406 when the
  client accepts neither.

They work on a plain WSGI environ (``wsgi.input``) as well as on greenhttp's, so
apps stay testable with WebTest.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

import msgpack

from .errors import BodyTooLarge, MalformedBody, UnsupportedMediaType
from .protocol.status import status_line

JSON = "application/json"
MSGPACK = "application/msgpack"
#: The pre-registration name (IANA registered application/msgpack in 2023); many
#: clients still send and expect it, so it is read and, when asked for, answered.
X_MSGPACK = "application/x-msgpack"

#: What :func:`respond` can produce, in the server's order of preference for ties
#: (``Accept: */*`` or no Accept at all gets JSON: readable in a browser and curl).
RESPONSE_TYPES = (JSON, MSGPACK, X_MSGPACK)

#: Default limit for :func:`read_body`. A decoded body lives in memory whole, so it needs
#: a bound; express's body-parser uses 100 kB, Django 2.5 MB. Pass ``max_size`` to change it.
DEFAULT_MAX_SIZE = 1024 * 1024

StartResponse = Callable[..., Any]


# -- reading ---------------------------------------------------------------------------


def _media_type(value: str | None) -> str:
    """``"Application/JSON; charset=utf-8"`` -> ``"application/json"``."""
    return (value or "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    # RFC 6839 §3.1: "+json" structured syntax suffix (application/problem+json, vnd.api+json).
    return media_type == JSON or (media_type.startswith("application/") and media_type.endswith("+json"))


def _reject_constant(name: str) -> Any:
    # RFC 8259 §6: NaN and Infinity are not JSON, though Python's json accepts them.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes | str) -> Any:
    """JSON bytes to a value; ValueError for anything RFC 8259 does not allow (NaN too).
    The one JSON reader: the server's :func:`read_body` and the client's ``Response.json``."""
    return json.loads(data, parse_constant=_reject_constant)


def parse_msgpack(data: bytes) -> Any:
    """One msgpack object; str stays str (``raw=False``). The one msgpack reader."""
    return msgpack.unpackb(data, raw=False)


def decode_json(data: bytes) -> Any:
    """Parse JSON bytes (UTF-8, or UTF-16/32 by BOM-less detection as RFC 8259 §8.1 allows)."""
    if not data.strip():
        raise MalformedBody("request body is empty; expected JSON")
    try:
        return parse_json(data)
    except RecursionError:
        raise MalformedBody("request body is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedBody(f"request body is not valid JSON: {_short(exc)}") from None


def decode_msgpack(data: bytes) -> Any:
    """Unpack one msgpack object; trailing bytes, bad UTF-8 and non-string map keys are errors."""
    if not data:
        raise MalformedBody("request body is empty; expected msgpack")
    try:
        # raw=False: str stays str. strict_map_key (the default) refuses non-str/bytes keys,
        # which would otherwise let a client make the server hash arbitrary nested keys.
        return parse_msgpack(data)
    except msgpack.ExtraData:
        raise MalformedBody("request body is not valid msgpack: extra bytes after the object") from None
    except msgpack.StackError:
        raise MalformedBody("request body is not valid msgpack: nested too deeply") from None
    except msgpack.FormatError:
        raise MalformedBody("request body is not valid msgpack: reserved type byte") from None
    except (ValueError, TypeError) as exc:
        raise MalformedBody(f"request body is not valid msgpack: {_short(exc)}") from None


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


_DECODERS: dict[str, Callable[[bytes], Any]] = {
    JSON: decode_json,
    MSGPACK: decode_msgpack,
    X_MSGPACK: decode_msgpack,
}


def _read_limited(environ: dict[str, Any], max_size: int) -> bytes:
    body = environ.get("greenhttp.body")
    if body is not None:
        if body.length is not None and body.length > max_size:
            # Refuse before reading: the server drains or closes, the app holds nothing.
            raise BodyTooLarge(f"request body of {body.length} bytes is over the {max_size}-byte limit")
        parts: list[bytes] = []
        size = 0
        for chunk in body:
            size += len(chunk)
            if size > max_size:  # chunked: no length up front, so count as it comes
                raise BodyTooLarge(f"request body is over the {max_size}-byte limit")
            parts.append(chunk)
        return b"".join(parts)
    # Any other WSGI server (or WebTest): CONTENT_LENGTH tells how much to read.
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_size:
        raise BodyTooLarge(f"request body of {length} bytes is over the {max_size}-byte limit")
    if length <= 0:
        if not environ.get("wsgi.input_terminated"):
            return b""
        data = stream.read(max_size + 1)  # chunked: the input ends by itself
        if len(data) > max_size:
            raise BodyTooLarge(f"request body is over the {max_size}-byte limit")
        return bytes(data)
    return bytes(stream.read(length))


def read_body(environ: dict[str, Any], max_size: int = DEFAULT_MAX_SIZE) -> Any:
    """The request body decoded by its Content-Type: JSON, or msgpack.

    Raises :class:`~greenhttp.UnsupportedMediaType` (415) for any other type,
    :class:`~greenhttp.MalformedBody` (400) when the body does not parse, and
    :class:`~greenhttp.BodyTooLarge` (413) past ``max_size`` bytes. All three are
    :class:`~greenhttp.ProtocolError`: catch that and answer ``exc.status_hint``
    with :func:`respond`, or let it escape for a plain-text answer.
    """
    media_type = _media_type(environ.get("CONTENT_TYPE"))
    decoder = decode_json if _is_json(media_type) else _DECODERS.get(media_type)
    if decoder is None:
        got = repr(media_type) if media_type else "none"
        raise UnsupportedMediaType(
            f"Content-Type must be {JSON} or {MSGPACK}, got {got}")
    return decoder(_read_limited(environ, max_size))


# -- answering ---------------------------------------------------------------------------


def _parse_accept(header: str) -> list[tuple[str, str, float]]:
    """``Accept`` as (type, subtype, q) triples; malformed ranges are skipped (RFC 9110 §12.5.1)."""
    ranges = []
    for item in header.split(","):
        media_range, *params = item.split(";")
        kind, slash, subtype = media_range.strip().lower().partition("/")
        if not slash or not kind or not subtype:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0  # "q=high" is not a weight: treat the range as not acceptable
        ranges.append((kind, subtype, q))
    return ranges


def _quality(media_type: str, ranges: list[tuple[str, str, float]]) -> float:
    # RFC 9110 §12.5.1: the most specific matching range decides ("text/html;q=0" beats "*/*").
    kind, _, subtype = media_type.partition("/")
    best_specificity, best_q = -1, 0.0
    for range_kind, range_subtype, q in ranges:
        if range_kind == kind and range_subtype == subtype:
            specificity = 2
        elif range_kind == kind and range_subtype == "*":
            specificity = 1
        elif range_kind == "*" and range_subtype == "*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_q = specificity, q
    return best_q


def negotiate(accept: str | None, offers: Iterable[str] = RESPONSE_TYPES) -> str | None:
    """The best of ``offers`` for an ``Accept`` header, or None when none is acceptable.

    No header (or an empty one) accepts anything, so the first offer wins. Among equal
    weights the earlier offer wins: ``*/*`` gets JSON.
    """
    offers = list(offers)
    if accept is None or not accept.strip():
        return offers[0] if offers else None
    ranges = _parse_accept(accept)
    best, best_q = None, 0.0
    for offer in offers:
        q = _quality(offer, ranges)
        if q > best_q:
            best, best_q = offer, q
    return best


def encode(value: Any, media_type: str) -> bytes:
    """``value`` as JSON or msgpack bytes: the one encoder, for responses (:func:`respond`)
    and client request bodies (``json=``, ``msgpack=``). ValueError for NaN/Infinity."""
    if media_type in (MSGPACK, X_MSGPACK):
        return msgpack.packb(value, use_bin_type=True)
    # Compact and UTF-8 (RFC 8259 §8.1); allow_nan=False: NaN would make the body unparsable.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _status_line(status: int | str) -> tuple[str, int]:
    if isinstance(status, str):
        return status, int(status[:3])
    return status_line(status), status


def respond(environ: dict[str, Any], start_response: StartResponse, value: Any,
            status: int | str = 200, headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    """Start a response carrying ``value`` in the format the client accepts; return the body.

    ``return greenhttp.respond(environ, start_response, {"id": 7}, status=201)``.
    JSON unless the Accept header prefers msgpack; 406 when it accepts neither.
    Error statuses (4xx, 5xx) go out as JSON even then: RFC 9110 §12.5.1 lets a server
    disregard Accept, and the client learns more from the error than from a 406.
    """
    line, code = _status_line(status)
    media_type = negotiate(environ.get("HTTP_ACCEPT"))
    if media_type is None:
        if code < 400:
            body = (f"406 Not Acceptable: available as {JSON} or {MSGPACK}\n").encode()
            start_response(status_line(406), [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Vary", "Accept"),
            ])
            return [body]
        media_type = JSON
    body = encode(value, media_type)
    start_response(line, [
        ("Content-Type", media_type),
        ("Content-Length", str(len(body))),
        # Caches must key on Accept, or a msgpack answer could be served to a JSON client.
        ("Vary", "Accept"),
        *headers,
    ])
    return [body]


__all__ = ["read_body", "respond", "negotiate", "encode", "decode_json", "decode_msgpack",
           "JSON", "MSGPACK", "X_MSGPACK", "DEFAULT_MAX_SIZE"]
