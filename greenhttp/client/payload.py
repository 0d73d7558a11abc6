"""Client request bodies: what a ``body=``/``json=``/``form=``/``files=`` argument
becomes on the wire (length, replayability, content type), streamed in pieces."""

from __future__ import annotations

import os
import zlib
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlencode

from ..body import Body
from ..codecs import JSON, MSGPACK, encode
from ..errors import UsageError
from .multipart import MultipartEncoder, read_in_slices

# Bodies are written in slices of this size so that progress() can report as they go.
WRITE_SIZE = 262144
# compress=: zlib's wbits for each coding (RFC 9110 §8.4.1: gzip is RFC 1952, deflate
# the zlib format of RFC 1950). Level 6 is zlib's and gzip(1)'s default.
_WBITS = {"gzip": 31, "deflate": 15}
COMPRESS_LEVEL = 6



# -- request bodies -----------------------------------------------------------------


class _FileRegion:
    __slots__ = ("file", "offset", "count")

    def __init__(self, file: Any, offset: int, count: int) -> None:
        self.file = file
        self.offset = offset
        self.count = count


class _Payload:
    """A request body ready to send: its framing, whether it can be sent again, its bytes."""

    __slots__ = ("kind", "source", "length", "replayable", "content_type", "start", "regular_file")

    def __init__(self, kind: str, source: Any, length: int | None, replayable: bool,
                 content_type: str | None = None) -> None:
        self.kind = kind
        self.source = source
        self.length = length
        self.replayable = replayable
        self.content_type = content_type
        self.start: int | None = None
        self.regular_file = False

    @classmethod
    def prepare(cls, body: Any = None, json: Any = ..., msgpack: Any = ..., form: Any = None,
                files: Any = None) -> "_Payload | None":
        if json is not ...:
            try:
                data = encode(json, JSON)
            except ValueError as exc:  # NaN/Infinity: greenhttp's own server would answer 400
                raise UsageError(f"json= value cannot be sent as JSON: {exc}") from exc
            return cls("bytes", data, len(data), True, JSON)
        if msgpack is not ...:
            data = encode(msgpack, MSGPACK)
            return cls("bytes", data, len(data), True, MSGPACK)
        if files:
            encoder = MultipartEncoder(form, files)
            return cls("multipart", encoder, encoder.length, encoder.replayable, encoder.content_type)
        if form is not None:
            pairs = list(form.items()) if isinstance(form, Mapping) else list(form)
            data = urlencode(pairs, doseq=True).encode("ascii")
            return cls("bytes", data, len(data), True, "application/x-www-form-urlencoded")
        if body is None:
            return None
        if isinstance(body, str):
            data = body.encode("utf-8")
            return cls("bytes", data, len(data), True, "text/plain; charset=utf-8")
        if isinstance(body, (bytes, bytearray, memoryview)):
            return cls("bytes", body, len(body), True)
        if isinstance(body, Body):
            # A server-side Body forwarded as it arrives (the proxy's path). It
            # cannot be rewound: no retry, no 307 replay.
            return cls("iter", body, body.length, False)
        if hasattr(body, "read"):
            return cls._file(body)
        if isinstance(body, (list, tuple)):
            parts = [p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in body]
            return cls("iter", parts, sum(len(p) for p in parts), True)
        if isinstance(body, Iterable):
            return cls("iter", body, None, False)
        raise TypeError(f"cannot send a {type(body).__name__} as a request body")

    @classmethod
    def _file(cls, file: Any) -> "_Payload":
        from .multipart import _size_of

        length = _size_of(file)
        start: int | None = None
        try:
            if file.seekable():
                start = file.tell()
        except (AttributeError, OSError, ValueError):
            start = None
        payload = cls("file", file, length, start is not None)
        payload.start = start
        try:
            payload.regular_file = length is not None and os.path.isfile(file.name) and file.fileno() >= 0
        except (AttributeError, OSError, ValueError, TypeError):
            payload.regular_file = False
        return payload

    def rewind(self) -> bool:
        """Get ready to send the body again; False if it cannot be replayed."""
        if not self.replayable:
            return False
        if self.kind == "file" and self.start is not None:
            self.source.seek(self.start)
        elif self.kind == "multipart":
            self.source.rewind()
        return True

    def compressed(self, coding: str) -> "_Payload":
        """This body in a content coding (``compress="gzip"``): compressed at once when it
        is bytes in memory (and keeps a Content-Length), else as it streams (chunked)."""
        wbits = _WBITS.get(coding)
        if wbits is None:
            raise UsageError(f"compress= takes {' or '.join(map(repr, _WBITS))}, not {coding!r}")
        if self.kind == "bytes":
            compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, wbits)
            data = compressor.compress(self.source) + compressor.flush()
            return _Payload("bytes", data, len(data), True, self.content_type)
        return _Payload("iter", _Compressing(self, wbits), None, self.replayable, self.content_type)

    def pieces(self, sendfile: bool) -> Iterator[Any]:
        kind = self.kind
        source = self.source
        if kind == "bytes":
            view = memoryview(source).cast("B") if not isinstance(source, bytes) else source
            for offset in range(0, len(view), WRITE_SIZE):
                yield view[offset:offset + WRITE_SIZE]
        elif kind == "file":
            if sendfile and self.regular_file and self.start is not None and self.length:
                # sendfile(2) with an explicit offset leaves the file position alone.
                yield _FileRegion(source, self.start, self.length)
                return
            yield from read_in_slices(source, self.length, WRITE_SIZE)
        else:
            for data in source:
                if isinstance(data, str):
                    data = data.encode("utf-8")
                yield data


class _Compressing:
    """A body compressed as it is read: each iteration starts from the top of the inner
    body (rewound when it can be), so a replayable body stays replayable."""

    __slots__ = ("inner", "wbits", "used")

    def __init__(self, inner: _Payload, wbits: int) -> None:
        self.inner = inner
        self.wbits = wbits
        self.used = False

    def __iter__(self) -> Iterator[bytes]:
        if self.used:
            self.inner.rewind()
        self.used = True
        compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, self.wbits)
        for piece in self.inner.pieces(False):
            data = compressor.compress(piece)
            if data:
                yield data
        yield compressor.flush()
