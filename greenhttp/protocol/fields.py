"""Field (header) names and values: validation of what our side sends, and the
named sets of fields that framing, hop-by-hop handling and trailers care about.

One definition of each set, used by the server, the client and the proxy.
"""

from __future__ import annotations

import re
from typing import Iterable

from ..errors import LocalProtocolError

# RFC 9112 §6: the two fields that delimit a message body. Whoever frames a message
# computes them; they are never copied from an app, a caller or another hop.
FRAMING_FIELDS = frozenset({"content-length", "transfer-encoding"})
# Fields that describe one connection rather than the message (RFC 9110 §7.6.1):
# a client or server computes them for its own hop.
CONNECTION_FIELDS = frozenset({"connection", "keep-alive", "proxy-connection", "te", "upgrade"})
# RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field before
# a message is forwarded and, for each connection-option in this field, remove any
# header or trailer field(s) from the message with the same name as the
# connection-option, and then remove the Connection header field itself". Besides those,
# the fields that describe one connection whatever Connection says: Keep-Alive, TE,
# Trailer (announces trailers of a body that is re-framed per hop), Transfer-Encoding,
# Upgrade, and every Proxy-* field (Proxy-Connection from old clients such as curl,
# Proxy-Authorization and Proxy-Authenticate, which belong to this hop's proxy).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "trailer", "transfer-encoding",
                        "upgrade", "proxy-connection", "proxy-authorization", "proxy-authenticate"})

# RFC 9110 §5.5: field values are visible characters, SP and HTAB (obs-text allowed).
_BAD_FIELD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 9110 §5.6.2: tchar; a token is 1*tchar. Field names (§5.1) and methods are tokens.
_TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_TOKEN = re.compile(rf"^{_TCHAR}+$")

# Header names our side sends repeat endlessly; remember the ones already checked.
# Hot path, so a bare bounded set/dict probed inline rather than functools.lru_cache (the
# one kind of cache elsewhere): a call per header costs more than the probe (docs/architecture.md).
_valid_names: set[str] = set()


def check_name(name: str) -> None:
    """Raise unless ``name`` is a token (RFC 9110 §5.1); remember it if it is."""
    if type(name) is not str and not isinstance(name, str):
        raise LocalProtocolError(f"header names must be str, not {type(name).__name__}: {name!r}")
    if not _TOKEN.match(name):
        raise LocalProtocolError(f"invalid header name {name!r}")
    if len(_valid_names) < 4096:
        _valid_names.add(name)


