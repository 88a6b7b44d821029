"""A comparison as the page sees it: engine updates coalesced into throttled frames,
and a Stop that ends every stream while the page can still show "stopped".

The engine runs in a background task (the *pump*) that only marks which targets
changed; :meth:`LiveRun.frames` wakes the page at most every ``pane_interval_s`` and
sends the table less often (why, measured with Gradio 6.31, beside the runtimes'
throttle: :mod:`providers.local.pacing`); the engine's timestamps are taken in the pump and
never wait for rendering.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from playground.engine import Comparison

PANE_INTERVAL_S = 0.05
TABLE_INTERVAL_S = 0.25


@dataclass(frozen=True)
class Frame:
    """One page update: the targets whose pane changed, whether to send the table."""

    changed: frozenset[int]
    table: bool
    final: bool


class LiveRun:
    """Runs ``comparison`` and turns its updates into frames; :meth:`stop` ends it."""

    def __init__(self, comparison: Comparison, *, pane_interval_s: float = PANE_INTERVAL_S,
                 table_interval_s: float = TABLE_INTERVAL_S) -> None:
        self.comparison = comparison
        self.pane_interval_s = pane_interval_s
        self.table_interval_s = table_interval_s
        self._dirty: set[int] = set()
        self._changed = asyncio.Event()
        # Set when a status changes or the run ends: the page should know at once
        # (a few times per target), so the coalescing wait is cut short.
        self._urgent = asyncio.Event()
        self._known = [r.status for r in comparison.results]
        self._done = False
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the engine in the background (idempotent)."""
        if self._pump is None:
            self._pump = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        try:
            async for index in self.comparison.updates():
                self._dirty.add(index)
                status = self.comparison.results[index].status
                if status != self._known[index]:
                    self._known[index] = status
                    self._urgent.set()
                self._changed.set()
        finally:
            self._done = True
            self._urgent.set()
            self._changed.set()

    def stop(self) -> None:
        """End every stream now, in any phase (a local model still loading included);
        each target keeps its text and becomes "stopped"."""
        self.comparison.stop()

    async def close(self) -> None:
        """Stop (if still running) and wait for the engine to finish cleaning up."""
        if self._pump is None:
            return
        if not self._pump.done():
            self.stop()
        await self._pump

    async def frames(self) -> AsyncIterator[Frame]:
        """Frames until the comparison ends; the last one has ``final=True`` and every
        target. Panes at most every ``pane_interval_s``, except that a status change
        (a few per target) goes out at once; the table every ``table_interval_s`` or
        when some target's status changes."""
        self.start()
        next_pane = next_table = 0.0
        statuses = self._statuses()
        while True:
            if not self._dirty and not self._done:
                self._changed.clear()
                await self._changed.wait()
            wait = next_pane - time.monotonic()
            if wait > 0 and not self._done and not self._urgent.is_set():
                # Let more tokens arrive (one frame for all), unless a status changed.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), wait)
            self._urgent.clear()
            now = time.monotonic()
            if self._done:
                yield Frame(frozenset(range(len(self.comparison.results))), True, True)
                return
            changed, self._dirty = frozenset(self._dirty), set()
            current = self._statuses()
            table = now >= next_table or current != statuses
            statuses = current
            next_pane = now + self.pane_interval_s
            if table:
                next_table = now + self.table_interval_s
            yield Frame(changed, table, False)

    def _statuses(self) -> tuple[str, ...]:
        return tuple(r.status for r in self.comparison.results)
