"""Upload progress: middleware that tracks request bodies as they arrive, and an endpoint.

Theory of operation
-------------------
A client picks an ID and sends it with the upload as the ``X-Progress-ID`` query
parameter or header, as nginx's upload-progress module does. :class:`ProgressMiddleware`
wraps the request body so that every chunk the app pulls updates a :class:`Progress`
record in a :class:`ProgressStore`; meanwhile the client (or its page) polls
``GET /progress?X-Progress-ID=...`` on another connection and gets that record as JSON,
or msgpack with ``Accept: application/msgpack``.

Because greenhttp hands the app the body while it is still arriving, "received" is
what the app has read so far: a live count, not a figure known only at the end. An app
that reads slowly (say, it writes to a slow disk) shows that pace; the kernel holds
the difference.

States: ``starting`` (head seen, no body byte yet), ``uploading``, ``done`` (the body
ended and the app answered below 400), ``error`` (the client left, the body broke, the
app raised, or answered 400 or above: ``status`` says which). An ID nobody has seen (or
whose record expired) answers 404 with state ``unknown``; a page polling before its
upload has started should keep polling.

Shared stores
-------------
The store is the only state, behind two methods (``put`` and ``get`` of a
:class:`Progress`). :class:`MemoryStore` keeps records in this process: bounded,
finished records expire. When several worker processes serve one app, the poll may
reach another process than the upload: under ``greenhttp APP -w N`` the master holds
a store for its workers (``greenhttp.progress.shared``); across machines, Redis
(``greenhttp.progress.redisstore``); ``greenhttp.progress.stores`` says which one a
middleware picks. Other stores implement :class:`ProgressStore` with
:meth:`Progress.to_dict` and :meth:`Progress.from_dict`. The middleware writes at most
once per ``update_interval`` (plus the first and last write) so a shared store sees a
few writes per second per
upload, not one per chunk.
"""

from __future__ import annotations

import collections
import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator, Protocol
from urllib.parse import parse_qs

from ..body import Body, WSGIInput
from ..codecs import respond

__all__ = ["Progress", "ProgressStore", "MemoryStore", "ProgressMiddleware", "progress_app",
           "upload_id", "STATES"]

STATES = ("starting", "uploading", "done", "error")
FINISHED = frozenset({"done", "error"})

#: IDs are what a client chooses, so they are bounded and plain: they become store keys
#: (a Redis key, a log line). 64 covers a UUID with room to spare.
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

#: A rate computed over the last few seconds reacts to a stall or a speed-up; an
#: average since the start would show a stalled upload still moving.
RATE_WINDOW = 3.0

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


