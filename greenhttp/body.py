"""``Body``: a message body that yields chunks as they come off the connection.

Hatetepe's idea, done with greenlets: the app gets the body as soon as the head is
parsed and pulls it chunk by chunk. The body holds no socket; whoever created it
passes a ``pull`` function that blocks (cooperatively) until the next chunk is
there and returns ``None`` at the end. So one class serves the server's request
bodies, the client's response bodies, and test bodies built from bytes, and a
server-side Body can be handed to the client as a request body unchanged.

Memory: a Body keeps at most the remainder of one chunk (what ``read(n)`` or
``readline()`` did not take). Everything else stays in the kernel until pulled.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, MutableMapping

from .headers import Headers

Pull = Callable[[], "bytes | None"]

#: Block size when a Body is built over a plain ``wsgi.input``.
_INPUT_BLOCK = 64 * 1024


class Body:
    """A stream of body chunks with a file-like face.

    Iterate it for chunks as they arrive; or ``read(n)``, ``read()``,
    ``readline()``, ``readlines()``. ``received`` counts bytes pulled so far,
    ``length`` is the declared Content-Length (None when chunked or unknown),
    ``complete`` turns true once the end has been seen, and ``trailers`` holds
    a chunked body's trailer fields after that.
    """

    __slots__ = ("_pull", "length", "received", "complete", "trailers", "_buffer",
                 "_on_complete", "__weakref__")

    def __init__(self, pull: Pull, length: int | None = None,
                 on_complete: Callable[["Body"], None] | None = None) -> None:
        self._pull = pull
        self.length = length
        self.received = 0
        self.complete = False
        self.trailers: Headers | None = None
        self._buffer = b""
        self._on_complete = on_complete

    # -- constructors ---------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes) -> "Body":
        chunks = [data] if data else []
        return cls.from_iterable(chunks, length=len(data))

    @classmethod
    def from_iterable(cls, chunks: Iterable[bytes], length: int | None = None) -> "Body":
        iterator = iter(chunks)
        return cls(lambda: next(iterator, None), length)

    @classmethod
    def empty(cls) -> "Body":
        body = cls(lambda: None, 0)
        body.complete = True
        return body

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, Any]) -> "Body":
        """The request body of a WSGI environ, shared by everyone who asks.

        Under greenhttp's server, its own ``environ["greenhttp.body"]``. Under another
        WSGI server (or WebTest), a Body over ``wsgi.input`` bounded by CONTENT_LENGTH,
        stored as ``greenhttp.body``; empty when there is no length and the input is not
        ``wsgi.input_terminated`` (PEP 3333: reading past the length may hang).
        """
        body = environ.get("greenhttp.body")
        if body is not None:
            return body
        stream = environ.get("wsgi.input")
        try:
            length: int | None = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            length = None
        if stream is None or length == 0 or (length is None and not environ.get("wsgi.input_terminated")):
            body = cls.empty()
        else:
            remaining = [length]

            def pull() -> bytes | None:
                want = _INPUT_BLOCK if remaining[0] is None else min(_INPUT_BLOCK, remaining[0])
                if want <= 0:
                    return None
                data = stream.read(want)
                if not data:
                    return None
                if remaining[0] is not None:
                    remaining[0] -= len(data)
                return bytes(data)

            body = cls(pull, length)
        environ["greenhttp.body"] = body
        return body

    # -- the primitive ------------------------------------------------------------

    def _next_chunk(self) -> bytes | None:
        if self.complete:
            return None
        while True:
            data = self._pull()
            if data is None:
                self._finish()
                return None
            if data:
                self.received += len(data)
                return data

    def _finish(self) -> None:
        self.complete = True
        if self._on_complete is not None:
            callback, self._on_complete = self._on_complete, None
            callback(self)

    # -- reading ------------------------------------------------------------------

    def __iter__(self) -> Iterator[bytes]:
        if self._buffer:
            data, self._buffer = self._buffer, b""
            yield data
        while True:
            chunk = self._next_chunk()
            if chunk is None:
                return
            yield chunk

    def chunks(self) -> Iterator[bytes]:
        return iter(self)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left if negative); ``b""`` at the end.

        Like ``io.RawIOBase.read`` it returns as soon as it has something, so it may
        return fewer than ``size`` bytes before the end.
        """
        if size is None or size < 0:
            parts = [self._buffer] if self._buffer else []
            self._buffer = b""
            while (data := self._next_chunk()) is not None:
                parts.append(data)
            return b"".join(parts)
        if size == 0:
            return b""
        data = self._buffer
        if not data:
            data = self._next_chunk() or b""
        if len(data) > size:
            self._buffer = data[size:]
            return data[:size]
        self._buffer = b""
        return data

    def readexactly(self, size: int) -> bytes:
        """Exactly ``size`` bytes, or fewer only if the body ends first."""
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            data = self.read(wanted)
            if not data:
                break
            parts.append(data)
            wanted -= len(data)
        return b"".join(parts)

    def readline(self, size: int = -1) -> bytes:
        """One line including its ``\\n`` (at most ``size`` bytes if given)."""
        parts: list[bytes] = []
        got = 0
        while True:
            data = self._buffer or self._next_chunk()
            self._buffer = b""
            if not data:
                break
            limit = len(data) if size is None or size < 0 else min(len(data), size - got)
            newline = data.find(b"\n", 0, limit)
            end = newline + 1 if newline >= 0 else limit
            parts.append(data[:end])
            self._buffer = data[end:]
            got += end
            if newline >= 0 or (size is not None and 0 <= size <= got):
                break
        return b"".join(parts)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def discard(self, limit: int | None = None) -> bool:
        """Read and drop the rest, up to ``limit`` bytes. True if the end was reached."""
        dropped = len(self._buffer)
        self._buffer = b""
        while not self.complete:
            if limit is not None and dropped > limit:
                return False
            data = self._next_chunk()
            if data is not None:
                dropped += len(data)
        return True

    def text(self, encoding: str = "utf-8", errors: str = "replace") -> str:
        return self.read().decode(encoding, errors)

    def __repr__(self) -> str:
        state = "complete" if self.complete else "open"
        return f"<Body {self.received}/{self.length if self.length is not None else '?'} bytes, {state}>"


class WSGIInput:
    """PEP 3333's ``wsgi.input``: a file-like view over a :class:`Body`, no second buffer.

    It differs from the Body only where PEP 3333 says so: iteration yields lines.
    """

    __slots__ = ("body",)

    def __init__(self, body: Body) -> None:
        self.body = body

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.body.read()
        # PEP 3333 apps often loop "until read(n) returns b''", but some assume a full
        # read; fill up to size so they see what a file would give them.
        return self.body.readexactly(size)

    def readline(self, size: int = -1) -> bytes:
        return self.body.readline(size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self.body.readlines(hint)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.body.readline():
            yield line
