"""Stop and disconnect at every phase of a run, and the frame pacing of LiveRun."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import providers
from playground.engine import Comparison, ProviderPool
from playground.ui.live import LiveRun
from providers.base import ChatRequest, Event, Provider, TextDelta
from tests.ui_support import final_results, form, handlers, run_compare, session, shown

NIM = "nim:microsoft/phi-3.5-mini-instruct"


class SlowToPrepare(Provider):
    """Stands for a local model that takes long to load."""

    id = "slowprep"
    title = "Slow to prepare"

    async def prepare(self, model: str) -> None:
        await asyncio.sleep(30)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        yield TextDelta("never reached")


@pytest.fixture
def slow_prepare(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(providers.PROVIDERS, SlowToPrepare.id, SlowToPrepare)
    return f"{SlowToPrepare.id}:big-model"


def test_stop_while_a_model_loads_stops_everything(settings, slow_prepare) -> None:
    runs = handlers(settings)
    frames, seconds = run_compare(runs, form([NIM, slow_prepare]), request=session(),
                                  during=lambda f: runs.stop(request=session()))
    assert seconds < 3
    assert [r.status for r in final_results(frames)] == ["stopped", "stopped"]
    assert all("stopped" in line for line in shown(frames)["status"][:2])


def test_a_closed_page_stops_the_engine(settings, behaviours, server) -> None:
    behaviours.default.pieces = [f"w{i} " for i in range(400)]
    behaviours.default.interval_s = 0.05
    runs = handlers(settings)

    async def leave_after_text() -> Comparison:
        outputs = runs.compare(*form([NIM]), request=session())
        async for _ in outputs:
            run, = runs.sessions.running(session().session_hash)
            if run.comparison.results[0].text:
                break
        await outputs.aclose()  # what Gradio does when the browser goes away
        await runs.sessions.close_pool()
        return run.comparison

    comparison = asyncio.run(asyncio.wait_for(leave_after_text(), 10))
    assert comparison.results[0].status == "stopped" and comparison.wall_ms is not None
    assert runs.sessions.running(session().session_hash) == []
    sent = len(server.last("/nim/v1/chat/completions").sent_at)
    assert sent < 200  # the stream was abandoned, not read to the end


def test_frames_pace_panes_and_table(settings, behaviours) -> None:
    behaviours.default.pieces = [f"t{i} " for i in range(150)]
    behaviours.default.interval_s = 0.004

    async def go() -> list:
        pool = ProviderPool(settings)
        comparison = Comparison(ChatRequest("", "Hi"), [providers.parse_target(NIM)], pool)
        run = LiveRun(comparison, pane_interval_s=0.1, table_interval_s=0.3)
        stamps = []
        async for frame in run.frames():
            stamps.append((asyncio.get_running_loop().time(), frame))
        await pool.aclose()
        return stamps

    stamps = asyncio.run(go())
    final = stamps[-1][1]
    assert final.final and final.table and final.changed == {0}
    gaps = [b[0] - a[0] for a, b in zip(stamps, stamps[1:])]
    status_changes = 2  # waiting -> running, running -> ok: sent without waiting
    assert sum(gap < 0.095 for gap in gaps) <= status_changes + 1  # + the final frame
    tables = [t for t, frame in stamps[:-1] if frame.table]
    assert len(tables) <= len(stamps[:-1]) // 3 + status_changes + 1
