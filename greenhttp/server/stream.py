"""``Stream``: a response body that another greenlet pushes chunks into.

Hatetepe's ``stream.start/send/close`` with greenlets: return a Stream as the WSGI
body (or from any app), keep a reference, and ``send()`` from anywhere. The queue
is bounded, so a producer faster than the client blocks in ``send()`` instead of
filling memory. When the client goes away, the server closes the stream and the
producer's next ``send()`` raises :class:`StreamClosed`, so broadcasters drop dead
clients instead of leaking them.
"""

from __future__ import annotations

from typing import Iterator

import gevent.queue

from ..errors import StreamClosed

_END = object()


class Stream:
    def __init__(self, maxsize: int = 64) -> None:
        self._queue: gevent.queue.Queue = gevent.queue.Queue(maxsize)
        self._closed = False
        self._error: BaseException | None = None
        self._abandoned = False
        self.sent = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, chunk: bytes | str, timeout: float | None = None) -> None:
        """Queue one chunk; blocks while the queue is full (backpressure)."""
        if self._closed:
            raise StreamClosed("stream is closed")
        data = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
        if not data:
            return
        self._queue.put(data, timeout=timeout)
        self.sent += len(data)

    write = send

    def close(self) -> None:
        """End the body (producer side). Chunks already sent are still delivered."""
        if self._closed:
            return
        self._closed = True
        if not self._abandoned:
            self._queue.put(_END)

    def abort(self, error: BaseException) -> None:
        """End the body with an error: the server closes the connection mid-body."""
        self._error = error
        if self._closed:
            return
        self._closed = True
        self._drain()
        self._queue.put(_END)

    def abandon(self) -> None:
        """Server side: the client is gone. Wakes a blocked producer; later sends raise."""
        self._closed = True
        self._abandoned = True
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except gevent.queue.Empty:
                return

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is _END:
                if self._error is not None:
                    raise self._error
                return
            yield item

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Stream {self.sent} bytes sent, {'closed' if self._closed else 'open'}>"
