"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Sequence

from PIL import Image

import providers
from playground.engine import Comparison, ProviderPool
from playground.metrics import TargetResult
from providers.base import ChatRequest, Event, TextDelta
from providers.settings import Settings


async def _collect(provider_id: str, settings: Settings, request: ChatRequest) -> list[Event]:
    provider = providers.create(provider_id, settings)
    try:
        return [event async for event in provider.stream(request)]
    finally:
        await provider.aclose()


def collect(provider_id: str, settings: Settings, request: ChatRequest) -> list[Event]:
    """Every event one provider streams for ``request`` (raises its ProviderError)."""
    return asyncio.run(_collect(provider_id, settings, request))


def png(width: int = 8, height: int = 8) -> bytes:
    """A white PNG of ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "PNG")
    return buffer.getvalue()


def wait_for_workers(prefix: str, timeout_s: float = 5.0) -> None:
    """Wait until no thread whose name starts with ``prefix`` runs."""
    deadline = time.monotonic() + timeout_s
    while any(t.name.startswith(prefix) for t in threading.enumerate()):
        assert time.monotonic() < deadline, f"a {prefix!r} thread is still running"
        time.sleep(0.005)


async def answers_at_once(provider_id: str, settings: Settings, model: str,
                          prompts: Sequence[str]) -> list[list[Event]]:
    """One provider instance, ``model`` prepared, every prompt streamed at the same time;
    each prompt's events, in order."""
    provider = providers.create(provider_id, settings)
    try:
        await provider.prepare(model)

        async def one(prompt: str) -> list[Event]:
            return [e async for e in provider.stream(ChatRequest(model, prompt))]
        return list(await asyncio.gather(*(one(p) for p in prompts)))
    finally:
        await provider.aclose()


def text_of(events: Sequence[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def compare(settings: Settings, targets: Sequence[str], request: ChatRequest | None = None,
            timeout_s: float = 10.0) -> tuple[list[TargetResult], float]:
    """Run the engine on ``targets``; return the results and the wall time in ms."""
    async def go() -> tuple[list[TargetResult], float]:
        pool = ProviderPool(settings)
        comparison = Comparison(request or ChatRequest("", "Hello?"),
                                [providers.parse_target(t) for t in targets], pool,
                                timeout_s=timeout_s)
        try:
            results = await comparison.run()
        finally:
            await pool.aclose()
        assert comparison.wall_ms is not None
        return results, comparison.wall_ms
    return asyncio.run(go())