@dataclass
class Progress:
    """One upload as the endpoint reports it. Times are ``time.time()``: they mean the
    same in every process sharing a store."""

    id: str
    state: str = "starting"
    received: int = 0
    total: int | None = None  # None when the body is chunked: the size is unknown until the end
    rate: float = 0.0  # bytes per second over the last RATE_WINDOW seconds
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    status: int | None = None  # the app's response status, once known
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def eta(self, now: float | None = None) -> float | None:
        """Seconds to go at the current rate; None when the total or the rate is unknown."""
        if self.state != "uploading" or self.total is None or self.current_rate(now) <= 0:
            return None
        return max(self.total - self.received, 0) / self.current_rate(now)

    def current_rate(self, now: float | None = None) -> float:
        # A record is written only when bytes arrive; if none came for a whole window the
        # upload is stalled, whatever rate was last written.
        now = time.time() if now is None else now
        if self.state == "uploading" and now - self.updated > RATE_WINDOW:
            return 0.0
        return self.rate

    def to_dict(self) -> dict[str, Any]:
        """Every field, for a shared store to serialize (msgpack or JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Progress":
        return cls(**data)

    def report(self, now: float | None = None) -> dict[str, Any]:
        """What the progress endpoint answers."""
        now = time.time() if now is None else now
        eta = self.eta(now)
        return {
            "id": self.id,
            "state": self.state,
            "received": self.received,
            "total": self.total,
            # nginx's upload-progress module calls the total "size"; its JS clients read that.
            "size": self.total,
            "rate": round(self.current_rate(now), 1),
            "eta": None if eta is None else round(eta, 2),
            "elapsed": round((self.updated if self.finished else now) - self.started, 3),
            "status": self.status,
            "error": self.error,
        }


class ProgressStore(Protocol):
    """Where records live. Implement these two for a store shared between processes."""

    def put(self, progress: Progress) -> None:
        """Save (replace) the record for ``progress.id``."""

    def get(self, upload_id: str) -> Progress | None:
        """The record for ``upload_id``, or None if unknown or expired."""


class MemoryStore:
    """Records in this process: at most ``max_entries``; finished ones expire after ``ttl``.

    Records are kept in least-recently-updated order. Uploads in flight are written
    several times a second, so the oldest records are the finished (or abandoned) ones,
    and both expiry and eviction take from that end: O(1) per write. An upload whose
    record has not moved for ``stale_ttl`` seconds is treated as gone.

    No lock: under gevent, dict operations never switch greenlets.
    """

    def __init__(self, max_entries: int = 10_000, ttl: float = 60.0, stale_ttl: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        # nginx's upload-progress zone keeps finished entries 60 s by default
        # ("track_uploads ZONE 60s"): long enough for a page's last poll.
        self.max_entries = max_entries
        self.ttl = ttl
        self.stale_ttl = stale_ttl
        self._clock = clock
        self._records: collections.OrderedDict[str, Progress] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def _expired(self, progress: Progress, now: float) -> bool:
        limit = self.ttl if progress.finished else self.stale_ttl
        return now - progress.updated > limit

    def put(self, progress: Progress) -> None:
        records = self._records
        records[progress.id] = progress
        records.move_to_end(progress.id)
        now = self._clock()
        # Sweep expired records from the old end, a few per write so no write is slow.
        for _ in range(4):
            oldest = next(iter(records.values()))
            if oldest is progress or not self._expired(oldest, now):
                break
            records.popitem(last=False)
        while len(records) > self.max_entries:
            records.popitem(last=False)

    def get(self, upload_id: str) -> Progress | None:
        progress = self._records.get(upload_id)
        if progress is not None and self._expired(progress, self._clock()):
            del self._records[upload_id]
            return None
        return progress


def upload_id(environ: dict[str, Any]) -> str | None:
    """The ``X-Progress-ID`` of a request (query parameter first, then header), or None."""
    query = environ.get("QUERY_STRING", "")
    if "progress" in query.lower():  # cheap test before parsing every query string
        for name, values in parse_qs(query).items():
            if name.lower() == "x-progress-id" and values:
                return values[0]
    return environ.get("HTTP_X_PROGRESS_ID")


class _Tracker:
    """Updates one upload's record as its body is read."""

    __slots__ = ("store", "progress", "interval", "last_write", "samples")

    def __init__(self, store: ProgressStore, progress: Progress, interval: float) -> None:
        self.store = store
        self.progress = progress
        self.interval = interval
        self.last_write = 0.0
        # (time, received) pairs of the last RATE_WINDOW seconds, for the rate.
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        store.put(replace(progress))

    def received(self, count: int) -> None:
        progress = self.progress
        progress.received += count
        now = time.time()
        samples = self.samples
        samples.append((now, progress.received))
        while len(samples) > 2 and now - samples[0][0] > RATE_WINDOW:
            samples.popleft()
        first_time, first_received = samples[0]
        if now > first_time:
            progress.rate = (progress.received - first_received) / (now - first_time)
        progress.updated = now
        if progress.state == "starting":
            progress.state = "uploading"
            self._write(now)
        elif now - self.last_write >= self.interval:
            self._write(now)

    def finish(self, state: str, status: int | None = None, error: str | None = None) -> None:
        """Settle the state. The body's end says "done" first; the response status (and a
        4xx/5xx turning it into "error") may follow when the app answers."""
        progress = self.progress
        if progress.state == "error" or (progress.state == "done" and state == "done"):
            if status is None or progress.status is not None:
                return
            progress.status = status
        else:
            progress.state = state
            progress.status = status if status is not None else progress.status
            # Bounded: an exception's text can be long, and every write ships the record.
            progress.error = error[:500] if error else error
            if progress.total is None and state == "done":
                progress.total = progress.received  # chunked: now the size is known
        progress.updated = time.time()
        self._write(progress.updated)

    def _write(self, now: float) -> None:
        self.last_write = now
        # A copy: a store that keeps objects (MemoryStore) must not see later changes
        # before the next write, exactly as a serializing store would not.
        self.store.put(replace(self.progress))


