"""The proxy's header policy: what goes upstream, what comes back (RFC 9110 §7.6).

Hop-by-hop fields are removed both ways (§7.6.1), ``Via`` is appended both ways
(§7.6.3), and ``X-Forwarded-For``/``-Proto``/``-Host`` describe this hop to the
upstream. Pure functions over header lists and the WSGI environ: no I/O.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Mapping, Sequence, Union

from ..headers import Headers, field_name
from ..protocol.fields import CONNECTION_FIELDS, FRAMING_FIELDS, HOP_BY_HOP

HeaderOverrides = Union[Mapping[str, Union[str, None]], Sequence[tuple[str, Union[str, None]]], None]

#: The name this proxy gives itself in ``Via`` (RFC 9110 §7.6.3 allows a pseudonym
#: instead of a host name, and a pseudonym leaks no internal host names).
VIA = "greenhttp"

# RFC 9110 §7.6.1: the protocol's HOP_BY_HOP set (protocol/fields.py, the one definition),
# plus what the Connection field names, plus, as a proxy's own rule, *every* Proxy-* field
# (is_hop_by_hop): they belong to this hop's proxy, whatever their name.
# Also never copied into the upstream request: framing and the expectation are the
# client's to compute for its own hop, and "Proxy" is the httpoxy header (CGI turns
# it into HTTP_PROXY, which some HTTP libraries take for their proxy setting).
_REQUEST_DROP = FRAMING_FIELDS | {"expect", "proxy", "host"}


# -- header fields ----------------------------------------------------------------------

def connection_options(items: Iterable[tuple[str, str]]) -> set[str]:
    """The field names a message's ``Connection`` header lists (lower-case)."""
    named: set[str] = set()
    for name, value in items:
        if len(name) == 10 and name.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(","))
    return named


def is_hop_by_hop(lname: str, named: set[str] | frozenset[str] = frozenset()) -> bool:
    return lname in HOP_BY_HOP or lname.startswith("proxy-") or lname in named


@functools.lru_cache(maxsize=4096)
def _hop_name(name: str) -> bool:
    """:func:`is_hop_by_hop` of a name as spelled (no Connection options): names repeat."""
    return is_hop_by_hop(name.lower())


def strip_hop_by_hop(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``items`` without hop-by-hop fields (RFC 9110 §7.6.1), order kept."""
    items = list(items)
    named = connection_options(items)
    if named:
        return [(name, value) for name, value in items if not is_hop_by_hop(name.lower(), named)]
    return [item for item in items if not _hop_name(item[0])]


def _via_version(protocol: str) -> str:
    # RFC 9110 §7.6.3: received-protocol is the version the message came in with;
    # the "HTTP/" prefix is omitted for HTTP.
    return protocol[5:] if protocol.startswith("HTTP/") else protocol


# What forwarded_request_headers does with each environ key, decided once per key:
# (field name, kind). Header names repeat endlessly across requests; the environ has
# ~25 keys per request, so a bare bounded dict probed inline (a call per key costs
# more than the probe; docs/architecture.md), cleared when full.
_KEEP, _DROP, _VIA, _XFF, _XFORWARDED = range(5)
_key_kinds: dict[str, tuple[str, int]] = {}


def _key_kind(key: str) -> tuple[str, int]:
    if key[:5] != "HTTP_":
        entry = ("Content-Type", _KEEP) if key == "CONTENT_TYPE" else ("", _DROP)
    else:
        name = field_name(key) or ""
        lname = name.lower()
        if is_hop_by_hop(lname) or lname in _REQUEST_DROP:
            kind = _DROP
        elif lname == "via":
            kind = _VIA
        elif lname == "x-forwarded-for":
            kind = _XFF
        elif lname.startswith("x-forwarded-"):
            kind = _XFORWARDED
        else:
            kind = _KEEP
        entry = (name, kind)
    if len(_key_kinds) >= 4096:
        _key_kinds.clear()
    _key_kinds[key] = entry
    return entry


@functools.lru_cache(maxsize=64)
def _our_via(protocol: str, via: str) -> str:
    """This hop's ``Via`` entry for a message that came in with ``protocol``."""
    return f"{_via_version(protocol)} {via}"


def forwarded_request_headers(environ: dict[str, Any], *, preserve_host: bool = False,
                              forwarded: bool = True, via: str | None = VIA) -> list[tuple[str, str]]:
    """The header fields to send upstream for this request.

    End-to-end fields of the request, minus hop-by-hop ones and those the client
    computes itself (Host unless ``preserve_host``, Content-Length, Expect); then
    ``X-Forwarded-For`` (the client address appended to any received list, as nginx's
    ``$proxy_add_x_forwarded_for``), ``X-Forwarded-Proto`` and ``X-Forwarded-Host``
    (this hop's view, replacing whatever the client claimed) when ``forwarded``; and
    ``Via``, appended to any received one.
    """
    items: list[tuple[str, str]] = []
    connection = environ.get("HTTP_CONNECTION")
    named = connection_options([("connection", connection)]) if connection else None
    received_via = None
    received_xff = None
    kinds = _key_kinds
    for key, value in environ.items():
        entry = kinds.get(key) or _key_kind(key)
        kind = entry[1]
        if kind == _DROP:
            continue
        if kind == _KEEP:
            if named and entry[0].lower() in named:
                continue
            if value or key != "CONTENT_TYPE":
                items.append((entry[0], value))
        elif kind == _VIA:
            received_via = value
        elif not forwarded:
            items.append((entry[0], value))  # X-Forwarded-* passed on as received
        elif kind == _XFF:
            received_xff = value
    host = environ.get("HTTP_HOST")
    if preserve_host and host:
        items.append(("Host", host))
    if forwarded:
        remote = environ.get("REMOTE_ADDR") or "unknown"
        items.append(("X-Forwarded-For", f"{received_xff}, {remote}" if received_xff else remote))
        items.append(("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")))
        if host:
            items.append(("X-Forwarded-Host", host))
    if via:
        ours = _our_via(environ.get("SERVER_PROTOCOL", "HTTP/1.1"), via)
        items.append(("Via", f"{received_via}, {ours}" if received_via else ours))
    elif received_via:
        items.append(("Via", received_via))
    return items


