"""The local runtimes' one throttle: generated text handed on in batches, the first at
once, then at most every :data:`HAND_OVER_EVERY_S`.

Why a throttle at all: each hand-over wakes someone who competes for the same two cores
and, in the app's process, for the GIL. The ``onnx`` worker
(:mod:`providers.local.onnx_worker`) sends over a pipe, and the app's reader thread and
event loop wake for every message: a message every 5 ms cost the 1.45 ms/token benchmark
model 3 % of its speed, every 20 ms nothing measurable (bench/onnx_decode.py). The
``transformers`` thread (:mod:`providers.local.threaded`) wakes the event loop and then
waits for it to take the batch (its back-pressure): a hand-over per token cost a fast
model 10-20 % of its speed. One constant serves both: the thread path does as well at 20
ms as at 5 ms (bench/thread_handover.py, a producer spending 80 % of each 1 ms token
outside the GIL, as torch does; 2026-11-30, 2 cores): 922 tokens/s at 20 ms, 915 at 5 ms,
898 with a hand-over per token at load 1.0, the event loop's 1 ms sleeps as punctual in
all three (p95 0.12-0.13 ms late); at load 1.5, 935, 922 and 814 tokens/s, p95 0.6, 1.0
and 1.2 ms late.

What it never changes: the first visible text goes at once (TTFT is not delayed) and a
stream's end goes at once with whatever is held (the last token's time, hence decode
tokens/s, is not delayed); only the spacing of the text between them is coarser, for
models faster than one token per 20 ms (their inter-token latency percentiles show the
batches). A third throttle, the page's
(:mod:`playground.ui.live`: panes every 50 ms, the table every 250 ms), acts after the
engine has taken its timestamps: it delays what a visitor sees, never what is measured.

Standard library only: the ``onnx`` worker process imports this.
"""

from __future__ import annotations

import math
import time

HAND_OVER_EVERY_S = 0.02  # seconds between hand-overs of text after the first (above)


class Pacer:
    """When a producer's held text should go: at once if none went in the last
    ``every_s`` seconds, else with a later hand-over."""

    def __init__(self, every_s: float = HAND_OVER_EVERY_S) -> None:
        self._every_s = every_s
        self._went_at = -math.inf  # perf_counter() of the last hand-over that counted

    def due(self) -> bool:
        """True when what is held should be handed on now."""
        return time.perf_counter() - self._went_at >= self._every_s

    def went(self) -> None:
        """Text was handed on now: the next one waits ``every_s`` from here."""
        self._went_at = time.perf_counter()
