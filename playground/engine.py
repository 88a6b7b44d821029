"""The compare engine: (target, request) pairs, each streamed in its own asyncio task and
measured with ``time.perf_counter()``. The CLI and the UI send one request to every
target; the scenario runner gives each target the request it can take (its images).

A failing target records its error and never disturbs the others; a stop ends every
stream promptly and keeps the text received so far.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import Any

from playground import engine_limits as limits
from playground.causes import explain_cut_off
from playground.dispatch_gate import start_target, until_answered
from playground.engine_prepare import FittedRequests, fit_requests, prepare_providers
from playground.heap import RunHold
from playground.metrics import Recorder, TargetResult, turn_of, warm_up
from playground.pool import ProviderPool
from playground.rate_limit import retry_notice, short_retry_wait
from playground.scrub import AnswerScrubber
from playground.token_counts import count_unreported_tokens
from providers import Target
from providers.base import ChatRequest, Notice, Provider
from providers.errors import (
    BadResponseError,
    ProviderError,
    RateLimitError,
    redact,
)
from providers.settings import Settings

log = logging.getLogger("playground.engine")

DEFAULT_TIMEOUT_S = 60.0


class Comparison:
    """Several targets streamed at once, each with its own :class:`ChatRequest`
    (:meth:`of_pairs`); ``Comparison(request, targets, pool)`` sends one request to all.

    ``timeout_s`` is an idle timeout per target: the longest wait for the next event
    (the first one includes connecting and the service's headers). ``max_target_s``
    (default :func:`limits.configured_max_target_s`) bounds a target's whole answer,
    retry included. Both must be finite and above 0 (ValueError otherwise).
    """

    def __init__(self, request: ChatRequest, targets: Sequence[Target], pool: ProviderPool,
                 *, timeout_s: float = DEFAULT_TIMEOUT_S, max_target_s: float | None = None,
                 settings: Settings | None = None) -> None:
        self.targets = list(targets)
        # Each target's request, aimed at its model (the provider may still fit it).
        self.requests = [replace(request, model=t.model) for t in self.targets]
        self.pool = pool
        self.settings = settings or pool.settings
        self.timeout_s = limits.positive_seconds("timeout_s", timeout_s)
        self.max_target_s = limits.positive_seconds("max_target_s", limits.configured_max_target_s()
                                                    if max_target_s is None else max_target_s)
        self.results = [TargetResult(str(t), t.provider, t.model, turn_of(request))
                        for t in self.targets]
        self.wall_ms: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._preparing: asyncio.Task[list[Provider | None]] | None = None
        self._ready: list[Provider | None] = []  # each target's provider, once prepared
        self._held: list[Provider] = []  # acquired from the pool, released at the end
        self._requests: FittedRequests = {}  # filled by engine_prepare.fit_requests
        self._stop_requested = False
        self._heap = RunHold()  # the garbage collector kept out of the windows

    @classmethod
    def of_pairs(cls, pairs: Sequence[tuple[Target, ChatRequest]], pool: ProviderPool,
                 **options: Any) -> Comparison:
        """A comparison whose request differs per target (``pairs``: target, request);
        ``options`` are the constructor's keywords."""
        comparison = cls(ChatRequest("", ""), [target for target, _ in pairs], pool, **options)
        comparison.requests = [replace(request, model=target.model)
                               for target, request in pairs]
        for result, (_, request) in zip(comparison.results, pairs):
            result.turn = turn_of(request)
        return comparison

    async def run(self) -> list[TargetResult]:
        """Run to the end and return the results in target order."""
        async for _ in self.updates():
            pass
        return self.results

    async def updates(self) -> AsyncIterator[int]:
        """Yield the index of a target each time its result changes.

        Closing this generator (a UI's Stop, a disconnected client) stops every stream.
        """
        queue: asyncio.Queue[int | None] = asyncio.Queue()
        started = time.perf_counter()
        try:
            running = await self._dispatch(queue)
            while running:
                index = await queue.get()
                if index is None:
                    running -= 1
                else:
                    yield index
            # Every stream has ended: only now may a tokenizer request go to a server
            # (outside every target's window and the wall time).
            self.wall_ms = (time.perf_counter() - started) * 1000.0
            self._heap.release()  # no window is open any more
            if not self._stop_requested:
                for index in await count_unreported_tokens(self.results, self._ready,
                                                           self.timeout_s):
                    yield index
        finally:
            self.stop()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._heap.release()
            self._settle_undispatched()
            if self.wall_ms is None:
                self.wall_ms = (time.perf_counter() - started) * 1000.0
            for provider in self._held:
                await self.pool.release(provider)
            self._held.clear()

    async def _dispatch(self, queue: asyncio.Queue[int | None]) -> int:
        """Prepare every provider, then start one task per target; returns how many
        started. A stop during preparation (a local model loading) ends it there."""
        if self._stop_requested:  # stopped before it began
            return 0
        self._preparing = asyncio.create_task(self._prepare_all())
        try:
            ready = await self._preparing
        except asyncio.CancelledError:
            if not self._stop_requested:
                raise
            return 0
        self._ready = ready
        warm_up()  # the engine's own first-use work, before any clock starts
        self._heap.hold()
        for index, provider in enumerate(ready):
            if self._stop_requested:
                break
            task, answered = start_target(self._run_target(index, provider, queue))
            self._tasks.append(task)
            # The next target starts once this one's request has its response headers
            # (playground.dispatch_gate): one SDK's request work (1-3 ms of CPU) must not
            # land inside another target's TTFT.
            await until_answered(task, answered)
        return len(self._tasks)

    def _settle_undispatched(self) -> None:
        """Targets a stop kept from starting end as "stopped" too."""
        now = time.perf_counter()
        for result in self.results:
            if result.status in ("waiting", "running"):
                Recorder(result).stop(now)

    def stop(self) -> None:
        """Stop every target, whatever the phase; each keeps its text and shows
        "stopped". Safe to call more than once, and before or after the run."""
        self._stop_requested = True
        if self._preparing is not None:
            self._preparing.cancel()
        for task in self._tasks:
            task.cancel()

    async def _prepare_all(self) -> list[Provider | None]:
        """Get and prepare each target's provider, then fit each request, before any
        clock starts (playground.engine_prepare); a target that cannot be set up records
        the error and is not dispatched."""
        ready = await prepare_providers(self.targets, self.pool, self.settings, self._held,
                                        self._fail_unsent)
        await fit_requests(ready, self.requests, self._requests, self._fail_unsent)
        return ready

    def _fail_unsent(self, index: int, error: ProviderError) -> None:
        Recorder(self.results[index]).fail(error, time.perf_counter(),
                                           self._redacted(error.message))

    async def _run_target(self, index: int, provider: Provider | None,
                          queue: asyncio.Queue[int | None]) -> None:
        recorder = Recorder(self.results[index])
        try:
            if provider is not None:
                await self._stream_target(index, provider, recorder,
                                          lambda: queue.put_nowait(index))
        except RateLimitError as exc:
            self._fail(recorder, exc)
        except asyncio.CancelledError:
            recorder.stop(time.perf_counter())
        finally:
            queue.put_nowait(index)
            queue.put_nowait(None)

    async def _stream_target(self, index: int, provider: Provider, recorder: Recorder,
                             changed: Callable[[], None]) -> None:
        # By index, not by target: the same target may come twice with different requests.
        request, notes = self._requests.get(index, (self.requests[index], []))
        recorder.start(time.perf_counter())
        deadline = time.perf_counter() + self.max_target_s
        for note in notes:
            recorder.apply(Notice(note), time.perf_counter())
        changed()
        try:
            await self._attempt(provider, request, recorder, changed, deadline)
        except RateLimitError as exc:
            if (wait := short_retry_wait(exc, recorder.result.text)) is None:
                raise
            # A short pause asked for: honour it once, then restart the clock for the retry.
            recorder.apply(retry_notice(provider.title, wait), time.perf_counter())
            changed()
            await asyncio.sleep(wait)
            recorder.start(time.perf_counter())
            recorder.result.details["rate_limit_wait_ms"] = wait * 1000
            await self._attempt(provider, request, recorder, changed, deadline)

    async def _attempt(self, provider: Provider, request: ChatRequest, recorder: Recorder,
                       changed: Callable[[], None], deadline: float) -> None:
        """Stream one request to the end, recording every event; errors end the target.
        Each wait is the idle timeout, or what is left before ``deadline`` if less."""
        events = provider.stream(request)
        overall = False
        cap = limits.max_answer_chars(request.max_tokens)
        scrubber = AnswerScrubber(self.settings.secret_values())  # a key echoed back
        try:
            while True:
                left = deadline - time.perf_counter()
                overall = left < self.timeout_s
                try:
                    if left <= 0:
                        raise TimeoutError
                    async with asyncio.timeout(min(self.timeout_s, left)):
                        event = await anext(events)
                except StopAsyncIteration:
                    break
                event = scrubber.event(event)
                cut = limits.over_cap(event, len(recorder.result.text), cap)
                recorder.apply(event if cut is None else cut, time.perf_counter())
                changed()
                if cut is not None:
                    raise limits.over_cap_error(provider.title, cap, request.max_tokens)
            recorder.result.text += scrubber.flush()  # held back: it was not a key
            recorder.finish(time.perf_counter())
        except TimeoutError:
            self._fail(recorder, limits.timeout_error(provider.title, overall,
                                                      self.max_target_s, self.timeout_s))
        except RateLimitError:
            raise
        except ProviderError as exc:
            self._fail(recorder, self._explained(exc, recorder, provider))
        except Exception as exc:  # a provider bug must not break the other targets
            log.exception("unexpected error from %s", provider.id)
            self._fail(recorder, BadResponseError(f"Unexpected {type(exc).__name__} "
                                                  f"from {provider.title}: {exc}"))
        finally:
            await events.aclose()

    def _fail(self, recorder: Recorder, error: ProviderError) -> None:
        message = self._redacted(error.message)
        if recorder.result.text:
            if not message.endswith((".", "!", "?")):
                message += "."
            message += " Text received before the failure is kept (partial)."
        recorder.fail(error, time.perf_counter(), message)
        log.info("%s failed: %s: %s", recorder.result.target, error.kind, message)

    def _explained(self, error: ProviderError, recorder: Recorder,
                   provider: Provider) -> ProviderError:
        """The error, reworded when its cause lies in another target on the same server."""
        index = next(i for i, r in enumerate(self.results) if r is recorder.result)
        same_server = [p is provider for p in self._ready]
        return explain_cut_off(error, index, self.results, same_server, provider.title,
                               time.perf_counter())

    def _redacted(self, text: str) -> str:
        return redact(text, self.settings.secret_values())
