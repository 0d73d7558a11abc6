"""Request items in HTTPie's syntax, and what a request made of them looks like.

Pure: no sockets, no gevent, no terminal. ``greenhttp repl`` and the one-shot verbs
(``greenhttp get URL items...``) parse their words here, merge them with the
session's sticky items, and turn the result into ``Client.request`` keywords or a
curl command line.

The separators, as HTTPie defines them (https://httpie.io/docs/cli/request-items)::

    Header:value     a header            Header;        a header with an empty value
    name==value      a query parameter
    field=value      a data field (str)  field:=json    a data field (any JSON value)
    field=@file      a str field read from a file      field:=@file   JSON read from a file
    field@file       a file upload (multipart/form-data); "@file" alone names the field "file"
    <file            the file is the raw request body

In a token the leftmost separator wins, and at one position the longest one
(``a:=1`` is JSON, not the header ``a`` with ``=1``). A backslash makes the next
separator character literal: ``'a\\=b=c'`` is the field ``a=b``.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shlex
from typing import Any, Iterable, NamedTuple

from ..errors import ItemError

# Longest first: at one position ":=@" must win over ":=" and ":".
SEPARATORS: tuple[tuple[str, str], ...] = (
    (":=@", "json_file"),
    ("=@", "field_file"),
    (":=", "json"),
    ("==", "param"),
    ("=", "field"),
    (":", "header"),
    (";", "empty_header"),
    ("@", "file"),
)
_SEPARATOR_CHARS = frozenset(":=@;")

#: kind -> the group an item replaces within (a later ``Accept:x`` replaces ``Accept:y``).
GROUPS = {
    "header": "header", "empty_header": "header",
    "param": "param",
    "field": "data", "json": "data", "field_file": "data", "json_file": "data", "file": "data",
    "body": "body",
}

# RFC 9110 §5.6.2 token characters: what a field name may be made of.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

FORMATS = ("json", "msgpack", "form")


class Item(NamedTuple):
    kind: str
    name: str
    value: Any  # str; a parsed JSON value for "json"/"json_file"; a path for files and "<"
    raw: str  # the token as typed, for `env`, `save` and completion

    @property
    def group(self) -> str:
        return GROUPS[self.kind]

    def key(self) -> tuple[str, str]:
        name = self.name.lower() if self.group == "header" else self.name
        return (self.group, name)


def _unescape(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _SEPARATOR_CHARS | {"\\"}:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def split_item(token: str) -> tuple[str, str, str] | None:
    """``(kind, name, value)`` of the leftmost (then longest) separator, or None."""
    i = 0
    while i < len(token):
        char = token[i]
        if char == "\\":
            i += 2
            continue
        if char in _SEPARATOR_CHARS:
            for separator, kind in SEPARATORS:
                if token.startswith(separator, i):
                    return kind, _unescape(token[:i]), token[i + len(separator):]
        i += 1
    return None


def is_item(token: str) -> bool:
    return token.startswith("<") or split_item(token) is not None


def _read_text(path: str, token: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise ItemError(f"cannot read {path!r} for {token!r}: {exc.strerror or exc}") from None


def _check_file(path: str, token: str) -> str:
    full = os.path.expanduser(path)
    if not path:
        raise ItemError(f"no file named in {token!r}")
    if not os.path.isfile(full):
        raise ItemError(f"no such file: {path!r} (in {token!r})")
    return full


def parse_item(token: str) -> Item:
    """One request item; :class:`ItemError` with a one-line reason if it is not one."""
    if token.startswith("<"):
        path = token[1:].strip()
        return Item("body", "", _check_file(path, token), token)
    split = split_item(token)
    if split is None:
        raise ItemError(f"not a request item: {token!r} (expected Header:value, name==value, "
                        "field=value, field:=json, field@file or <file)")
    kind, name, value = split
    if kind in ("header", "empty_header"):
        if not name or not all(c in _TCHAR for c in name):
            raise ItemError(f"invalid header name {name!r} in {token!r}")
        if kind == "empty_header":
            if value:
                raise ItemError(f"'Header;' takes no value, got {token!r}")
            value = ""
        value = value.strip()
        if "\r" in value or "\n" in value:
            raise ItemError(f"a header value cannot contain a line break: {token!r}")
        return Item(kind, name, value, token)
    if kind == "file":
        return Item(kind, name or "file", _check_file(value, token), token)
    if not name:
        raise ItemError(f"missing name before the separator in {token!r}")
    if kind == "field_file":
        return Item(kind, name, _read_text(value, token), token)
    if kind in ("json", "json_file"):
        text = _read_text(value, token) if kind == "json_file" else value
        try:
            return Item(kind, name, json.loads(text), token)
        except ValueError as exc:
            raise ItemError(f"invalid JSON in {token!r}: {exc}") from None
    return Item(kind, name, value, token)


def parse_items(tokens: Iterable[str]) -> list[Item]:
    return [parse_item(token) for token in tokens]


def split_line(line: str) -> list[str]:
    """Shell-like words; an unclosed quote is an :class:`ItemError`."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise ItemError(f"cannot split the line: {exc}") from None


def merge(sticky: Iterable[Item], extra: Iterable[Item]) -> list[Item]:
    """``sticky`` then ``extra``; an extra item replaces sticky ones with the same name.

    Within ``extra`` repeats are kept (``a==1 a==2`` sends both), as HTTPie does.
    """
    extra = list(extra)
    replaced = {item.key() for item in extra}
    if any(item.kind == "body" for item in extra):
        replaced.add(("body", ""))
    return [item for item in sticky if item.key() not in replaced] + extra


