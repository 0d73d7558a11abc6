"""Upload progress in Redis: for several machines behind one load balancer.

``greenhttp APP --progress-store redis://host:6379/0`` (or ``RedisStore(url)``): each
record is one key, ``<prefix><id>``, holding the record as msgpack, written with
``SET key value EX ttl``, so Redis forgets it by itself: ``ttl`` seconds after the
upload finished, ``stale_ttl`` seconds after the last write of one in flight (the
same lifetimes as :class:`MemoryStore`; Redis' ``maxmemory`` bounds the rest).

Needs redis-py: ``pip install 'greenhttp[redis]'``. Under gevent's monkey-patching
its sockets are cooperative. Timeouts are short (``timeout``, default 1 s): a slow or
dead Redis costs an upload a skipped progress write, never the upload (the middleware
backs off; see ``GuardedStore``).
"""

from __future__ import annotations

from typing import Any

import msgpack

from ..codecs import parse_msgpack
from ..errors import CLIError
from .core import Progress

__all__ = ["RedisStore"]


class RedisStore:
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, client: Any = None,
                 prefix: str = "greenhttp:progress:", ttl: float = 60.0, stale_ttl: float = 3600.0,
                 timeout: float = 1.0) -> None:
        if client is None:
            try:
                import redis
            except ImportError:
                raise CLIError("a redis:// progress store needs redis-py: "
                               "pip install 'greenhttp[redis]'") from None
            # Connecting is lazy in redis-py: nothing happens until the first command.
            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.url = url
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.stale_ttl = stale_ttl

    def key(self, upload_id: str) -> str:
        return self.prefix + upload_id

    def put(self, progress: Progress) -> None:
        # EX takes whole seconds; at least 1 (EX 0 is an error in Redis).
        ttl = self.ttl if progress.finished else self.stale_ttl
        self.client.set(self.key(progress.id), msgpack.packb(progress.to_dict(), use_bin_type=True),
                        ex=max(1, int(round(ttl))))

    def get(self, upload_id: str) -> Progress | None:
        data = self.client.get(self.key(upload_id))
        return None if data is None else Progress.from_dict(parse_msgpack(data))

    def __repr__(self) -> str:
        # Logged when the store fails: never the password of redis://:PASSWORD@host.
        scheme, _, rest = self.url.partition("://")
        return f"RedisStore('{scheme}://{rest.rpartition('@')[2]}', prefix={self.prefix!r})"
