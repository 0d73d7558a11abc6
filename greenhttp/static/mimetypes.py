"""``Content-Type`` from a file name, and which precompressed sibling to send. Pure.

The table is the stdlib's *built-in* one (``mimetypes.MimeTypes()`` without the
system's /etc/mime.types, so the answer does not depend on the machine), plus
types it lacks or gets wrong for the web.
"""

from __future__ import annotations

import mimetypes as _stdlib_mimetypes
import os
from typing import Final, Optional

_EXTRA: Final = {
    ".mjs": "text/javascript",      # RFC 9239: JavaScript modules are text/javascript
    ".js": "text/javascript",       # RFC 9239 made application/javascript obsolete
    ".wasm": "application/wasm",    # streaming compilation requires exactly this type
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".webmanifest": "application/manifest+json",
    ".map": "application/json",
    ".md": "text/markdown",
    ".gz": "application/gzip",
    ".br": "application/x-brotli",  # no registered type; what nginx's mime.types omits too
    ".zst": "application/zstd",
}

_TABLE: dict[str, str] = {**_stdlib_mimetypes.MimeTypes().types_map[True], **_EXTRA}

#: Served without a charset: browsers sniff UTF-8 wrongly as windows-1252 otherwise.
_TEXTUAL: Final = frozenset({
    "application/json", "application/manifest+json", "application/xml", "image/svg+xml",
    "application/javascript",
})

DEFAULT_TYPE: Final = "application/octet-stream"


def content_type(name: str) -> str:
    """The Content-Type for a file called ``name``; text types get ``charset=utf-8``."""
    ext = os.path.splitext(name)[1].lower()
    ctype = _TABLE.get(ext, DEFAULT_TYPE)
    if ctype.startswith("text/") or ctype in _TEXTUAL:
        return ctype + "; charset=utf-8"
    return ctype


#: (Content-Encoding token, sibling suffix), in the server's order of preference
#: when the client's q-values tie: brotli and zstd compress better than gzip.
CODINGS: Final = (("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz"))


def accepted_codings(accept_encoding: Optional[str]) -> list[str]:
    """The codings of :data:`CODINGS` the client accepts, best first (RFC 9110 §12.5.3).

    q=0 means "not acceptable"; ``*`` covers codings not named; a coding with no
    q is q=1. Ties keep the server's order. Malformed q-values count as q=0.
    """
    if not accept_encoding:
        return []
    q: dict[str, float] = {}
    for item in accept_encoding.split(","):
        token, _, params = item.partition(";")
        token = token.strip().lower()
        if not token:
            continue
        weight = 1.0
        for param in params.split(";"):
            key, eq, value = param.partition("=")
            if eq and key.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
                if not 0.0 <= weight <= 1.0:
                    weight = 0.0
        if token == "x-gzip":  # §12.5.3: "x-gzip" is an alias of "gzip"
            token = "gzip"
        q[token] = weight
    star = q.get("*", 0.0)
    ranked = [(q.get(coding, star), order, coding) for order, (coding, _) in enumerate(CODINGS)]
    return [coding for weight, _, coding in sorted(ranked, key=lambda r: (-r[0], r[1])) if weight > 0]


__all__ = ["content_type", "accepted_codings", "CODINGS", "DEFAULT_TYPE"]
