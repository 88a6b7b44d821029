"""The dispatch gate: providers report "response headers arrived" through their HTTP
client's hook, and the engine starts the next target only after that (or after its cap).
Ordering checks only, no timed assertions."""

from __future__ import annotations

import asyncio
import contextvars
import time

import pytest

import playground.dispatch_gate as gate
import providers
from playground.dispatch_gate import start_target, until_answered
from providers.answered import notify_when_answered
from providers.base import ChatRequest, TextDelta
from tests.support import compare

ROUTES = ["nim", "azure", "openai", "ollama"]  # the openai SDK's routes and Ollama's


@pytest.mark.parametrize("provider_id", ROUTES)
def test_a_stream_reports_its_headers_before_its_first_text(provider_id, settings,
                                                            behaviours) -> None:
    behaviours.set("gate-model", pieces=[" a", " b"], first_s=0.05)
    order: list[str] = []

    async def go() -> None:
        provider = providers.create(provider_id, settings)
        try:
            await provider.prepare("gate-model")  # a pre-connect: outside any target
            assert order == []
            notify_when_answered(lambda: order.append("headers"))
            async for event in provider.stream(ChatRequest("gate-model", "Hello?")):
                if isinstance(event, TextDelta):
                    order.append("text")
        finally:
            await provider.aclose()

    asyncio.run(go())
    assert order[:2] == ["headers", "text"], order
    assert order.count("headers") == 1


def test_a_request_outside_a_target_context_reports_nothing(settings, behaviours) -> None:
    behaviours.set("gate-model", pieces=[" a"])
    calls: list[str] = []

    async def go() -> None:
        context = contextvars.copy_context()
        context.run(notify_when_answered, lambda: calls.append("other task"))
        provider = providers.create("nim", settings)
        try:
            events = [e async for e in provider.stream(ChatRequest("gate-model", "Hi"))]
        finally:
            await provider.aclose()
        assert any(isinstance(e, TextDelta) for e in events)

    asyncio.run(go())
    assert calls == []


def test_until_answered_returns_once_the_event_is_set() -> None:
    async def go() -> None:
        async def target() -> None:
            await asyncio.sleep(3600)

        task, answered = start_target(target())
        asyncio.get_running_loop().call_soon(answered.set)
        # A limit far beyond the test's own timeout: only the event can end the wait.
        await asyncio.wait_for(until_answered(task, answered, limit_s=3600), 60)
        assert not task.done()
        task.cancel()

    asyncio.run(go())


def test_until_answered_returns_when_the_task_ends_without_headers() -> None:
    async def go() -> None:
        async def target() -> None:
            return None

        task, answered = start_target(target())
        await asyncio.wait_for(until_answered(task, answered, limit_s=3600), 60)
        assert task.done() and not answered.is_set()

    asyncio.run(go())


def test_until_answered_gives_up_after_its_limit() -> None:
    async def go() -> None:
        async def target() -> None:
            await asyncio.sleep(3600)

        task, answered = start_target(target())
        await asyncio.wait_for(until_answered(task, answered, limit_s=0.001), 60)
        assert not answered.is_set() and not task.done()
        task.cancel()

    asyncio.run(go())


def test_the_next_target_is_dispatched_after_the_previous_ones_headers(
        settings, behaviours, monkeypatch) -> None:
    for model in ("gate-a", "gate-b", "gate-c"):
        behaviours.set(model, pieces=[" x", " y"], first_s=0.05)
    answered_at: list[float] = []

    def recording(callback):
        def stamped() -> None:
            answered_at.append(time.perf_counter())
            callback()
        notify_when_answered(stamped)

    monkeypatch.setattr(gate, "notify_when_answered", recording)
    # A limit far beyond the run: only the headers (or a task's end) open the gate.
    monkeypatch.setattr(gate, "HEADERS_WAIT_S", 3600.0)
    monkeypatch.setattr(gate.until_answered, "__defaults__", (3600.0,))
    results, _ = compare(settings, ["nim:gate-a", "ollama:gate-b", "azure:gate-c"])
    assert [r.status for r in results] == ["ok"] * 3
    assert len(answered_at) == 3
    for earlier, later in zip(answered_at, results[1:]):
        assert later.dispatched_at > earlier
