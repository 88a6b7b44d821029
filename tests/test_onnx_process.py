"""The ``onnx`` provider's worker processes: stopping, concurrency, the model cache, a
dying worker, no leftover processes, and an event loop that keeps running while ONNX
computes (onnxruntime-genai 0.18 holds the GIL for a whole token or image prefill).

Fixtures and expected answers come from tests/test_onnx_provider.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

import providers
from bench.onnx_decode import watch_loop
from playground.engine import Comparison, ProviderPool
from providers.base import ChatRequest, Notice, TextDelta
from providers.errors import BadResponseError
from providers.local import onnx as onnx_genai
from providers.local import onnx_process
from tests import onnx_hooks
from tests.conftest import run
from tests.support import answers_at_once, collect, compare
from tests.test_onnx_provider import (  # noqa: F401
    ANSWERS,
    MODELS,
    STORY,
    TEXT,
    VISION,
    WHITE,
    fresh_cache,
    live_workers,
    onnx_settings,
    parts,
    stop_after,
)


class TokenLog:
    """What the ``slow_tokens`` hook (tests/onnx_hooks.py) logged in the worker."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[list[str]]:
        if not self.path.exists():
            return []
        return [line.split() for line in self.path.read_text().splitlines()]

    @property
    def log(self) -> list[tuple[float, float]]:
        """(start, end) perf_counter() of every generated token."""
        return [(float(start), float(end)) for kind, _, start, end in
                (line for line in self.lines() if line[0] == "token")]

    @property
    def by_thread(self) -> dict[str, list[float]]:
        starts: dict[str, list[float]] = {}
        for line in self.lines():
            if line[0] == "token":
                starts.setdefault(line[1], []).append(float(line[2]))
        return starts

    def wait_closed(self, generators: int = 1, timeout_s: float = 5.0) -> None:
        """Wait until ``generators`` generators were released (their loop ended)."""
        deadline = time.monotonic() + timeout_s
        while sum(line[0] == "closed" for line in self.lines()) < generators:
            assert time.monotonic() < deadline, "the generation loop did not end"
            time.sleep(0.005)


