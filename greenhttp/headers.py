"""A case-insensitive, multi-valued, order-preserving header collection, and the one
mapping between header field names and WSGI environ keys (:func:`environ_key`,
:func:`field_name`)."""

from __future__ import annotations

import functools
from typing import Iterable, Iterator, Mapping, Union

HeadersLike = Union["Headers", Mapping[str, str], Iterable[tuple[str, str]], None]

# Header names repeat endlessly across requests: both directions are remembered, bounded
# (one kind of cache in greenhttp: functools.lru_cache).
_NAMES_CACHED = 4096
# PEP 3333 (CGI, RFC 3875 §4.1.2/§4.1.3): these two have keys without the HTTP_ prefix.
_UNPREFIXED = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


@functools.lru_cache(maxsize=_NAMES_CACHED)
def environ_key(name: str) -> str | None:
    """The WSGI environ key for a header field name: ``X-Forwarded-For`` →
    ``HTTP_X_FORWARDED_FOR``, ``Content-Type`` → ``CONTENT_TYPE`` (RFC 3875 §4.1.18).

    None for a name with an underscore: ``X_Forwarded_For`` would become the same key
    as ``X-Forwarded-For``, so a server drops such fields (as nginx and gunicorn do)
    rather than let one spoof the other.
    """
    if "_" in name:
        return None
    key = name.upper().replace("-", "_")
    return key if key in _UNPREFIXED else "HTTP_" + key


@functools.lru_cache(maxsize=_NAMES_CACHED)
def field_name(key: str) -> str | None:
    """Back from an environ key to a field name: ``HTTP_X_FORWARDED_FOR`` →
    ``X-Forwarded-For``; None for a key that is not a header (``wsgi.input``...).

    Exact up to case (which HTTP ignores), because :func:`environ_key` gives
    underscore names no key.
    """
    name = _UNPREFIXED.get(key)
    if name is None and key[:5] == "HTTP_":
        name = "-".join(part.capitalize() for part in key[5:].split("_"))
    return name


class Headers:
    """Header fields as received or to be sent.

    Order and repeats are kept (``Set-Cookie`` may appear many times);
    ``headers["content-type"]`` joins repeats with ``", "`` as RFC 9110 §5.3
    allows for list-valued fields, ``get_all`` returns them separately.
    """

    __slots__ = ("_items",)

    def __init__(self, items: HeadersLike = None) -> None:
        self._items: list[tuple[str, str]] = []
        if items is None:
            return
        if isinstance(items, Headers):
            self._items = list(items._items)
        elif isinstance(items, Mapping):
            self._items = [(str(k), str(v)) for k, v in items.items()]
        else:
            self._items = [(str(k), str(v)) for k, v in items]

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> "Headers":
        headers = cls()
        # latin-1 maps every byte to one code point: nothing is lost, nothing raises.
        headers._items = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
        return headers

    @classmethod
    def from_environ(cls, environ: Mapping[str, object]) -> "Headers":
        """The request's fields from a WSGI environ (:func:`field_name` of each key).

        An empty ``CONTENT_TYPE``/``CONTENT_LENGTH`` (CGI's way of saying none) is left out.
        """
        headers = cls()
        for key, value in environ.items():
            name = field_name(key)
            if name is not None and isinstance(value, str) and (value or key[:5] == "HTTP_"):
                headers._items.append((name, value))
        return headers

    def raw(self) -> list[tuple[bytes, bytes]]:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self._items]

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self._items if k.lower() == lname]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        lname = name.lower()
        return any(k.lower() == lname for k, _ in self._items)

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` with one, keeping the first one's position."""
        lname = name.lower()
        out: list[tuple[str, str]] = []
        placed = False
        for k, v in self._items:
            if k.lower() == lname:
                if not placed:
                    out.append((name, str(value)))
                    placed = True
            else:
                out.append((k, v))
        if not placed:
            out.append((name, str(value)))
        self._items = out

    def setdefault(self, name: str, value: str) -> str:
        existing = self.get(name)
        if existing is None:
            self.add(name, value)
            return value
        return existing

    def add(self, name: str, value: str) -> None:
        self._items.append((name, str(value)))

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self.remove(name)

    def remove(self, name: str) -> None:
        lname = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != lname]

    def pop(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name, default)
        self.remove(name)
        return value

    def update(self, other: HeadersLike) -> None:
        for k, v in Headers(other).items():
            self.set(k, v)

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def keys(self) -> list[str]:
        seen: dict[str, str] = {}
        for k, _ in self._items:
            seen.setdefault(k.lower(), k)
        return list(seen.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> "Headers":
        return Headers(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            other_items = other._items
        elif isinstance(other, (Mapping, list)):
            other_items = Headers(other)._items
        else:
            return NotImplemented
        norm = lambda items: sorted((k.lower(), v) for k, v in items)  # noqa: E731
        return norm(self._items) == norm(other_items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
