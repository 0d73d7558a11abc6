"""Upload progress: :class:`ProgressMiddleware` counts request bodies as they arrive and
answers ``GET /progress?X-Progress-ID=...`` from a store (docs/guides/upload-progress.md).

- ``core``: the record, the middleware, the endpoint, :class:`MemoryStore`;
- ``stores``: which store a middleware picks by default, and the guard that keeps a
  failing store from failing uploads;
- ``shared``: the store a ``greenhttp -w N`` master holds for its workers (unix socket);
- ``redisstore``: Redis, for several machines (``pip install 'greenhttp[redis]'``).
"""

from __future__ import annotations

from typing import Any

from .core import (STATES, MemoryStore, Progress, ProgressMiddleware, ProgressStore, progress_app,
                   upload_id)
from .stores import GuardedStore, default_store

__all__ = ["Progress", "ProgressStore", "MemoryStore", "ProgressMiddleware", "progress_app",
           "upload_id", "STATES", "GuardedStore", "default_store", "RedisStore", "SharedStore"]


def __getattr__(name: str) -> Any:
    # Imported on use: redisstore needs the optional redis-py only when a store is made.
    if name == "RedisStore":
        from .redisstore import RedisStore

        return RedisStore
    if name == "SharedStore":
        from .shared import SharedStore

        return SharedStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