# What an override cannot set: the framing and the fields of one connection are computed
# for each hop by the client (client/send.py), and a second Content-Length or
# Transfer-Encoding beside the computed one would make the request's length ambiguous
# (RFC 9112 §6.3: the request smuggling that §11.2 warns of).
_PER_HOP = FRAMING_FIELDS | CONNECTION_FIELDS | {"expect"}


def apply_overrides(items: list[tuple[str, str]], overrides: HeaderOverrides) -> list[tuple[str, str]]:
    """``items`` with the ``headers=`` of :func:`proxy_request` applied: each named field
    replaced (or, with None, removed); per-hop fields (framing, Connection and its kin,
    Expect) are ignored, and Host can be replaced but not removed (RFC 9112 §3.2: an
    HTTP/1.1 request without Host is a 400)."""
    if not overrides:
        return items
    given = overrides.items() if isinstance(overrides, Mapping) else overrides
    # ``items`` hold no per-hop field (forwarded_request_headers drops them), so ignoring
    # such overrides here is all it takes.
    pairs = [(name, value) for name, value in given
             if name.lower() not in _PER_HOP and (value is not None or name.lower() != "host")]
    replaced = {name.lower() for name, _ in pairs}
    out = [(name, value) for name, value in items if name.lower() not in replaced]
    out.extend((name, value) for name, value in pairs if value is not None)
    return out



def response_headers(items: Iterable[tuple[str, str]], http_version: str,
                     via: str | None = VIA) -> Headers:
    """The upstream response's fields to send back: hop-by-hop removed, ``Via`` appended."""
    out = Headers(strip_hop_by_hop(items))
    if via:
        ours = _our_via("HTTP/" + http_version, via)
        received = out.get("via")
        if received:
            out.set("Via", f"{received}, {ours}")
        else:
            out.add("Via", ours)
    return out


# Upstream response field names by their raw bytes: (name, lower-case name, what to do:
# _KEEP, _DROP (hop-by-hop without Connection options), _VIA, _CONNECTION). Names
# repeat endlessly. Hot path, so a bare bounded dict probed inline (docs/architecture.md);
# cleared when full.
_CONNECTION = _XFF  # not a request kind here: the response's Connection field
_raw_names: dict[bytes, tuple[str, str, int]] = {}
# Connection values (raw) -> whether they name a field that is not hop-by-hop already
# (then the general path handles it). Nearly always "keep-alive" or "close".
_connection_values: dict[bytes, bool] = {}


def _raw_name(name: bytes) -> tuple[str, str, int]:
    text = name.decode("latin-1")
    lname = text.lower()
    kind = (_VIA if lname == "via" else _CONNECTION if lname == "connection"
            else _DROP if is_hop_by_hop(lname) else _KEEP)
    entry = (text, lname, kind)
    if len(_raw_names) >= 4096:
        _raw_names.clear()
    _raw_names[name] = entry
    return entry


def _names_more(value: bytes) -> bool:
    """Whether a Connection value names fields beyond the hop-by-hop ones."""
    more = bool(connection_options([("connection", value.decode("latin-1"))]) - HOP_BY_HOP)
    if len(_connection_values) >= 256:
        _connection_values.clear()
    _connection_values[value] = more
    return more


def raw_response_headers(raw: Sequence[tuple[bytes, bytes]], http_version: str,
                         via: str | None = VIA) -> Headers:
    """:func:`response_headers` of the upstream's raw fields in one pass, with no
    intermediate ``Headers``; the same result (the general path when the upstream sent
    ``Via`` or a ``Connection`` naming a field that is not hop-by-hop already)."""
    items: list[tuple[str, str]] = []
    names = _raw_names
    for name, value in raw:
        entry = names.get(name) or _raw_name(name)
        kind = entry[2]
        if kind == _KEEP:
            items.append((entry[0], value.decode("latin-1")))
        elif kind == _VIA or (kind == _CONNECTION and (
                _connection_values[value] if value in _connection_values else _names_more(value))):
            return response_headers(Headers.from_raw(raw).items(), http_version, via)
    out = Headers()
    out._items = items
    if via:
        items.append(("Via", _our_via("HTTP/" + http_version, via)))
    return out
