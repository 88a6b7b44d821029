"""The Scenarios tab: wired into the app, runs a pack for a session, caps repeats on a
public server, refuses a second pack in the same session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import gradio as gr

from fake_services.services import Behaviours
from playground.policy import Policy
from playground.ui.layout import build_demo
from playground.ui.scenarios_tab import PUBLIC_MAX_REPEATS, ScenarioTab
from playground.ui.session import Sessions
from providers.settings import Settings
from tests.scenario_support import answering
from tests.ui_support import free_port, session


def tab(settings: Settings, policy: Policy | None = None) -> ScenarioTab:
    return ScenarioTab(Sessions(settings, policy or Policy()))


def test_the_app_has_a_scenarios_tab(fakes) -> None:
    demo = build_demo(Settings(fakes), Policy())
    labels = [getattr(block, "label", None) for block in demo.blocks.values()]
    assert "Scenarios" in labels and "Scenario pack" in labels
    assert "run_scenario" in [fn.api_name for fn in demo.fns.values()]


def test_run_streams_rows_and_ends_with_a_report(fakes, behaviours: Behaviours,
                                                 monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "history.db"))
    answering(behaviours)

    async def go() -> list[list]:
        return [out async for out in tab(Settings(fakes)).run("chinese-qa", 1, {},
                                                              request=session())]
    frames = asyncio.run(go())
    progress, table, chart, download = frames[-1]
    assert progress.startswith("Done: run 1, 10 answers")  # warm-up + 4 questions, 2 groups
    assert len(table) == 10 and table["checks"].str.startswith("✓").all()
    assert "<svg" in chart
    assert download["visible"] is True and Path(download["value"]).read_text().count("|") > 10
    assert all(f[3]["visible"] is False for f in frames[:-1])
    assert (tmp_path / "history.db").is_file()


def test_public_server_caps_repeats() -> None:
    public = tab(Settings({}), Policy(public=True))
    assert public.repeats_for(50) == PUBLIC_MAX_REPEATS
    assert public.repeats_for(None) == PUBLIC_MAX_REPEATS
    assert tab(Settings({})).repeats_for(50) == 50
    assert tab(Settings({})).repeats_for(None) is None


def test_one_pack_at_a_time_per_session(fakes, behaviours: Behaviours, monkeypatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "history.db"))
    answering(behaviours)
    behaviours.default.interval_s = 0.05
    handlers = tab(Settings(fakes))

    async def go() -> str:
        first = handlers.run("chinese-qa", 1, {}, request=session("a"))
        await anext(first)
        try:
            refused = await anext(handlers.run("chinese-qa", 1, {}, request=session("a")))
            assert refused[1:] == [gr.skip()] * 3  # table, chart, report left as they are
            other = handlers.run("chinese-qa", 1, {}, request=session("b"))
            await anext(other)  # another session is not limited
            await other.aclose()
            return refused[0]
        finally:
            await first.aclose()
    assert "already runs 1" in asyncio.run(go())


def test_describe_and_bad_input(fakes) -> None:
    handlers = tab(Settings(fakes), Policy(public=True))
    text = asyncio.run(handlers.describe("moe-agent", {}))
    assert "Phi-3.5 MoE" in text
    assert asyncio.run(handlers.describe(None, {})).startswith("Pick a pack")
    refused = asyncio.run(handlers.describe("moe-agent", {"NIM_BASE_URL": "http://10.0.0.1/v1"}))
    assert refused.startswith("**This pack cannot run:**") and "public server" in refused


def test_run_without_a_pack_is_a_message_not_an_error() -> None:
    handlers = tab(Settings({}))

    async def go() -> list:
        return [frame async for frame in handlers.run(None, None, {})]
    (frame,) = asyncio.run(go())
    assert frame[0] == "✗ **Nothing was sent.** Pick a scenario pack first (the list above)."
    assert frame[1:] == [gr.skip()] * 3


def test_a_pack_that_cannot_run_is_refused_before_anything(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "history.db"))
    handlers = tab(Settings({"ONNX_MODELS_DIR": str(tmp_path / "models"),
                             "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}"}))

    async def go() -> list:
        return [frame async for frame in handlers.run("chinese-qa", 1, {})]
    (frame,) = asyncio.run(go())  # one frame: the refusal, no "Starting" first
    assert "No group of this pack can run here" in frame[0]
    assert "python -m playground models download phi-3.5-mini" in frame[0]
    assert frame[1:] == [gr.skip()] * 3
    assert not (tmp_path / "history.db").exists()  # nothing saved
