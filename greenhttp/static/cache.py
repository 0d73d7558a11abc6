"""What answering a file costs once per path, not once per request: nginx's open_file_cache.

A :class:`Resource` is everything :class:`~greenhttp.static.Files` computed for one
request path that named a regular file: each representation (the file and its
precompressed siblings, :class:`Rep`) with its identity (device, inode, size, mtime_ns),
its ready-made headers (Content-Type, ETag, Last-Modified strings...) and, for a file
of at most :data:`SMALL_BODY` bytes, its content.

Freshness: a resource is used for :attr:`FileCache.valid` seconds (default 1, like
nginx's ``open_file_cache_valid`` but shorter than its 60 s default) after the safe path
walk (:meth:`greenhttp.static.paths.Root.open`) that built it. Within that window a
request costs no system call when the content is cached, else one ``open`` and one
``fstat`` by the cached path, and the answer is sent only if the descriptor is still
the very inode (and size and mtime) the walk checked; anything else drops the entry
and walks again. After the window the next request walks again. So a file that is
deleted, replaced, or made a symlink out of the root is served at most ``valid``
seconds after the change (only content cached before it: never a file the walk did
not check), and never at all once the window ended; ``valid=0`` caches nothing.

Memory is bounded twice: at most :data:`MAX_ENTRIES` paths (a resource without content
is a few hundred bytes, so ~1 MiB of metadata at most) and :data:`MAX_BYTES` of cached
content over all of them, least recently used evicted first. 4 MiB holds 256 files of
16 KiB or a few thousand typical icons, scripts and stylesheets, a few percent of the
process's RSS; a crawler walking a million paths churns the cache, it cannot grow it.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Optional

#: Files up to this size are cached in memory and sent with the head in one send(2):
#: cheaper than a send for the head plus a sendfile(2) for a few KiB.
SMALL_BODY = 16 * 1024
#: Paths cached per :class:`Files` (metadata, a few hundred bytes each).
MAX_ENTRIES = 1024
#: File content cached per :class:`Files`, over all paths.
MAX_BYTES = 4 * 1024 * 1024
#: Seconds a path's walk is trusted (nginx: open_file_cache_valid).
VALID = 1.0

Headers = list[tuple[str, str]]
Ident = tuple[int, int, int, int]

# O_NONBLOCK: if a FIFO replaced the file, open must not hang (paths.py does the same).
_REOPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK


def ident(st: os.stat_result) -> Ident:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Rep:
    """One representation of a path: the file itself (``coding`` None) or a sibling."""

    __slots__ = ("path", "ident", "size", "etag", "mtime", "coding", "content_type",
                 "headers", "full", "not_modified", "body")

    def __init__(self, path: str, st: os.stat_result, etag: str, coding: Optional[str],
                 content_type: str, headers: Headers, not_modified: Headers,
                 body: Optional[bytes]) -> None:
        self.path = path
        self.ident = ident(st)
        self.size = st.st_size
        self.etag = etag
        self.mtime = int(st.st_mtime)
        self.coding = coding
        self.content_type = content_type
        self.headers = headers  # a 200/206 without Content-Length
        self.full = headers + [("Content-Length", str(st.st_size))]
        self.not_modified = not_modified
        self.body = body

    def reopen(self, nofollow: bool) -> Optional[int]:
        """A descriptor of this very file (same inode, size and mtime), else None."""
        try:
            fd = os.open(self.path, _REOPEN_FLAGS | (os.O_NOFOLLOW if nofollow else 0))
        except OSError:
            return None
        try:
            same = ident(os.fstat(fd)) == self.ident
        except OSError:
            same = False
        if not same:
            os.close(fd)
            return None
        return fd


class Resource:
    """The representations of one request path; ``reps[None]`` is the file itself."""

    __slots__ = ("reps", "checked", "cost")

    def __init__(self, reps: dict[Optional[str], Rep], checked: float) -> None:
        self.reps = reps
        self.checked = checked
        self.cost = sum(len(r.body) for r in reps.values() if r.body is not None)


class FileCache:
    """A bounded LRU of :class:`Resource` by request path, each fresh for ``valid`` s."""

    def __init__(self, valid: float = VALID, max_entries: int = MAX_ENTRIES,
                 max_bytes: int = MAX_BYTES) -> None:
        self.valid = valid
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Resource] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Optional[Resource]:
        """The fresh resource for ``key``, or None (then walk, and :meth:`put`)."""
        resource = self._entries.get(key)
        if resource is None:
            return None
        if time.monotonic() - resource.checked >= self.valid:
            self.drop(key)
            return None
        self._entries.move_to_end(key)
        return resource

    def put(self, key: str, resource: Resource) -> None:
        if self.valid <= 0 or resource.cost > self.max_bytes:
            return
        self.drop(key)
        self._entries[key] = resource
        self.bytes += resource.cost
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self.bytes -= old.cost

    def drop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.cost


__all__ = ["SMALL_BODY", "MAX_ENTRIES", "MAX_BYTES", "VALID", "Rep", "Resource", "FileCache"]
