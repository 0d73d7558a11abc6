"""Friendly errors for requests and httpx habits: the greenhttp name, said in the message.

Deliberately no aliases: one name per thing keeps ``help()`` and the docs short, and a
wrong keyword fails at once with the right name instead of meaning something subtly
different (requests' ``data=`` is a form *or* raw bytes; greenhttp splits the two).
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError

#: requests/httpx keyword -> what to write in greenhttp.
KEYWORDS = {
    "data": "body= for bytes, str, a file or an iterator; form= for a dict (urlencoded)",
    "content": "body=",
    "allow_redirects": "follow_redirects=",
    "proxies": "proxy= (a URL, or {scheme: URL})",
    "event_hooks": "hooks=",
    "max_retries": "retries= (a number or a greenhttp.Retry)",
}

#: requests/httpx Response attribute -> the greenhttp one.
ATTRIBUTES = {
    "status_code": "status",
    "reason_phrase": "reason",
    "iter_content": "iter_bytes(size)",
    "raw": "body (a greenhttp.Body; decode_content=False for the bytes as sent)",
    "is_success": "ok",
    "is_error": "not ok",
    "apparent_encoding": "encoding",
    "cookies": "headers.get_all('set-cookie'), or a Client's cookies jar",
}


def reject_keywords(unknown: dict[str, Any]) -> None:
    hints = [f"{name}= (use {KEYWORDS[name]})" if name in KEYWORDS else f"{name}="
             for name in unknown]
    raise UsageError("unexpected keyword argument" + ("s " if len(hints) > 1 else " ") + ", ".join(hints))


def missing_attribute(owner: str, name: str) -> AttributeError:
    hint = ATTRIBUTES.get(name)
    if hint is None:
        return AttributeError(f"{owner!r} object has no attribute {name!r}")
    return AttributeError(f"{owner} has no attribute {name!r}: greenhttp calls it {hint}")
