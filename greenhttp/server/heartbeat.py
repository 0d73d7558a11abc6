"""Worker liveness shared with the master: one slot per worker in an anonymous mmap.

A worker's hub writes ``time.monotonic()`` into its slot every second; CLOCK_MONOTONIC is
system-wide on Linux, so the master compares it with its own clock. A worker whose
hub is blocked (CPU-bound code that never yields) stops beating, and the master
restarts it after ``--timeout`` (gunicorn's WORKER TIMEOUT, which uses a temp file's
ctime for the same purpose; a shared page costs no syscall per beat).
"""

from __future__ import annotations

import mmap
import struct
import time

_SLOT = struct.Struct("dd")  # last beat (monotonic seconds), ready flag


class Heartbeat:
    def __init__(self, slots: int = 1024) -> None:
        self.slots = slots
        # MAP_SHARED|MAP_ANONYMOUS: forked children write, the master reads, no file.
        self._map = mmap.mmap(-1, _SLOT.size * slots)
        self._free = list(range(slots - 1, -1, -1))

    def take(self) -> int:
        """A free slot for a new worker, reset to 'booting, beat now'."""
        slot = self._free.pop()
        _SLOT.pack_into(self._map, slot * _SLOT.size, time.monotonic(), 0.0)
        return slot

    def release(self, slot: int) -> None:
        self._free.append(slot)

    def beat(self, slot: int, ready: bool = True) -> None:
        _SLOT.pack_into(self._map, slot * _SLOT.size, time.monotonic(), 1.0 if ready else 0.0)

    def read(self, slot: int) -> tuple[float, bool]:
        beat, ready = _SLOT.unpack_from(self._map, slot * _SLOT.size)
        return beat, ready > 0
