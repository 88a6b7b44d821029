"""The Scenarios tab's plain handlers: pack list, description, a run with progress,
table, charts and report; Stop keeps the finished rounds."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from fake_services.services import Behaviours
from playground.scenarios.reports import summarize
from playground.store import Store
from playground.ui import scenarios_handlers as handlers
from playground.validate import InputError
from providers.settings import Settings
from tests.scenario_support import PACKS, answering


def collect(pack: str, settings: Settings, tmp_path: Path, **kwargs) -> list[handlers.ScenarioFrame]:
    async def go() -> list[handlers.ScenarioFrame]:
        return [frame async for frame in handlers.run_pack(
            pack, settings, store_path=tmp_path / "h.db", report_dir=tmp_path, **kwargs)]
    return asyncio.run(go())


def test_pack_choices() -> None:
    assert sorted(pack_id for _, pack_id in handlers.pack_choices()) == sorted(PACKS)


def test_describe_pack_says_which_route_and_why(fakes) -> None:
    text = asyncio.run(handlers.describe_pack("moe-agent", Settings({"NVIDIA_API_KEY": "k"})))
    assert text.startswith("**MoE agent: tool-using JSON answer")
    assert "- **Phi-3.5 MoE**: nim:microsoft/phi-3.5-moe-instruct (route 2 of 2)" in text
    with pytest.raises(InputError, match="no-such-pack.yaml:1: cannot read the file"):
        asyncio.run(handlers.describe_pack("no-such-pack", Settings({})))


def test_run_pack_streams_progress_table_charts_and_a_report(fakes, behaviours: Behaviours,
                                                             tmp_path: Path) -> None:
    answering(behaviours)
    frames = collect("chinese-qa", Settings(fakes), tmp_path, repeats=2)
    assert frames[0].progress == "Starting chinese-qa: 10 answers to collect…"
    assert [len(f.table) for f in frames] == [0, *range(1, 11), 10]
    assert re.fullmatch(r"3/10 · changsha / Phi-3(\.5)? mini: ok", frames[3].progress)
    last = frames[-1]
    assert last.progress == "Done: run 1, 10 answers (done)."
    assert all(f.report is None for f in frames[:-1]) and Path(last.report).is_file()
    assert last.report.endswith("chinese-qa-run-1.md")
    assert last.table["checks"].str.startswith("✓ language zh (≥60%)").all()
    assert list(last.table["warmup"]) == [True, True] + [False] * 8
    stored = summarize(Store(tmp_path / "h.db").load_run(1).rows)
    summary = {(s["group"], s["case"]): s for s in stored}
    chart = handlers.chart_frame(stored)  # what the chart HTML draws
    assert len(chart) == 2 * len(summary)  # TTFT and total for each (group, case)
    for line in chart.itertuples():
        entry = summary[(line.group, line.case)]
        assert (line.median, line.p90, line.n) == (entry[f"{line.metric}_median"],
                                                   entry[f"{line.metric}_p90"], 2)
        assert line.median <= line.p90
    assert last.chart_html.count("<svg") == 2 and "whisker to p90" in last.chart_html
    assert last.chart_html.count("<rect") == 2 * len(summary)
    assert all(f"{line.median:,.0f} / {line.p90:,.0f} (n=2)" in last.chart_html
               for line in chart.itertuples())


def test_a_row_with_an_error_and_failed_checks_is_shown(fakes, tmp_path: Path) -> None:
    settings = Settings({k: v for k, v in fakes.items() if not k.startswith("AZURE")})
    frames = collect("moe-agent", settings, tmp_path)
    table = frames[-1].table.set_index("group")
    assert table.loc["Phi-3.5 MoE", "status"] == "ok"
    assert table.loc["Phi-3.5 MoE", "checks"] == "✗ valid JSON with tool_name (no JSON found)"
    assert frames[-1].chart_html.count("<rect") == 4


def test_closing_the_run_keeps_the_finished_rounds(fakes, behaviours: Behaviours,
                                                   tmp_path: Path) -> None:
    answering(behaviours, first_s=0.05)

    async def stop_after_a_round() -> None:
        frames = handlers.run_pack("chinese-qa", Settings(fakes), store_path=tmp_path / "h.db",
                                   report_dir=tmp_path)
        for _ in range(3):  # the start frame and both warm-up rows
            await anext(frames)
        await frames.aclose()
    asyncio.run(stop_after_a_round())
    run = Store(tmp_path / "h.db").load_run(1)
    assert run.status == "stopped" and len(run.rows) == 2
    assert list(tmp_path.glob("*.md")) == []


def test_a_broken_pack_raises_input_error(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: broken\ntitle: Broken\ncases: []\n")
    with pytest.raises(InputError, match="broken.yaml:1: groups: required key is missing"):
        collect("broken", Settings({}), tmp_path, directory=tmp_path)