def add_sticky(sticky: list[Item], item: Item) -> list[Item]:
    """The session's items with ``item`` set (replacing one of the same name)."""
    return [old for old in sticky if old.key() != item.key()] + [item]


# -- turning items into a request ---------------------------------------------------------


class RequestSpec(NamedTuple):
    """Everything ``Client.request`` needs, plus what ``curl`` needs to say it again."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    params: list[tuple[str, str]]
    body_kind: str | None  # None, "json", "msgpack", "form", "multipart", "file"
    data: Any  # dict of fields for json/msgpack/form/multipart; a path for "file"
    files: list[tuple[str, str]]  # (field, path) for multipart

    def request_kwargs(self) -> tuple[dict[str, Any], list[Any]]:
        """Keywords for ``Client.request`` and the files it opened (close them after)."""
        kwargs: dict[str, Any] = {"headers": self.headers, "params": self.params or None}
        opened: list[Any] = []
        try:
            if self.body_kind == "json":
                kwargs["json"] = self.data
            elif self.body_kind == "msgpack":
                kwargs["msgpack"] = self.data
            elif self.body_kind == "form":
                kwargs["form"] = _form_pairs(self.data)
            elif self.body_kind == "multipart":
                kwargs["form"] = _form_pairs(self.data)
                files = []
                for field, path in self.files:
                    f = open(path, "rb")
                    opened.append(f)
                    files.append((field, (os.path.basename(path), f)))
                kwargs["files"] = files
            elif self.body_kind == "file":
                f = open(self.data, "rb")
                opened.append(f)
                kwargs["body"] = f
        except OSError as exc:
            for f in opened:
                f.close()
            raise ItemError(f"cannot open {exc.filename!r}: {exc.strerror}") from None
        return kwargs, opened


def _form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _form_pairs(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name, _form_value(value)) for name, value in data.items()]


def build_request(method: str, url: str, items: Iterable[Item], body_format: str = "json") -> RequestSpec:
    """Group items into headers, params and one body, checking they go together."""
    if body_format not in FORMATS:
        raise ItemError(f"unknown body format {body_format!r} (one of {', '.join(FORMATS)})")
    headers: list[tuple[str, str]] = []
    params: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    files: list[tuple[str, str]] = []
    raw_body: str | None = None
    for item in items:
        if item.group == "header":
            headers.append((item.name, item.value))
        elif item.kind == "param":
            params.append((item.name, item.value))
        elif item.kind == "file":
            files.append((item.name, item.value))
        elif item.kind == "body":
            raw_body = item.value
        else:
            data[item.name] = item.value
    if raw_body is not None:
        if data or files:
            raise ItemError("a raw body (<file) cannot be combined with data fields or file uploads")
        if not any(name.lower() == "content-type" for name, _ in headers):
            # As curl -T does not, but HTTPie does: "<photo.jpg" is sent as image/jpeg.
            guessed, _ = mimetypes.guess_type(raw_body)
            if guessed:
                headers.append(("Content-Type", guessed))
        return RequestSpec(method, url, headers, params, "file", raw_body, [])
    if files:
        return RequestSpec(method, url, headers, params, "multipart", data, files)
    if data:
        return RequestSpec(method, url, headers, params, body_format, data, [])
    return RequestSpec(method, url, headers, params, None, None, [])


# -- curl ------------------------------------------------------------------------------------


def to_curl(spec: RequestSpec, follow_redirects: bool = True, timeout: float | None = None) -> str:
    """A curl command line that sends the same request."""
    from urllib.parse import urlencode

    url = spec.url
    if spec.params:
        url += ("&" if "?" in url else "?") + urlencode(spec.params)
    words = ["curl"]
    if spec.method == "HEAD":
        words.append("-I")
    elif spec.method != "GET" or spec.body_kind is not None:
        words += ["-X", spec.method]
    if follow_redirects:
        words.append("-L")
    if timeout is not None:
        words += ["--max-time", f"{timeout:g}"]
    words.append(url)
    names = {name.lower() for name, _ in spec.headers}
    for name, value in spec.headers:
        # curl's syntax for a header with an empty value is "Name;".
        words += ["-H", f"{name}: {value}" if value else f"{name};"]
    prefix = ""
    if spec.body_kind == "json":
        if "content-type" not in names:
            words += ["-H", "Content-Type: application/json"]
        words += ["--data-raw", json.dumps(spec.data, ensure_ascii=False, separators=(",", ":"))]
    elif spec.body_kind == "form":
        for name, value in _form_pairs(spec.data):
            words += ["--data-urlencode", f"{name}={value}"]
    elif spec.body_kind == "multipart":
        for name, value in _form_pairs(spec.data):
            words += ["--form-string", f"{name}={value}"]
        for name, path in spec.files:
            words += ["-F", f"{name}=@{path}"]
    elif spec.body_kind == "file":
        words += ["--data-binary", f"@{spec.data}"]
    elif spec.body_kind == "msgpack":
        import msgpack

        if "content-type" not in names:
            words += ["-H", "Content-Type: application/msgpack"]
        words += ["--data-binary", "@-"]
        # Binary cannot sit in an argument; printf's octal escapes feed it on stdin.
        packed = msgpack.packb(spec.data, use_bin_type=True)
        prefix = "printf '" + "".join(f"\\{b:03o}" for b in packed) + "' | "
    return prefix + " ".join(shlex.quote(word) for word in words)
