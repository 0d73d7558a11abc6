"""Request-target forms (RFC 9112 §3.2)."""

from __future__ import annotations

import httptools

def parse_target(target: bytes) -> tuple[bytes, bytes]:
    """Split an origin-form or absolute-form request target into (path, query)."""
    if target[:1] != b"/":
        if target == b"*":
            return b"*", b""
        if b"://" not in target:
            return b"", b""  # authority-form (CONNECT host:port, RFC 9112 §3.2.3): no path
        url = httptools.parse_url(target)
        path = url.path or b"/"
        return path, url.query or b""
    path, sep, query = target.partition(b"?")
    return path, query
