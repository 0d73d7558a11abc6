"""JSON and msgpack representations, reusing greenhttp's codecs.

The one module of greenhttp.resource that imports a private greenhttp module
(``greenhttp.codecs``), so a restructure of the codecs touches one line here.
"""

from __future__ import annotations

from typing import Any

from greenhttp.codecs import JSON, MSGPACK, X_MSGPACK, encode

#: Media types :func:`encode_value` can produce; handy in ``content_types_provided``.
TYPES = (JSON, MSGPACK, X_MSGPACK)


def encode_value(value: Any, media_type: str) -> bytes:
    """``value`` encoded for ``media_type`` (parameters ignored): msgpack or else JSON."""
    base = media_type.split(";", 1)[0].strip().lower()
    return encode(value, base if base in (MSGPACK, X_MSGPACK) else JSON)
