"""The REPL's URLs: HTTPie's shorthands and ``cd``'s navigation."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit, urlunsplit

from ..errors import ReplError
from .items import is_item


def normalize_url(text: str) -> str:
    """HTTPie's shorthands: ``:8080/x`` is localhost, a missing scheme is http://."""
    if text.startswith(":"):
        text = "localhost" + text
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReplError(f"not an http(s) URL: {text!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def is_target(word: str) -> bool:
    """Whether a request's first word is where to send it rather than a request item."""
    return ("://" in word or word.startswith(("/", ".", "?")) or bool(re.match(r":\d", word))
            or not is_item(word))


def join_url(current: str, target: str) -> str:
    """``target`` seen from ``current`` as a directory: ``cd users`` goes below, ``..`` up."""
    if not target:
        return current
    if "://" in target or target.startswith(":"):
        return normalize_url(target)
    parts = urlsplit(current)
    path_part, _, query = target.partition("?")
    if path_part.startswith("/"):
        path = path_part
    else:
        path = posixpath.join(parts.path or "/", path_part)
    trailing = path.endswith("/") and path != "/"
    path = posixpath.normpath(path) if path_part else parts.path
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if trailing and not path.endswith("/"):
        path += "/"
    return urlunsplit((parts.scheme, parts.netloc, path or "/", query, ""))


