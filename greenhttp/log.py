"""Loggers and the access-log line.

``greenhttp.access`` gets one line per request, ``greenhttp.error`` tracebacks and
one-line connection problems. The CLI points both at stderr; embedders configure
them like any other logger.
"""

from __future__ import annotations

import logging

access_logger = logging.getLogger("greenhttp.access")
error_logger = logging.getLogger("greenhttp.error")

# Everything outside printable ASCII becomes a visible escape, so a request line
# cannot forge log lines or send terminal escape sequences to whoever tails the log.
_ESCAPES = {i: f"\\x{i:02x}" for i in list(range(0x20)) + list(range(0x7F, 0x100))}
_ESCAPES[ord("\\")] = "\\\\"
_ESCAPES[ord('"')] = '\\"'


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def access_line(client: str, method: str | None, target: bytes, version: str, status: int,
                sent: int, seconds: float) -> str:
    """One access-log line. ``method`` None: no request line could be parsed (a request
    rejected before it had one), shown as ``"-"`` like nginx and gunicorn do."""
    if method is None:
        request_line = "-"
    else:
        request_line = escape(f"{method} {target.decode('latin-1')} HTTP/{version}")
    return f'{client} "{request_line}" {status} {sent} {seconds * 1000:.1f}ms'
