"""The store of one server's workers: records held by the master, over a unix socket.

With ``greenhttp APP -w N`` (N > 1) a progress poll may reach another worker than the
upload. The master process, which never serves HTTP, holds a :class:`MemoryStore` and
answers workers on a unix socket in a private directory (``mkdtemp``: mode 0700, so
only the server's user can connect); each worker's middleware uses a
:class:`SharedStore` client, connected on first use.

Wire format: frames of a 4-byte big-endian length and a msgpack value (the same framing
as many RPC protocols; msgpack because the records already travel as msgpack to the
progress endpoint). A request is ``["put", record]`` or ``["get", id]``; the answer is
``[true, value]`` (``value`` the record or nil for a get, nil for a put), or
``[false, message]`` for a request the master does not understand. A frame over
:data:`MAX_FRAME` closes the connection: a record is a few hundred bytes.

Failure is never the upload's problem: the client raises ``OSError`` when the master
does not answer within ``timeout``, and the middleware (``GuardedStore``) then skips
progress writes for a while. A connection found broken (the master restarted the store)
is replaced once, at once.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import threading
from typing import Any

import msgpack

from ..codecs import parse_msgpack
from ..log import error_logger
from .core import MemoryStore, Progress

__all__ = ["SharedStore", "SharedStoreServer", "MAX_FRAME"]

HEADER = struct.Struct(">I")
#: A record is a few hundred bytes (the error message is capped by the middleware's
#: exception text); 64 KiB refuses garbage long before it costs memory.
MAX_FRAME = 64 * 1024


def send_frame(sock: Any, value: Any) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    if len(data) > MAX_FRAME:
        raise ValueError(f"frame of {len(data)} bytes is over {MAX_FRAME}")
    sock.sendall(HEADER.pack(len(data)) + data)


def _recv_exactly(sock: Any, size: int) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            if buffer:
                raise ConnectionError("progress store: connection closed mid-frame")
            return None
        buffer += chunk
    return bytes(buffer)


def recv_frame(sock: Any) -> Any:
    """The next value; raises EOFError at a clean end of the stream."""
    header = _recv_exactly(sock, HEADER.size)
    if header is None:
        raise EOFError
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ConnectionError(f"progress store: frame of {size} bytes is over {MAX_FRAME}")
    data = _recv_exactly(sock, size) if size else b""
    if data is None:
        raise ConnectionError("progress store: connection closed mid-frame")
    return parse_msgpack(data)


class SharedStoreServer:
    """The master's side. ``start()`` listens (in a temp dir of its own unless ``path``
    is given) and serves every worker's connection from one thread; ``stop()`` closes the
    socket and every connection but keeps the records, so ``start()`` again restarts
    the store; ``close()`` also removes the socket and its directory.

    One thread with a selector, not a greenlet: the master imports no gevent
    (greenhttp.server.workers). One thread also means the :class:`MemoryStore`, which has
    no lock, sees one request at a time. Under monkey-patching (tests, an embedder)
    ``threading`` and ``selectors`` are gevent's and the thread is a greenlet."""

    def __init__(self, path: str | None = None, store: MemoryStore | None = None) -> None:
        self.directory: str | None = None
        if path is None:
            # mkdtemp makes the directory 0700: other users cannot even reach the socket.
            self.directory = tempfile.mkdtemp(prefix="greenhttp-progress-")
            path = os.path.join(self.directory, "store.sock")
        self.path = path
        self.store = store if store is not None else MemoryStore()
        self._listener: Any = None
        self._waker: Any = None  # (read, write) socket pair: stop() wakes the thread
        self._thread: threading.Thread | None = None
        self._connections: dict[Any, bytearray] = {}

    def start(self) -> "SharedStoreServer":
        import socket

        try:
            os.unlink(self.path)  # a socket left by a store that did not close
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        os.chmod(self.path, 0o600)
        listener.listen(128)
        listener.setblocking(False)
        self._listener = listener
        self._waker = socket.socketpair()
        self._thread = threading.Thread(target=self._loop, args=(listener, self._waker[0]),
                                        name="greenhttp-progress-store", daemon=True)
        self._thread.start()
        return self

    def _loop(self, listener: Any, waker: Any) -> None:
        import selectors

        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ, "accept")
        selector.register(waker, selectors.EVENT_READ, "stop")
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "stop":
                        return
                    if key.data == "accept":
                        try:
                            conn, _ = listener.accept()
                        except OSError:  # gone before we took it
                            continue
                        # Blocking with a bound: a worker that stops reading cannot hold
                        # the store (and every other worker's calls) for longer.
                        conn.settimeout(1.0)
                        self._connections[conn] = bytearray()
                        selector.register(conn, selectors.EVENT_READ)
                    elif not self._serve(key.fileobj):
                        selector.unregister(key.fileobj)
                        self._drop(key.fileobj)
        finally:
            selector.close()

    def _serve(self, conn: Any) -> bool:
        """Answer the complete frames a readable connection has; False: drop it."""
        buffer = self._connections[conn]
        try:
            chunk = conn.recv(MAX_FRAME + HEADER.size)
            if not chunk:
                return False
            buffer += chunk
            while len(buffer) >= HEADER.size:
                (size,) = HEADER.unpack_from(buffer)
                if size > MAX_FRAME:
                    raise ValueError(f"frame of {size} bytes is over {MAX_FRAME}")
                if len(buffer) < HEADER.size + size:
                    break
                request = parse_msgpack(bytes(buffer[HEADER.size:HEADER.size + size]))
                del buffer[:HEADER.size + size]
                send_frame(conn, self.handle(request))
        except (OSError, ValueError) as exc:  # a worker died mid-frame, or sent garbage
            error_logger.debug("progress store: dropping a connection: %s", exc)
            return False
        return True

    def _drop(self, conn: Any) -> None:
        self._connections.pop(conn, None)
        conn.close()

    def handle(self, request: Any) -> list[Any]:
        """One request -> its answer. Never raises: a bad request gets ``[False, why]``."""
        try:
            op, arg = request
            if op == "put":
                self.store.put(Progress.from_dict(arg))
                return [True, None]
            if op == "get":
                progress = self.store.get(arg)
                return [True, None if progress is None else progress.to_dict()]
        except (TypeError, ValueError) as exc:
            return [False, f"bad request: {exc}"]
        return [False, f"unknown operation {op!r}"]

    def stop(self) -> None:
        """Close the socket and the connections (workers reconnect on their next call)."""
        if self._waker is not None and self._thread is not None:
            self._waker[1].send(b"x")
            self._thread.join(5.0)
        self._release()

    def _release(self) -> None:
        for sock in [self._listener, *(self._waker or ()), *self._connections]:
            if sock is not None:
                sock.close()
        self._listener = self._waker = self._thread = None
        self._connections.clear()

    def close(self) -> None:
        """Stop and remove the socket and its directory (the master's exit)."""
        self.stop()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def abandon(self) -> None:
        """In a forked worker: close the master's socket and connections, which fork
        duplicated (its thread was not: only the forking thread lives on in a child).
        Closing a copy does not shut the master's connection down."""
        self._release()