class _CountingInput:
    """``wsgi.input`` of another server (or WebTest), counting what the app reads."""

    def __init__(self, stream: Any, tracker: _Tracker) -> None:
        self._stream = stream
        self._tracker = tracker

    def _count(self, data: bytes) -> bytes:
        if data:
            self._tracker.received(len(data))
        return data

    def read(self, size: int = -1) -> bytes:
        return self._count(self._stream.read(size) if size is not None and size >= 0 else self._stream.read())

    def readline(self, size: int = -1) -> bytes:
        return self._count(self._stream.readline(size) if size is not None and size >= 0
                           else self._stream.readline())

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class _Finisher:
    """The response iterable of an app that returned before reading all of the body:
    the upload ends when the response does (a generator may read the body lazily)."""

    def __init__(self, result: Iterable[bytes], done: Callable[[BaseException | None], None]) -> None:
        self._result = result
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._result
        except BaseException as exc:
            self._done(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._done(None)


def _status_code(status: str) -> int:
    try:
        return int(status[:3])
    except (TypeError, ValueError):
        return 500


class ProgressMiddleware:
    """Track uploads that carry an ``X-Progress-ID``; serve their progress at ``path``.

    ``app = ProgressMiddleware(app)``, then poll ``GET /progress?X-Progress-ID=ID``.
    Pass ``path=None`` to serve the endpoint elsewhere with :func:`progress_app`
    over the same ``store``. Requests without an ID, or with an invalid one (more
    than 64 characters, or other than letters, digits and ``_.:-``), are passed
    through untracked: progress must never break an upload.
    """

    def __init__(self, app: WSGIApp, store: ProgressStore | None = None,
                 path: str | None = "/progress", update_interval: float = 0.1) -> None:
        from .stores import GuardedStore, default_store

        self.app = app
        # See greenhttp.progress.stores: the argument, else --progress-store, else the
        # master's shared store under workers, else a MemoryStore of this process.
        self.store: ProgressStore = store if store is not None else default_store()
        # Progress must never break an upload: store failures stop at the guard.
        self.guarded = GuardedStore(self.store)
        self.path = path
        self.update_interval = update_interval
        self.endpoint = progress_app(self.guarded)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if self.path is not None and environ.get("PATH_INFO") == self.path \
                and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.endpoint(environ, start_response)
        ident = upload_id(environ)
        if ident is None or not _ID.match(ident) or not _has_body(environ):
            return self.app(environ, start_response)
        return self._track(ident, environ, start_response)

    def _track(self, ident: str, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        body: Body | None = environ.get("greenhttp.body")
        total = body.length if body is not None else _content_length(environ)
        tracker = _Tracker(self.guarded, Progress(ident, total=total), self.update_interval)
        if body is not None:
            # A Body over the original's chunks: the app, wsgi.input and read_body all
            # read through it, and the server still drains the original afterwards.
            chunks = iter(body)

            def pull() -> bytes | None:
                try:
                    chunk = next(chunks, None)
                except BaseException as exc:  # ClientDisconnected, ReadTimeout, bad framing
                    tracker.finish("error", error=str(exc) or type(exc).__name__)
                    raise
                if chunk is None:
                    tracker.finish("done")
                else:
                    tracker.received(len(chunk))
                return chunk

            tracked = Body(pull, body.length)
            environ["greenhttp.body"] = tracked
            environ["wsgi.input"] = WSGIInput(tracked)
        else:
            tracked = None
            environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], tracker)

        status: list[int] = []

        def tracking_start_response(status_line: str, headers: list, exc_info: Any = None) -> Any:
            status[:] = [_status_code(status_line)]
            return start_response(status_line, headers, exc_info) if exc_info \
                else start_response(status_line, headers)

        def done(exc: BaseException | None) -> None:
            if exc is not None:
                tracker.finish("error", status[0] if status else None, str(exc) or type(exc).__name__)
            elif not status:
                tracker.finish("error", None, "no response")
            elif status[0] >= 400:
                tracker.finish("error", status[0], f"the app answered {status[0]}")
            else:
                tracker.finish("done", status[0])

        try:
            result = self.app(environ, tracking_start_response)
        except BaseException as exc:
            done(exc)
            raise
        body_complete = tracked.complete if tracked is not None else tracker.progress.finished
        if isinstance(result, (list, tuple)) or (body_complete and status):
            done(None)
            return result
        if _keep_type(result):
            # The server treats these specially (Stream: abandoned when the client leaves;
            # FileWrapper: sendfile), so they are not wrapped. The body's end, if some
            # greenlet still reads it, marks the upload done.
            return result
        # A generator may read the body while the server iterates it: settle the state
        # when the response ends.
        return _Finisher(result, done)


def _keep_type(result: Any) -> bool:
    # The server treats these types specially (Stream: abandon on disconnect;
    # FileWrapper: sendfile), so they are never wrapped.
    from ..server.stream import Stream
    from ..server.wsgi import FileWrapper

    return isinstance(result, (Stream, FileWrapper))


def _has_body(environ: dict[str, Any]) -> bool:
    body = environ.get("greenhttp.body")
    if body is not None:
        return not (body.complete and body.received == 0 and body.length in (0, None))
    return _content_length(environ) not in (None, 0) or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "")


def _content_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return None


def progress_app(store: ProgressStore) -> WSGIApp:
    """The progress endpoint alone: ``GET ?X-Progress-ID=ID`` -> the record as JSON or msgpack.

    200 with the record; 404 with ``{"state": "unknown"}`` for an ID not seen or expired;
    503 with ``{"state": "unavailable"}`` when the store does not answer; 400 for a
    missing or invalid ID. Never cached: each poll must reach the server.
    """
    no_store = [("Cache-Control", "no-store")]

    def endpoint(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        ident = upload_id(environ)
        if not ident or not _ID.match(ident):
            return respond(environ, start_response, {
                "state": "error", "error": "pass X-Progress-ID (1-64 letters, digits, _.:-) "
                                           "as a query parameter or header"}, 400, no_store)
        try:
            progress = store.get(ident)
        except Exception as exc:  # a shared store that does not answer: say so, do not 500
            return respond(environ, start_response, {
                "id": ident, "state": "unavailable", "error": f"progress store unavailable: {exc}",
            }, 503, no_store + [("Retry-After", "1")])
        if progress is None:
            return respond(environ, start_response, {
                "id": ident, "state": "unknown",
                "error": "no upload with this X-Progress-ID (not started yet, or finished and expired)",
            }, 404, no_store)
        return respond(environ, start_response, progress.report(), 200, no_store)

    return endpoint
