"""Proactive negotiation (RFC 9110 §12): parse Accept-* lists and choose a variant.

Pure functions over header strings; no request object, no I/O. Every chooser returns
the provided spelling of the winner (or None), so the caller puts exactly what the
resource declared into Content-Type / Content-Language.

Parsing rules, all from RFC 9110 §5.6 and §12.4.2: lists split on commas outside quoted
strings (§5.6.1, empty elements ignored); OWS allowed around ``,``, ``;`` and ``=``;
parameter names case-insensitive (§5.6.6), so ``Q=0.5`` is a weight; in Accept the first
``q`` ends the media-type parameters and what follows is accept-ext, ignored (§12.5.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence


class NegotiationError(ValueError):
    """An Accept-* header that does not parse: the flow answers 400."""


@dataclass(frozen=True)
class MediaType:
    type: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> "MediaType":
        """``"text/html; charset=UTF-8"`` → MediaType; raises NegotiationError without a ``/``."""
        parts = split_outside_quotes(value, ";")
        kind, slash, subtype = parts[0].strip().lower().partition("/")
        if not slash or not kind or not subtype or "," in kind:
            raise NegotiationError(f"not a media type: {value!r}")
        return cls(kind, subtype, dict(_params(parts[1:])))

    def matches(self, other: "MediaType") -> bool:
        """Does this range (wildcards, and every parameter it names) match ``other``?"""
        if self.type != "*" and self.type != other.type:
            return False
        if self.subtype != "*" and self.subtype != other.subtype:
            return False
        return all(_param_equal(name, value, other.params.get(name)) for name, value in self.params.items())

    @property
    def specificity(self) -> tuple[int, int]:
        # RFC 9110 §12.5.1: "more specific ranges override less specific ranges".
        level = 0 if self.type == "*" else 1 if self.subtype == "*" else 2
        return level, len(self.params)

    def __str__(self) -> str:
        params = "".join(f";{k}={_quote(v)}" for k, v in self.params.items())
        return f"{self.type}/{self.subtype}{params}"


def split_outside_quotes(value: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` except inside quoted strings (with quoted-pair escapes)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        out, escaped = [], False
        for char in inner:
            if char == "\\" and not escaped:
                escaped = True
                continue
            out.append(char)
            escaped = False
        return "".join(out)
    return value


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _params(parts: Iterable[str]) -> list[tuple[str, str]]:
    out = []
    for part in parts:
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        out.append((name.strip().lower(), _unquote(value)))
    return out


def _param_equal(name: str, want: str, have: str | None) -> bool:
    if have is None:
        return False
    # RFC 9110 §8.3.2: charset values are case-insensitive; other values are per-type.
    return want.lower() == have.lower() if name == "charset" else want == have


def _weight(value: str) -> float:
    try:
        q = float(value)
    except ValueError:
        raise NegotiationError(f"not a weight: q={value!r}") from None
    if q != q:  # NaN
        raise NegotiationError("not a weight: q=nan")
    return min(max(q, 0.0), 1.0)


def parse_accept(header: str) -> list[tuple[MediaType, float]]:
    """Accept as (range, q) in header order; raises NegotiationError on a bad element."""
    ranges = []
    for element in split_outside_quotes(header, ","):
        if not element.strip():
            continue
        parts = split_outside_quotes(element, ";")
        params: dict[str, str] = {}
        q = 1.0
        for name, value in _params(parts[1:]):
            if name == "q":
                q = _weight(value)
                break  # the rest is accept-ext (RFC 9110 §12.5.1), not media-type parameters
            params[name] = value
        base = MediaType.parse(parts[0])
        ranges.append((MediaType(base.type, base.subtype, params), q))
    return ranges


def parse_weighted(header: str) -> list[tuple[str, float]]:
    """Accept-Charset / -Encoding / -Language as (lower-cased token, q) in header order."""
    entries = []
    for element in split_outside_quotes(header, ","):
        if not element.strip():
            continue
        parts = split_outside_quotes(element, ";")
        token = parts[0].strip().lower()
        if not token or " " in token:
            raise NegotiationError(f"not a token: {parts[0]!r}")
        q = 1.0
        for name, value in _params(parts[1:]):
            if name == "q":
                q = _weight(value)
        entries.append((token, q))
    return entries


def _best(scored: Iterable[tuple[float, int, int, str]]) -> str | None:
    """Highest q > 0; ties go to the earliest deciding header element, then provided order."""
    candidates = [item for item in scored if item[0] > 0]
    if not candidates:
        return None
    return min(candidates, key=lambda item: (-item[0], item[1], item[2]))[3]


def choose_media_type(provided: Sequence[str], accept: str) -> str | None:
    """RFC 9110 §12.5.1: each provided type gets the q of its most specific matching range."""
    ranges = parse_accept(accept)
    scored = []
    for order, offer in enumerate(provided):
        media = MediaType.parse(offer)
        deciding = None
        for index, (media_range, q) in enumerate(ranges):
            if media_range.matches(media) and (deciding is None or media_range.specificity > deciding[0]):
                deciding = (media_range.specificity, q, index)
        if deciding is not None:
            scored.append((deciding[1], deciding[2], order, offer))
    return _best(scored)


def choose_charset(provided: Sequence[str], accept_charset: str) -> str | None:
    """RFC 9110 §12.5.2: exact entry, else ``*``; no entry means not acceptable."""
    entries = parse_weighted(accept_charset)
    scored = []
    for order, charset in enumerate(provided):
        exact = [(q, i) for i, (name, q) in enumerate(entries) if name == charset.lower()]
        star = [(q, i) for i, (name, q) in enumerate(entries) if name == "*"]
        deciding = (exact + star)[0] if exact or star else None
        if deciding is not None:
            scored.append((deciding[0], deciding[1], order, charset))
    return _best(scored)


#: RFC 9110 §12.5.3: "If no Accept-Encoding header field is in the request, any content
#: coding is considered acceptable"; webmachine prefers identity then, and so do we.
DEFAULT_ACCEPT_ENCODING = "identity;q=1.0, *;q=0.5"


def choose_encoding(provided: Sequence[str], accept_encoding: str) -> str | None:
    """RFC 9110 §12.5.3: exact entry, else ``*``, else identity as the last resort."""
    entries = parse_weighted(accept_encoding)
    scored = []
    last_resort = None
    for order, coding in enumerate(provided):
        exact = [(q, i) for i, (name, q) in enumerate(entries) if name == coding.lower()]
        star = [(q, i) for i, (name, q) in enumerate(entries) if name == "*"]
        deciding = (exact + star)[0] if exact or star else None
        if deciding is not None:
            scored.append((deciding[0], deciding[1], order, coding))
        elif coding.lower() == "identity":
            # "identity" is acceptable unless excluded by "identity;q=0" or "*;q=0" (handled
            # above: an entry exists then) — so it is the answer when nothing else is.
            last_resort = coding
    return _best(scored) or last_resort


def choose_language(provided: Sequence[str], accept_language: str) -> str | None:
    """RFC 4647 §3.3.1 basic filtering; the longest matching range gives the weight."""
    entries = parse_weighted(accept_language)
    scored = []
    for order, tag in enumerate(provided):
        lowered = tag.lower()
        deciding = None
        for index, (language_range, q) in enumerate(entries):
            if language_range == "*" or lowered == language_range or lowered.startswith(language_range + "-"):
                length = 0 if language_range == "*" else len(language_range)
                if deciding is None or length > deciding[0]:
                    deciding = (length, q, index)
        if deciding is not None:
            scored.append((deciding[1], deciding[2], order, tag))
    return _best(scored)


def content_type_matches(accepted: str, content_type: str) -> bool:
    """accept_helper: does a content_types_accepted entry (wildcards allowed) match a request's?"""
    try:
        return MediaType.parse(accepted).matches(MediaType.parse(content_type))
    except NegotiationError:
        return False
