"""Which store the middleware uses, and the guard that keeps a failing store from
failing uploads.

:func:`default_store` picks, first match wins:

1. (the ``store=`` argument of ``ProgressMiddleware``: not here, it wins before this runs)
2. the ``progress_store`` setting: ``--progress-store`` (the command line hands it to
   :func:`configure` before the workers load the app) or, in a process the command did
   not start, ``GREENHTTP_PROGRESS_STORE``; a ``redis://`` URL makes a :class:`RedisStore`;
3. the master's shared store, when the command runs several workers (:func:`configure`
   is given its socket before the fork);
4. a :class:`MemoryStore` of this process.
"""

from __future__ import annotations

import time
from typing import Callable

from ..log import error_logger
from ..settings import SETTINGS_BY_NAME, resolve
from .core import MemoryStore, Progress, ProgressStore

__all__ = ["GuardedStore", "configure", "default_store", "store_from_url"]

#: Set by the command line (greenhttp.cli.production) in the master, before it forks:
#: the --progress-store value and the shared store's socket. None: not under the command.
_configured: dict[str, str | None] | None = None


def configure(progress_store: str = "", shared_socket: str | None = None) -> None:
    """What :func:`default_store` picks in this process and the workers it will fork."""
    global _configured
    _configured = {"progress_store": progress_store or None, "shared_socket": shared_socket}


def store_from_url(url: str) -> ProgressStore:
    """A store for a ``--progress-store`` value: ``redis://``, ``rediss://`` or ``unix://``
    (a Redis on a unix socket)."""
    if url.split(":", 1)[0] in ("redis", "rediss", "unix"):
        from .redisstore import RedisStore

        return RedisStore(url)
    raise ValueError(f"progress store {url!r}: expected redis://HOST:PORT/DB")


def default_store() -> ProgressStore:
    """The store of a middleware built without ``store=`` (see the module's docstring)."""
    configured = _configured
    if configured is None:  # not under the command: the environment variable, if any
        setting = SETTINGS_BY_NAME["progress_store"]
        url = resolve((setting,))[setting.name]
        shared = None
    else:
        url, shared = configured["progress_store"], configured["shared_socket"]
    if url:
        return store_from_url(url)
    if shared:
        from .shared import SharedStore

        return SharedStore(shared)
    return MemoryStore()


class GuardedStore:
    """Wraps the middleware's store so that its failures never reach an upload.

    A failed ``put`` is logged (once per outage) and the store is left alone for
    ``backoff`` seconds, doubling to ``max_backoff`` while it keeps failing, so a dead or
    hung store costs an upload at most one timeout per backoff period. Meanwhile writes
    are dropped (a record may lag, or miss its last state) and ``get`` raises
    ``ConnectionError``, which the endpoint answers with 503.
    """

    def __init__(self, store: ProgressStore, backoff: float = 1.0, max_backoff: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.backoff_min = backoff
        self.max_backoff = max_backoff
        self._clock = clock
        self._backoff = 0.0
        self._down_until = 0.0

    @property
    def down(self) -> bool:
        return self._clock() < self._down_until

    def put(self, progress: Progress) -> None:
        if self.down:
            return
        try:
            self.store.put(progress)
        except Exception as exc:  # whatever the store raises: OSError, redis errors...
            self._failed(exc)
        else:
            self._recovered()

    def get(self, upload_id: str) -> Progress | None:
        if self.down:
            raise ConnectionError("progress store unavailable (retrying soon)")
        try:
            progress = self.store.get(upload_id)
        except Exception as exc:
            self._failed(exc)
            raise ConnectionError(f"progress store unavailable: {exc}") from exc
        self._recovered()
        return progress

    def _failed(self, exc: BaseException) -> None:
        if not self._backoff:
            error_logger.warning("upload progress: store %r failed (%s: %s); uploads go on, "
                                 "progress is not recorded until it answers again",
                                 self.store, type(exc).__name__, exc)
        self._backoff = min(max(self._backoff * 2, self.backoff_min), self.max_backoff)
        self._down_until = self._clock() + self._backoff

    def _recovered(self) -> None:
        if self._backoff:
            error_logger.info("upload progress: store %r answers again", self.store)
            self._backoff = 0.0

    def __repr__(self) -> str:
        return f"GuardedStore({self.store!r})"