def check_value(name: str, value: str) -> None:
    """Raise unless ``value`` can go on the wire as a field value (or reason phrase).

    The slow path: callers first try ``value.isascii() and value.isprintable()``,
    which is true for nearly every value and means only 0x20-0x7E (no regex run).
    What that misses is HTAB and obs-text (allowed) and controls (refused), and
    characters beyond Latin-1, which cannot be encoded at all.
    """
    if type(value) is not str and not isinstance(value, str):
        raise LocalProtocolError(f"header values must be str: {name!r}: {value!r}")
    if _BAD_FIELD_VALUE.search(value):
        raise LocalProtocolError(f"invalid character in header {name!r} value {value!r}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise LocalProtocolError(f"header {name!r} value {value!r} is not Latin-1") from None


def validate_field(name: str, value: str) -> None:
    """Refuse a header our side is about to send that would corrupt or inject."""
    if name not in _valid_names:
        check_name(name)
    if type(value) is not str or not (value.isascii() and value.isprintable()):
        check_value(name, value)


def validate_fields(headers: Iterable[tuple[str, str]]) -> None:
    """:func:`validate_field` for each pair."""
    valid = _valid_names
    for name, value in headers:
        if name not in valid:
            check_name(name)
        if type(value) is not str or not (value.isascii() and value.isprintable()):
            check_value(name, value)


# -- what the server checks in a request's fields ----------------------------------------

# on_header's dispatch, one dict lookup per field instead of a chain of comparisons.
HOST, CONTENT_LENGTH, TRANSFER_ENCODING, EXPECT, SINGLETON = range(1, 6)
REQUEST_FIELD_KINDS: dict[bytes, int] = {
    b"host": HOST, b"content-length": CONTENT_LENGTH, b"transfer-encoding": TRANSFER_ENCODING,
    b"expect": EXPECT,
}

# Singleton fields whose duplicates (with different values) change what the request
# means, so that two parsers in a chain could each pick a different one (RFC 9110 §5.3:
# a sender MUST NOT generate repeated field lines unless the field is a list; these
# are not lists). Host and Content-Length are checked apart (and by llhttp).
# Content-Type (§8.3: one media-type; which one decides how the body is read),
# Authorization and Proxy-Authorization (§11.6.2, §11.7.2: one set of credentials;
# which one is checked vs which one is logged is a classic confusion), Range and
# If-Range (§14.2, §13.1.5: which bytes are sent), If-Modified-Since and
# If-Unmodified-Since (§13.1.3, §13.1.4: one HTTP-date each). Repeating the same value
# is harmless and allowed.
SINGLETON_FIELDS = (b"content-type", b"authorization", b"proxy-authorization", b"range",
                    b"if-range", b"if-modified-since", b"if-unmodified-since")
SINGLETON_BITS: dict[bytes, int] = {name: 1 << index for index, name in enumerate(SINGLETON_FIELDS)}
REQUEST_FIELD_KINDS.update(dict.fromkeys(SINGLETON_FIELDS, SINGLETON))

# RFC 9110 §6.5.1: "Many fields cannot be processed outside the header section because
# their evaluation is necessary prior to receiving the content, such as those that
# describe message framing, routing, authentication, request modifiers, response
# controls, or content format. A sender MUST NOT generate a trailer field unless the
# sender knows the corresponding header field name's definition permits the field to
# be sent in trailers." None of these permits it. A request carrying one in its trailer
# section is refused (400), never handed to the app as a trailer: a later hop that
# merged trailers into the header section would see a different request.
TRAILER_FORBIDDEN = frozenset({
    # framing (RFC 9112 §6)
    b"transfer-encoding", b"content-length", b"trailer",
    # routing and connection (RFC 9110 §7.2, §7.6)
    b"host", b"connection", b"keep-alive", b"proxy-connection", b"upgrade", b"te",
    b"max-forwards", b"via",
    # authentication (RFC 9110 §11) and request state (RFC 6265)
    b"authorization", b"proxy-authorization", b"cookie",
    # request modifiers: controls and conditionals (RFC 9110 §10.1, §13.1; RFC 9111 §5)
    b"expect", b"range", b"if-match", b"if-none-match", b"if-modified-since",
    b"if-unmodified-since", b"if-range", b"cache-control", b"pragma",
    # content format (RFC 9110 §8)
    b"content-type", b"content-encoding", b"content-range", b"content-language",
    b"content-location",
})

# RFC 9110 §7.2: Host = uri-host [ ":" port ]; RFC 3986 §3.2.2: uri-host is an
# IP-literal in brackets, an IPv4 address or a reg-name (unreserved, pct-encoded and
# sub-delims; "," is a sub-delim, so "a,b" parses, "a, b" does not). No userinfo
# ("@"), no path ("/"), no whitespace.
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?")
# Hosts repeat (one or a few per server): a hit in this set costs no regex run.
# Hot path, so a bare bounded set/dict probed inline rather than functools.lru_cache (the
# one kind of cache elsewhere): a call per header costs more than the probe (docs/architecture.md).
_valid_hosts: set[bytes] = set()


def valid_host(value: bytes) -> bool:
    """Whether a Host value is a non-empty ``uri-host [":" port]``."""
    if value in _valid_hosts:
        return True
    if not value or _HOST.fullmatch(value) is None:
        return False
    if len(_valid_hosts) < 1024:
        _valid_hosts.add(value)
    return True


_TOKEN_BYTES = re.compile(f"{_TCHAR}+".encode())


def is_token(value: bytes) -> bool:
    return _TOKEN_BYTES.fullmatch(value) is not None