class SharedStore:
    """A worker's client of :class:`SharedStoreServer`: a :class:`ProgressStore` over one
    connection, opened on first use and shared by the worker's greenlets (a lock keeps
    each request with its answer). Calls raise ``OSError`` when the master does not
    answer within ``timeout`` seconds."""

    def __init__(self, path: str, timeout: float = 1.0) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: Any = None
        # threading.Lock is gevent's under monkey-patching, as in every greenhttp worker.
        self._lock = threading.Lock()

    def put(self, progress: Progress) -> None:
        self._call(["put", progress.to_dict()])

    def get(self, upload_id: str) -> Progress | None:
        value = self._call(["get", upload_id])
        return None if value is None else Progress.from_dict(value)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self) -> Any:
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        return sock

    def _call(self, request: list[Any]) -> Any:
        if not self._lock.acquire(timeout=self.timeout):
            raise TimeoutError("progress store: busy")
        try:
            # A kept connection may be stale (the master restarted the store): one retry
            # on a fresh one. A fresh connection that fails means the store is down.
            for attempt in (0, 1):
                fresh = self._sock is None
                if fresh:
                    self._sock = self._connect()
                try:
                    send_frame(self._sock, request)
                    ok, value = recv_frame(self._sock)
                except (OSError, EOFError) as exc:
                    self.close()
                    if fresh or attempt:
                        raise ConnectionError(f"progress store at {self.path}: {exc or 'closed'}") from exc
                    continue
                except BaseException:
                    self.close()  # a half-read answer would pair with the next request
                    raise
                if not ok:
                    raise ValueError(f"progress store: {value}")
                return value
        finally:
            self._lock.release()
