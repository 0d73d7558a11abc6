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
# RFC 9110 §5.1: field names are tokens.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

# Header names our side sends repeat endlessly; remember the ones already checked.
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
