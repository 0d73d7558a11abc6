"""The connection's send side: a coalescing output buffer, sendfile, and the hub flush.

Responses leave in request order through one list of pending bytes. Complete
responses are held back while more pipelined requests are already parsed, so
sixteen pipelined GETs cost one send, not sixteen; but nothing is held longer than
the connection greenlet runs: a callback on the hub sends what is held if the next
app blocks. Every send error becomes :class:`ClientDisconnected` (the inbound
client went away, or read nothing for ``body_timeout``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gevent import get_hub
from gevent import socket as gsocket

from ..errors import ClientDisconnected
from ..sendfile import send_file
from ..settings import ServerConfig

# 64 KiB per recv: large enough for a 1 MiB upload in 16 reads, small enough that
# the per-connection bound on buffered body bytes stays small. Also the read size of
# the read/send fallback when sendfile(2) cannot be used.
RECV_SIZE = 65536
# Complete responses are held back for pipelining up to this many bytes.
OUTPUT_HOLD = 65536

TIMEOUT_ERRORS = (gsocket.timeout, TimeoutError)


class Output:
    """Mixin of :class:`HTTPConnection`: the send buffer. Slots live on the connection."""

    if not TYPE_CHECKING:
        # No slots of its own (two slotted bases would clash); mypy would reject
        # assignments to the connection's slots through an empty __slots__.
        __slots__ = ()
    sock: gsocket.socket
    _raw_sock: Any
    config: ServerConfig
    deadline: float
    _out: list[bytes]
    _out_size: int
    _flush_scheduled: bool

    def _queue(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)

    def flush(self) -> None:
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_size = 0
        self._send_now(data)

    def _hold(self) -> None:
        """Keep finished output for coalescing, but no longer than this greenlet runs:
        if the next pipelined app blocks, the hub sends what is held meanwhile."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            get_hub().loop.run_callback(self._flush_held)

    def _flush_held(self) -> None:
        # Runs in the hub: must not block, so one non-blocking send; what the kernel
        # does not take stays queued for the connection's own next flush.
        self._flush_scheduled = False
        out = self._out
        raw = self._raw_sock
        if not out or raw is None:
            return
        data = b"".join(out)
        try:
            sent = raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # the connection greenlet will meet the error itself
        out.clear()
        self._out_size = 0
        if sent < len(data):
            out.append(data[sent:])
            self._out_size = len(data) - sent

    def _send(self, data: bytes) -> None:
        """Send now, after anything held: responses leave in request order."""
        if self._out:
            self._queue(data)
            self.flush()
        else:
            self._send_now(data)

    def _send_now(self, data: bytes) -> None:
        try:
            # Fast path: one non-blocking send on the raw socket usually takes it all.
            raw = self._raw_sock
            view = memoryview(data)
            if raw is not None:
                try:
                    sent = raw.send(data)
                except BlockingIOError:
                    sent = 0
                if sent == len(data):
                    return
                view = view[sent:]
            # Slow path: the client reads slower than we write. body_timeout bounds each
            # wait for progress, not the whole transfer, so a slow steady reader is fine.
            send = self.sock.send
            timeout = self.config.body_timeout
            try:
                while view:
                    self.deadline = time.monotonic() + timeout
                    view = view[send(view):]
            finally:
                self.deadline = 0.0
        except TIMEOUT_ERRORS:
            raise ClientDisconnected(
                f"client read nothing of the response for {self.config.body_timeout}s") from None
        except OSError as exc:
            raise ClientDisconnected(f"connection lost while sending: {exc}") from exc

    def _send_file(self, file: Any, offset: int, count: int) -> int:
        """Send ``count`` bytes of ``file`` from ``offset`` (after flushing): sendfile(2)
        when the file has a descriptor, else read/send. Returns the bytes not sent
        because the file ended early."""
        self.flush()
        try:
            fileno = file.fileno()
        except (AttributeError, OSError, ValueError):
            fileno = None
        # Only on a plain kernel socket: not under TLS (no raw socket, connection.py: the
        # kernel would send the file's plaintext) nor on testing.FakeSocket (no descriptor).
        if fileno is not None and self._raw_sock is not None:
            timeout = self.config.body_timeout
            try:
                sent = send_file(self.sock.fileno(), fileno, offset, count, timeout)
            except TIMEOUT_ERRORS:
                raise ClientDisconnected(f"client read nothing of the file for {timeout}s") from None
            except OSError as exc:
                raise ClientDisconnected(f"connection lost during sendfile: {exc}") from exc
            offset += sent
            count -= sent
        if count > 0:
            file.seek(offset)
            while count > 0:
                data = file.read(min(count, RECV_SIZE))
                if not data:
                    break
                self._send(data)
                count -= len(data)
        return count
