"""Keep the garbage collector's passes over the app's heap out of every timing window.

A full collection walks every object of the process: 50–110 ms with the app loaded on
this 2-core machine (300–600 ms while other jobs ran), and the allocations of a first
request were enough to trigger one inside a TTFT. So before dispatch the engine
collects the young generations (recent garbage, cheap) and *freezes* the heap
(``gc.freeze()``: every tracked object moves to a generation the collector never
walks; O(1)). Objects the run creates are still collected as usual, and those passes
are short because they only walk what the run allocated.

When the last overlapping run ends the heap is unfrozen and Python's own collector
takes it from there, outside any window. A full ``gc.collect()`` before each run was
measured too (it also frees the old garbage at once) and rejected: it cost 50–600 ms
before every comparison for no gain in the numbers, since a frozen heap is never
walked anyway.

Overlapping runs (the app serves many sessions) share one freeze; each new run only
freezes what it allocated. So that garbage from before cannot pile up in a server that
is never idle, the heap is unfrozen anyway after ``MAX_OVERLAPPING_RUNS`` runs without a
gap (a collection may then land in a window of a run still going: rare, and said here).
"""

from __future__ import annotations

import gc
import threading

MAX_OVERLAPPING_RUNS = 200
_lock = threading.Lock()
_holders = 0
_runs_since_unfreeze = 0


def hold_collections() -> None:
    """Collect young garbage (first holder only) and freeze the heap for one run.
    Pair every call with :func:`release_collections`."""
    global _holders, _runs_since_unfreeze
    with _lock:
        if _holders == 0:
            # Young generations only: a full pass here would walk the whole heap, and
            # with another run going it would land inside that run's windows.
            gc.collect(1)
        gc.freeze()
        _holders += 1
        _runs_since_unfreeze += 1


def release_collections() -> None:
    """End one run's hold; the last one (or a long unbroken overlap) unfreezes."""
    global _holders, _runs_since_unfreeze
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders == 0 or _runs_since_unfreeze >= MAX_OVERLAPPING_RUNS:
            gc.unfreeze()
            _runs_since_unfreeze = 0


class RunHold:
    """One run's hold on the heap: :meth:`hold` before its first clock starts,
    :meth:`release` when its last window has closed; both are idempotent."""

    def __init__(self) -> None:
        self.held = False

    def hold(self) -> None:
        if not self.held:
            hold_collections()
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            release_collections()


def holders() -> int:
    """How many runs hold the heap frozen now (tests and diagnostics)."""
    return _holders
