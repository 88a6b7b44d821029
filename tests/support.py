"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Sequence

from PIL import Image

import providers
from bench.support import compare  # noqa: F401 (shared with the benchmarks)
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