@pytest.fixture
def slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``slow(delay_s)``: workers started from now on take ``delay_s`` more per token and
    log each one; returns the :class:`TokenLog`."""
    def start(delay_s: float = 0.02) -> TokenLog:
        log = tmp_path / f"tokens-{uuid.uuid4().hex}.log"
        onnx_hooks.use(monkeypatch, "slow_tokens", delay_s=delay_s, log=str(log))
        return TokenLog(log)
    return start


def test_stopping_mid_stream_ends_generation_within_one_token(onnx_settings, slow) -> None:
    slow = slow(0.02)
    received, closed_at = stop_after("onnx", onnx_settings,
                                     ChatRequest(TEXT, "Tell me a story."), 4)
    slow.wait_closed()
    generated_after_stop = [end for _, end in slow.log if end > closed_at]
    assert received == 4
    assert len(generated_after_stop) <= 1  # at most the one in flight at the stop
    assert len(slow.log) < 10  # the story has 37


def test_concurrent_requests_on_one_model(onnx_settings, slow) -> None:
    slow = slow(0.005)
    for prompt, events in zip(ANSWERS, run(answers_at_once("onnx", onnx_settings, TEXT,
                                                           list(ANSWERS)))):
        text, usage, _ = parts(events)
        assert (text, usage.prompt_tokens, usage.completion_tokens) == ANSWERS[prompt]
    assert len(slow.log) == sum(a[2] + 1 for a in ANSWERS.values())
    # They really ran at the same time (one thread each in the worker): each thread's
    # first token came before any thread's last one.
    runs = list(slow.by_thread.values())
    assert len(runs) == len(ANSWERS)
    assert max(r[0] for r in runs) < min(r[-1] for r in runs)


def test_models_load_once_and_at_most_onnx_max_loaded_stay(onnx_settings) -> None:
    settings = onnx_settings.with_overrides({"ONNX_MAX_LOADED": "1"})

    async def go():
        provider = providers.create("onnx", settings)
        await provider.prepare(TEXT)
        first = [e async for e in provider.stream(ChatRequest(TEXT, "Say hello."))]
        again = [e async for e in provider.stream(ChatRequest(TEXT, "Say hello."))]
        await provider.prepare(VISION)
        return first, again
    first, again = run(go())
    details = parts(first)[2].details
    assert details["load_ms"] > details["worker_start_ms"] > 0
    assert "load_ms" not in parts(again)[2].details
    assert [e for e in again if isinstance(e, Notice)] == []
    assert onnx_genai._CACHE.loaded() == [str((MODELS / VISION).resolve())]


def test_engine_stop_keeps_the_partial_answer(onnx_settings, slow) -> None:
    slow = slow(0.02)

    async def go():
        pool = ProviderPool(onnx_settings)
        comparison = Comparison(ChatRequest("", "Tell me a story."),
                                [providers.parse_target("onnx:tiny-phi3")], pool)
        async for _ in comparison.updates():
            if len(comparison.results[0].text) >= 10:
                comparison.stop()
        return comparison.results[0], time.perf_counter()
    result, stopped_by = run(go())
    slow.wait_closed()
    assert result.status == "stopped" and result.partial
    assert STORY.startswith(result.text) and result.text != STORY
    assert result.completion_tokens == result.counted_tokens < 36
    assert len(slow.log) <= result.counted_tokens + 2


def test_engine_timeout_stops_the_generation(onnx_settings, slow) -> None:
    slow = slow(0.5)
    results, _ = compare(onnx_settings, ["onnx:tiny-phi3"], ChatRequest("", "Say hello."),
                         timeout_s=0.2)
    slow.wait_closed()
    assert results[0].status == "error" and results[0].error_kind == "timeout"
    assert len(slow.log) <= 2


def test_the_event_loop_keeps_running_while_onnx_computes(onnx_settings) -> None:
    # Prefilling two images takes the tiny vision model ~0.5 s, all inside calls that
    # hold the GIL: generating in this process, the loop stalled for 650 ms and more.
    async def go() -> tuple[list, list[float], float]:
        provider = providers.create("onnx", onnx_settings)
        await provider.prepare(VISION)
        request = ChatRequest(VISION, "Describe the image.", images=(WHITE, WHITE))
        started = time.perf_counter()
        events, overruns = await watch_loop(collect_events(provider.stream(request)))
        return events, overruns, time.perf_counter() - started
    events, overruns, elapsed = run(go())
    assert parts(events)[0] == "The images are bright."
    assert elapsed > 0.2  # long enough for a stalled loop to show
    # Loose: a busy 2-core VM alone can delay a wake-up by tens of ms now and then.
    assert max(overruns) < 100, f"the event loop stalled for {max(overruns):.0f} ms"


async def collect_events(stream) -> list:  # type: ignore[no-untyped-def]
    return [event async for event in stream]


def worker_for(name: str) -> onnx_process.WorkerProcess:
    [worker] = [w for w in live_workers() if w.name == name]
    return worker


def test_a_killed_worker_fails_clearly_and_the_next_request_works(onnx_settings, slow) -> None:
    slow(0.02)

    async def go() -> list:
        provider = providers.create("onnx", onnx_settings)
        await provider.prepare(TEXT)
        received = []
        with pytest.raises(BadResponseError) as caught:
            async for event in provider.stream(ChatRequest(TEXT, "Tell me a story.")):
                received.append(event)
                if sum(isinstance(e, TextDelta) for e in received) == 3:
                    os.kill(worker_for(TEXT).pid, signal.SIGKILL)
        return [caught.value.message, received]
    message, received = run(go())
    assert "The ONNX worker process for tiny-phi3 stopped (killed by SIGKILL" in message
    assert "started again on the next request" in message
    assert STORY.startswith("".join(e.text for e in received if isinstance(e, TextDelta)))
    wait_until(lambda: onnx_genai._CACHE.loaded() == [])
    events = collect("onnx", onnx_settings, ChatRequest(TEXT, "What is 2 + 2?"))
    assert parts(events)[0] == "2 + 2 = 4."
    assert any("during this run" in e.message for e in events if isinstance(e, Notice))


def test_a_worker_killed_while_idle_is_replaced(onnx_settings) -> None:
    async def go() -> list:
        provider = providers.create("onnx", onnx_settings)
        await provider.prepare(TEXT)
        first = worker_for(TEXT)
        os.kill(first.pid, signal.SIGKILL)
        first.process.wait()  # dead, and the next request may come before anyone noticed
        events = [e async for e in provider.stream(ChatRequest(TEXT, "Say hello."))]
        assert worker_for(TEXT).pid != first.pid
        return events
    assert parts(run(go()))[0] == ANSWERS["Say hello."][0]


def test_no_worker_process_outlives_shutdown(onnx_settings) -> None:
    async def go() -> None:
        provider = providers.create("onnx", onnx_settings)
        await provider.prepare(TEXT)
        await provider.prepare(VISION)
        await provider.aclose()  # other sessions may still use the workers: they stay
    run(go())
    pids = [w.pid for w in live_workers()]
    assert len(pids) == 2
    onnx_genai.shutdown()
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # ended and reaped
            os.kill(pid, 0)


def test_an_evicted_worker_ends_but_never_mid_answer(onnx_settings, slow) -> None:
    settings = onnx_settings.with_overrides({"ONNX_MAX_LOADED": "1"})
    slow(0.01)

    async def go() -> tuple[list, int]:
        provider = providers.create("onnx", settings)
        await provider.prepare(TEXT)
        text_pid, events = worker_for(TEXT).pid, []
        async for event in provider.stream(ChatRequest(TEXT, "Tell me a story.")):
            events.append(event)
            if len(events) == 3:  # mid-answer: the vision model takes the only place
                await provider.prepare(VISION)
                assert len(live_workers()) == 2
        return events, text_pid
    events, text_pid = run(go())
    assert parts(events)[0] == STORY
    wait_until(lambda: [w.name for w in live_workers()] == [VISION])
    with pytest.raises(ProcessLookupError):
        os.kill(text_pid, 0)


def test_a_run_stopped_while_its_model_loads_holds_no_lease(onnx_settings, monkeypatch) -> None:
    onnx_hooks.use(monkeypatch, "slow_load", delay_s=0.5)
    settings = onnx_settings.with_overrides({"ONNX_MAX_LOADED": "1"})

    async def go() -> None:
        provider = providers.create("onnx", settings)  # no prepare(): loads in the run
        task = asyncio.create_task(anext(provider.stream(ChatRequest(TEXT, "Say hello."))))
        await asyncio.sleep(0.1)
        task.cancel()  # the engine's timeout or Stop, mid-load
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.to_thread(wait_until, lambda: onnx_genai._CACHE.loaded() != [])
        onnx_hooks.use(monkeypatch, None)
        await provider.prepare(VISION)  # evicts the text model: nobody holds it
    run(go())
    wait_until(lambda: [w.name for w in live_workers()] == [VISION])


def test_the_worker_imports_no_cloud_sdk_and_no_ui(onnx_settings, monkeypatch, tmp_path) -> None:
    log = tmp_path / "modules.txt"
    onnx_hooks.use(monkeypatch, "record_modules", log=str(log))
    assert parts(collect("onnx", onnx_settings, ChatRequest(TEXT, "Say hello.")))[0]
    modules = set(log.read_text().split())
    assert "onnxruntime_genai" in modules
    assert not modules & {"gradio", "pandas", "openai", "azure", "ollama", "httpx", "torch",
                          "asyncio"}
    # An ordinary module of the package: only its lazy registry comes along.
    assert {m for m in modules if m.startswith("providers")} <= {
        "providers", "providers.errors", "providers.registry", "providers.local"}


def wait_until(condition, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
