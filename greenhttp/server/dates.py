"""The ``Date`` header, formatted once per second rather than once per response."""

from __future__ import annotations

import time
from email.utils import formatdate

_cached_second = -1
_cached_value = ""


def http_date() -> str:
    global _cached_second, _cached_value
    now = int(time.time())
    if now != _cached_second:
        _cached_value = formatdate(now, usegmt=True)
        _cached_second = now
    return _cached_value
