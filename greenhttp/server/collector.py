"""Garbage-collector tuning for a server process, applied once when the first server starts.

Under load every request in flight holds a few GC-tracked objects (environ, Body,
closures) for as long as its app runs. With CPython's default thresholds (700, 10, 10)
a request that waits 50 ms outlives several young collections, so its objects are
promoted to the old generations and then freed there by reference counting: old
generations keep filling, and full collections, which walk every object of the
process (modules, the app, every connection), run over and over. py-spy over 1,000
connections each waiting 50 ms: 22% of the samples in ``gc_collect_main``.

So (the idea of Instagram's "Dismissing Python Garbage Collection", and of the
``gc.freeze()`` documentation for servers):
* ``gc.freeze()`` once: what exists when the first server starts (imports, the app)
  moves to the permanent generation, and no full collection walks it again;
* a young-generation threshold of 10,000 instead of 700: an object living for one
  request usually dies before a collection, so it is never promoted.
Cycles are still collected, just less often. A threshold the process already changed
(an app that tunes its own GC) is left alone.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
_tuned = False


def tune_gc() -> None:
    """Freeze the objects alive now and raise the young threshold, once per process."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    if gc.get_threshold()[0] == 700:  # CPython's default: nobody tuned it
        first, second, third = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, second, third)
    gc.collect()
    gc.freeze()
