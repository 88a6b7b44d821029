"""Keep the garbage collector's full passes out of every target's timing window.

A full collection walks every object of the process: 50–110 ms with the app's imports
loaded (measured on this 2-core machine), and the allocations of a first request were
enough to trigger one inside a TTFT. So before dispatch the engine collects once and
*freezes* what survives (``gc.freeze()``: moved to a generation the collector never
walks); the young objects a run creates are still collected, cheaply. The heap is
unfrozen when the last overlapping run ends, so garbage from before the run is
collected later, outside any window.

Overlapping runs (the app serves many sessions) share one freeze: only the first
collects, because a full pass started by a second run would land inside the first
run's windows; later ones only freeze their own new objects, which is cheap.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_holders = 0


def hold_collections() -> None:
    """Collect now (unless a run already holds the heap) and freeze what survives.
    Pair every call with :func:`release_collections`."""
    global _holders
    with _lock:
        if _holders == 0:
            gc.collect()
        gc.freeze()
        _holders += 1


def release_collections() -> None:
    """End one hold; the last one unfreezes the heap (collected later, as usual)."""
    global _holders
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders == 0:
            gc.unfreeze()


def holders() -> int:
    """How many runs hold the heap frozen now (tests and diagnostics)."""
    return _holders
