"""When the engine may start the next target of a comparison.

Six targets dispatched back to back share one event loop: each SDK spends 1–3 ms of CPU
building and writing its request and reading the response headers, and that work used
to land inside the TTFT of the targets dispatched just before or after it (measured:
request transit, dispatch → server receipt, p50 2.1–2.4 ms against 0.8–0.9 ms for a bare
asyncio reader dispatched the same way). So each target starts in its own context with
a callback (:mod:`providers.answered`), and the next is dispatched once the previous one
has its response headers, its task has ended, or :data:`HEADERS_WAIT_S` has passed
(a provider without the signal, a server that holds its headers back), followed by a
few loop turns for the SDK to finish with the headers. The wait is spent before the
next target's clock starts, so it is in no target's TTFT; it only spaces the dispatches.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

from providers.answered import notify_when_answered

# The longest wait for one target's response headers before the next target starts (s):
# a local server answers in about 1 ms; a remote one's headers take a round trip, and
# waiting that long for each target would only delay the later targets.
HEADERS_WAIT_S = 0.010
# Loop turns after the headers: the SDK turns them into its response object.
DISPATCH_TURNS = 16


def start_target(run: Coroutine[Any, Any, None]) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Start one target's task in a context of its own whose requests set the
    returned event when their response headers arrive."""
    answered = asyncio.Event()
    context = contextvars.copy_context()
    context.run(notify_when_answered, answered.set)
    return asyncio.create_task(run, context=context), answered


async def until_answered(task: asyncio.Task[None], answered: asyncio.Event,
                         limit_s: float = HEADERS_WAIT_S) -> None:
    """Wait until ``answered`` is set or ``task`` has ended, at most ``limit_s`` seconds,
    then give the task :data:`DISPATCH_TURNS` loop turns."""
    waiter = asyncio.ensure_future(answered.wait())
    try:
        await asyncio.wait((waiter, task), timeout=limit_s,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    for _ in range(DISPATCH_TURNS):
        await asyncio.sleep(0)
