"""Response content codings (RFC 9110 §8.4.1): gzip, deflate, br, zstd, decoded as the body streams.

A decoder never holds a whole body: each ``decode(chunk)`` returns at most
``MAX_PIECE`` bytes per step (zlib's ``max_length``, brotli's ``output_buffer_limit``;
zstd input is fed in small slices), and :class:`_Guard` stops a decompression bomb:
past ``BOMB_FLOOR`` decoded bytes, output more than ``MAX_RATIO`` times the input is a
:class:`~greenhttp.DecodeError`. Deflate's format caps its ratio near 1032:1, so gzip and
deflate bodies never trip it; a brotli or zstd body can reach millions to one.

``br`` needs ``brotli`` or ``brotlicffi``, ``zstd`` needs ``zstandard`` (the
``greenhttp[compress]`` extra). ``Accept-Encoding`` lists only what is installed.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, Callable, Iterator

from ..errors import DecodeError

def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


# brotli (Google's binding) or brotlicffi: the same Decompressor API; zstandard for zstd.
_brotli = _optional("brotli", "brotlicffi")
_zstd = _optional("zstandard")

#: One decoded piece at most this big, whatever the compressed chunk held.
MAX_PIECE = 1024 * 1024
#: Bomb guard: decoded/encoded ratio allowed once the output passes BOMB_FLOOR.
MAX_RATIO = 2000
BOMB_FLOOR = 8 * 1024 * 1024
# zstd has no output limit per call: feed it 1 KiB slices, so one call yields at most
# ~32 MiB even for a bomb (a 128 KiB RLE block costs ~4 input bytes) before the guard
# looks; ordinary data decodes to a few KiB per slice.
_ZSTD_SLICE = 1024


def _accept_encoding() -> str:
    codings = ["gzip", "deflate"]
    if _brotli is not None:
        codings.append("br")
    if _zstd is not None:
        codings.append("zstd")
    return ", ".join(codings)


#: The default ``Accept-Encoding`` request header: what this install can decode.
ACCEPT_ENCODING = _accept_encoding()


class _Zlib:
    """gzip (RFC 1952) or deflate; "deflate" is the zlib format (RFC 9110 §8.4.1.2), but
    some servers send raw deflate, so a failing first chunk is retried raw (as curl does)."""

    def __init__(self, wbits: int) -> None:
        self.wbits = wbits
        self.obj = zlib.decompressobj(wbits)
        self.first = wbits != 16 + zlib.MAX_WBITS

    def decode(self, data: bytes) -> Iterator[bytes]:
        obj = self.obj
        try:
            piece = obj.decompress(data, MAX_PIECE)
        except zlib.error:
            if not self.first:
                raise
            self.obj = obj = zlib.decompressobj(-zlib.MAX_WBITS)
            piece = obj.decompress(data, MAX_PIECE)
        self.first = False
        yield piece
        while obj.unconsumed_tail:
            yield obj.decompress(obj.unconsumed_tail, MAX_PIECE)

    def flush(self) -> bytes:
        return self.obj.flush()


class _Brotli:
    def __init__(self) -> None:
        assert _brotli is not None
        self.obj = _brotli.Decompressor()
        self.limit = hasattr(self.obj, "can_accept_more_data")

    def decode(self, data: bytes) -> Iterator[bytes]:
        obj = self.obj
        if not self.limit:  # brotlicffi or an old brotli: no output limit per call
            yield obj.process(data) if hasattr(obj, "process") else obj.decompress(data)
            return
        yield obj.process(data, output_buffer_limit=MAX_PIECE)
        while not obj.can_accept_more_data():
            yield obj.process(b"", output_buffer_limit=MAX_PIECE)

    def flush(self) -> bytes:
        return b""


class _Zstd:
    def __init__(self) -> None:
        assert _zstd is not None
        self.obj = _zstd.ZstdDecompressor().decompressobj()

    def decode(self, data: bytes) -> Iterator[bytes]:
        decompress = self.obj.decompress
        if len(data) <= _ZSTD_SLICE:
            yield decompress(data)
            return
        view = memoryview(data)
        for start in range(0, len(data), _ZSTD_SLICE):
            yield decompress(view[start:start + _ZSTD_SLICE])

    def flush(self) -> bytes:
        return b""


_DECODERS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "deflate": lambda: _Zlib(zlib.MAX_WBITS),
}
if _brotli is not None:
    _DECODERS["br"] = _Brotli
if _zstd is not None:
    _DECODERS["zstd"] = _Zstd


def decoders_for(content_encoding: str | None) -> list[Any] | None:
    """Decoders for a Content-Encoding value, outermost first; None when there is
    nothing to do or a coding is unknown (the body is then handed over as sent)."""
    if not content_encoding:
        return None
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings or any(c not in _DECODERS for c in codings):
        return None
    # RFC 9110 §8.4: codings are listed in the order applied; undo them in reverse.
    return [_DECODERS[c]() for c in reversed(codings)]


class _Guard:
    __slots__ = ("encoded", "decoded", "max_size")

    def __init__(self, max_size: int | None) -> None:
        self.encoded = 0
        self.decoded = 0
        self.max_size = max_size

    def check(self, size: int) -> None:
        self.decoded += size
        decoded = self.decoded
        if self.max_size is not None and decoded > self.max_size:
            raise DecodeError(f"decoded response body is over the {self.max_size}-byte limit")
        if decoded > BOMB_FLOOR and decoded > MAX_RATIO * max(self.encoded, 1):
            raise DecodeError(f"response body expands more than {MAX_RATIO}:1 when decoded "
                              f"({self.encoded} to over {decoded} bytes): refusing a decompression bomb")


def _run(decoders: list[Any], data: bytes, index: int = 0) -> Iterator[bytes]:
    if index == len(decoders):
        yield data
        return
    for piece in decoders[index].decode(data):
        if piece:
            yield from _run(decoders, piece, index + 1)


def _flush(decoders: list[Any], index: int = 0) -> Iterator[bytes]:
    for i in range(index, len(decoders)):
        tail = decoders[i].flush()
        if tail:
            yield from _run(decoders, tail, i + 1)


def decoding_pull(pull: Callable[[], bytes | None], decoders: list[Any],
                  max_size: int | None = None) -> Callable[[], bytes | None]:
    """A Body ``pull`` that decodes ``pull``'s chunks; None at the end, as Body expects."""
    guard = _Guard(max_size)

    def pieces() -> Iterator[bytes]:
        try:
            while True:
                data = pull()
                if data is None:
                    break
                guard.encoded += len(data)
                for piece in _run(decoders, data):
                    guard.check(len(piece))
                    yield piece
            for piece in _flush(decoders):
                guard.check(len(piece))
                yield piece
        except (zlib.error, ValueError, RuntimeError) as exc:
            if isinstance(exc, DecodeError):
                raise
            # brotli raises brotli.error (an Exception), zstd ZstdError: caught below too.
            raise DecodeError(f"response body could not be decoded: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("brotli", "_brotli", "brotlicffi", "zstandard"):
                raise DecodeError(f"response body could not be decoded: {exc}") from exc
            raise

    iterator = pieces()

    def decoded_pull() -> bytes | None:
        return next(iterator, None)

    return decoded_pull


def decode_all(data: bytes, decoders: list[Any], max_size: int | None = None) -> bytes:
    """A whole small body (one that came with its head), through the same guard."""
    chunks = iter((data,))
    return b"".join(iter(decoding_pull(lambda: next(chunks, None), decoders, max_size), None))
