"""A streamed ``multipart/form-data`` encoder (RFC 7578).

Files are read in 64 KiB pieces as the request goes out, never whole, so uploading a
10 GiB file costs 64 KiB of memory. When every part's size is known up front (bytes,
real files, seekable file objects) the total is computed and the request gets a
Content-Length; otherwise it goes out chunked. Parts from seekable sources can be
replayed, so a redirect (307/308) or a retry on a stale connection can send them again.
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from typing import IO, Any, Iterable, Iterator, Mapping, Union

READ_SIZE = 65536


def read_in_slices(file: Any, length: int | None, size: int) -> Iterator[bytes]:
    """Read a file-like in slices of at most ``size`` bytes, ``length`` bytes in all
    (None: to the end), so a large file never sits in memory whole. Text files are
    encoded as UTF-8."""
    remaining = length
    while remaining is None or remaining > 0:
        data = file.read(size if remaining is None else min(size, remaining))
        if not data:
            return
        if isinstance(data, str):
            data = data.encode("utf-8")
        if remaining is not None:
            remaining -= len(data)
        yield data

FileSpec = Union[bytes, str, IO[bytes], tuple[Any, ...]]


def _quote(value: str) -> str:
    # WHATWG's multipart/form-data encoding: percent-encode ", CR and LF in names
    # and filenames, which is what browsers send and servers expect.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _size_of(file: Any) -> int | None:
    """Bytes left from the current position, or None when it cannot be known."""
    try:
        fileno = file.fileno()
        stat = os.fstat(fileno)
        if stat.st_size or os.path.isfile(getattr(file, "name", "") or ""):
            return max(stat.st_size - file.tell(), 0)
    except (AttributeError, OSError, ValueError):
        pass
    try:
        if file.seekable():
            position = file.tell()
            end = file.seek(0, os.SEEK_END)
            file.seek(position)
            return int(end - position)
    except (AttributeError, OSError, ValueError):
        pass
    return None


class _Part:
    __slots__ = ("head", "data", "file", "size", "start")

    def __init__(self, head: bytes, data: bytes | None = None, file: Any = None) -> None:
        self.head = head
        self.data = data
        self.file = file
        self.size: int | None = len(data) if data is not None else _size_of(file)
        self.start: int | None = None
        if file is not None:
            try:
                self.start = file.tell() if file.seekable() else None
            except (AttributeError, OSError, ValueError):
                self.start = None

    @property
    def replayable(self) -> bool:
        return self.data is not None or self.start is not None


class MultipartEncoder:
    """Iterate it for the body's bytes; ``content_type`` carries the boundary.

    ``fields``: a mapping or pairs of name → str/bytes value. ``files``: a mapping or
    pairs of name → file object, bytes, ``(filename, file_or_bytes)``,
    ``(filename, file_or_bytes, content_type)`` or
    ``(filename, file_or_bytes, content_type, extra_headers)``.
    """

    def __init__(self, fields: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
                 files: Mapping[str, FileSpec] | Iterable[tuple[str, FileSpec]] | None = None,
                 boundary: str | None = None) -> None:
        self.boundary = boundary or uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        self._parts: list[_Part] = []
        for name, value in _pairs(fields):
            if not isinstance(value, (bytes, bytearray)):
                value = str(value).encode("utf-8")
            self._parts.append(_Part(self._head(name, None, None, None), bytes(value)))
        for name, spec in _pairs(files):
            self._parts.append(self._file_part(name, spec))
        self._tail = f"--{self.boundary}--\r\n".encode("ascii")
        sizes = [p.size for p in self._parts]
        self.length: int | None = None
        if all(size is not None for size in sizes):
            # each part: head + data + CRLF
            self.length = sum(len(p.head) + (p.size or 0) + 2 for p in self._parts) + len(self._tail)
        self.replayable = all(p.replayable for p in self._parts)

    def _file_part(self, name: str, spec: FileSpec) -> _Part:
        filename: str | None = None
        content_type: str | None = None
        headers: Mapping[str, str] | None = None
        source: Any = spec
        if isinstance(spec, tuple):
            filename = spec[0]
            source = spec[1]
            if len(spec) > 2:
                content_type = spec[2]
            if len(spec) > 3:
                headers = spec[3]
        if filename is None:
            raw_name = getattr(source, "name", None)
            filename = os.path.basename(raw_name) if isinstance(raw_name, str) else name
        if content_type is None:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        head = self._head(name, filename, content_type, headers)
        if isinstance(source, str):
            source = source.encode("utf-8")
        if isinstance(source, (bytes, bytearray, memoryview)):
            return _Part(head, bytes(source))
        return _Part(head, file=source)

    def _head(self, name: str, filename: str | None, content_type: str | None,
              headers: Mapping[str, str] | None) -> bytes:
        disposition = f'form-data; name="{_quote(name)}"'
        if filename is not None:
            disposition += f'; filename="{_quote(filename)}"'
        lines = [f"--{self.boundary}", f"Content-Disposition: {disposition}"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def rewind(self) -> None:
        """Seek every file part back to where it started, for a replay."""
        for part in self._parts:
            if part.file is not None and part.start is not None:
                part.file.seek(part.start)

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if part.data is not None:
                yield part.head + part.data + b"\r\n"
                continue
            yield part.head
            yield from read_in_slices(part.file, part.size, READ_SIZE)
            yield b"\r\n"
        yield self._tail


def _pairs(items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    if items is None:
        return []
    if isinstance(items, Mapping):
        return list(items.items())
    return list(items)
