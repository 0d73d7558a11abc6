"""Response bodies: str → bytes by charset, then a content coding, streamed.

A representation handler may return bytes, str, an iterable or generator of chunks, a
file, a callable returning one of those, or a :class:`greenhttp.Stream`. Fixed bodies
are encoded whole and get a Content-Length; everything else streams through
:class:`EncodedBody`, one chunk in, one (possibly empty) chunk out, so memory stays
bounded by the chunk size whatever the body's length.

Built-in codings stream with a compressor object. Chunks from a generator or file go
through the compressor's window (small chunks coalesce, as they should); chunks pushed
into a :class:`greenhttp.Stream` are sync-flushed, so an event reaches the client when it
is sent instead of waiting in the window (a few bytes per chunk, paid only there).
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Iterable, Iterator, Protocol

from greenhttp import Stream

#: Read size for file bodies: the server's own sendfile/read block.
FILE_BLOCK = 64 * 1024


class Coder(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def sync(self) -> bytes: ...  # everything so far, decodable now; the stream goes on
    def flush(self) -> bytes: ...  # the end


class _Zlib:
    def __init__(self, wbits: int) -> None:
        self._z = zlib.compressobj(6, zlib.DEFLATED, wbits)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data)

    def sync(self) -> bytes:
        return self._z.flush(zlib.Z_SYNC_FLUSH)

    def flush(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    def __init__(self) -> None:
        import brotli

        self._c = brotli.Compressor()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data))

    def sync(self) -> bytes:
        return bytes(self._c.flush())

    def flush(self) -> bytes:
        return bytes(self._c.finish())


class _Zstd:
    def __init__(self) -> None:
        import zstandard

        self._module = zstandard
        self._c = zstandard.ZstdCompressor().compressobj()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.compress(data))

    def sync(self) -> bytes:
        return bytes(self._c.flush(self._module.COMPRESSOBJ_FLUSH_BLOCK))

    def flush(self) -> bytes:
        return bytes(self._c.flush())


class _PerChunk:
    """A user's ``encoder(bytes) -> bytes``, applied to each chunk (it must be stateless)."""

    def __init__(self, function: Callable[[bytes], bytes]) -> None:
        self._function = function

    def compress(self, data: bytes) -> bytes:
        return self._function(data)

    def sync(self) -> bytes:
        return b""

    def flush(self) -> bytes:
        return b""


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


#: Streaming coders for the built-in encoder names of ``encodings_provided``.
#: gzip is RFC 1952 (wbits 16+15); deflate is the zlib format (RFC 9110 §8.4.1.2).
STREAMING: dict[str, Callable[[], Coder]] = {
    "encode_gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "encode_deflate": lambda: _Zlib(zlib.MAX_WBITS),
}
if _installed("brotli"):
    STREAMING["encode_br"] = _Brotli
if _installed("zstandard"):
    STREAMING["encode_zstd"] = _Zstd


def available_encodings() -> dict[str, str]:
    """Every coding this install can stream, best first, identity last:
    ``def encodings_provided(self): return available_encodings()``."""
    codings = {"br": "encode_br", "zstd": "encode_zstd", "gzip": "encode_gzip", "deflate": "encode_deflate"}
    out = {name: encoder for name, encoder in codings.items() if encoder in STREAMING}
    out["identity"] = "encode_identity"
    return out


def per_chunk(function: Callable[[bytes], bytes]) -> Coder:
    return _PerChunk(function)


class EncodedBody:
    """A WSGI iterable over a streaming handler body; ``close()`` closes the source
    (a generator's finally runs, a Stream's producer is told the client left)."""

    def __init__(self, source: Any, chunks: Iterable[Any], convert: Callable[[str], bytes],
                 coder: Coder | None) -> None:
        self.source = source
        self._chunks = chunks
        self._convert = convert
        self._coder = coder
        self._sync = isinstance(source, Stream)

    def __iter__(self) -> Iterator[bytes]:
        coder = self._coder
        for chunk in self._chunks:
            data = self._convert(chunk) if isinstance(chunk, str) else bytes(chunk)
            if coder is not None:
                data = coder.compress(data) + coder.sync() if self._sync else coder.compress(data)
            if data:
                yield data
        if coder is not None:
            tail = coder.flush()
            if tail:
                yield tail

    def close(self) -> None:
        close_source(self.source)


def close_source(source: Any) -> None:
    if isinstance(source, Stream):
        if not source.closed:
            source.abandon()
        return
    close = getattr(source, "close", None)
    if callable(close):
        close()


def _file_blocks(file: Any) -> Iterator[Any]:
    while True:
        data = file.read(FILE_BLOCK)
        if not data:
            return
        yield data


def encode_body(body: Any, convert: Callable[[str], bytes], coder: Coder | None,
                file_wrapper: Any = None) -> tuple[bytes | None, Any]:
    """(fixed bytes, None) for a body known whole, else (None, WSGI iterable)."""
    if callable(body) and not isinstance(body, (Stream, type)) and not hasattr(body, "read") \
            and not hasattr(body, "__iter__"):
        body = body()  # webmachine's Proc bodies
    if body is None:
        body = b""
    if isinstance(body, str):
        body = convert(body)
    if isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        if coder is not None:
            data = coder.compress(data) + coder.flush()
        return data, None
    if hasattr(body, "read"):
        if coder is None and file_wrapper is not None and hasattr(body, "fileno") and "b" in getattr(body, "mode", ""):
            return None, file_wrapper(body, FILE_BLOCK)  # sendfile(2) on greenhttp's server
        return None, EncodedBody(body, _file_blocks(body), convert, coder)
    if isinstance(body, Stream) and coder is None:
        return None, body  # the server itself abandons a Stream whose client left
    return None, EncodedBody(body, body, convert, coder)
