"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

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
