"""Helpers for the UI tests: drive the Compare handler directly and read its frames."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import gradio as gr
from pandas.io.formats.style import Styler

from fake_services.server import free_port  # noqa: F401 (the UI tests' import)
from playground.policy import Policy
from playground.ui.handlers import COMPARE_OUTPUTS, RunHandlers
from playground.ui.session import Sessions
from providers.settings import Settings

SKIP = gr.skip()  # what the handlers return to leave an output as it is


def unpack(outputs: list[Any]) -> dict[str, Any]:
    """Compare's output list as named groups (see handlers.COMPARE_OUTPUTS). The table
    goes out as a Styler (each target's colour); its data is kept under "table" and the
    Styler itself under "table_style"."""
    assert len(outputs) == sum(COMPARE_OUTPUTS.values())
    named, at = {}, 0
    for name, size in COMPARE_OUTPUTS.items():
        part = outputs[at:at + size]
        named[name] = part[0] if size == 1 else part
        at += size
    if isinstance(named["table"], Styler):
        named["table_style"], named["table"] = named["table"], named["table"].data
    return named


def handlers(settings: Settings, policy: Policy | None = None) -> RunHandlers:
    return RunHandlers(Sessions(settings, policy or Policy()))


def form(targets: list[str], prompt: str = "Hello?", *, system: str = "",
         files: list[str] | None = None, max_tokens: float | None = 64,
         temperature: float | None = None, top_p: float | None = None,
         seed: float | None = None, timeout_s: float | None = 10,
         keys: dict[str, str] | None = None) -> list[Any]:
    """Compare's inputs, in the layout's order."""
    return [targets, prompt, system, files, max_tokens, temperature, top_p, seed, timeout_s,
            keys or {}]


def session(name: str = "s1") -> SimpleNamespace:
    """Stands for gr.Request: only the session hash is read."""
    return SimpleNamespace(session_hash=name, query_params={}, headers={})


def run_compare(runs: RunHandlers, inputs: list[Any], *, request: Any = None,
                during: Callable[[list[dict[str, Any]]], Any] | None = None
                ) -> tuple[list[dict[str, Any]], float]:
    """Every frame of one Compare, unpacked, and the seconds it took. ``during`` is
    called after each frame (it may call runs.stop)."""
    async def go() -> list[dict[str, Any]]:
        frames = []
        try:
            async for outputs in runs.compare(*inputs, request=request):
                frames.append(unpack(outputs))
                if during is not None:
                    result = during(frames)
                    if asyncio.iscoroutine(result):
                        await result
        finally:
            await runs.sessions.close_pool()
        return frames
    started = time.perf_counter()
    frames = asyncio.run(go())
    return frames, time.perf_counter() - started


def final_results(frames: list[dict[str, Any]]):
    record = frames[-1]["record"]
    assert record is not None and record is not SKIP, "the last frame carries the record"
    return record.results


def shown(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """What the page shows after every frame was applied (skips keep the old value)."""
    page: dict[str, Any] = {}
    for frame in frames:
        for name, value in frame.items():
            if isinstance(value, list):
                old = page.get(name, [None] * len(value))
                page[name] = [o if v == SKIP else v for o, v in zip(old, value)]
            elif not (isinstance(value, dict) and value == SKIP):
                page[name] = value
    return page
