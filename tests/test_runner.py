"""Scenario runs: every shipped pack end to end on the fakes and on the tiny ONNX models,
routes, repeats and warm-up, local vs remote scheduling, image capability."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import providers
from fake_services.server import FakeServer
from fake_services.services import Behaviours
from playground.engine import ProviderPool
from playground.scenarios.files import load_scenario
from playground.scenarios.reports import summarize
from playground.scenarios.routing import resolve_routes
from playground.scenarios.runner import RunOptions, ScenarioRun
from playground.validate import InputError
from providers.settings import Settings
from tests.scenario_support import PACKS, answering, by_key, onnx_models, run_scenario, write_scenario

NO_SERVER = "http://127.0.0.1:9"  # discard port: nothing listens


@pytest.mark.parametrize("provider", ["azure", "nim"])
@pytest.mark.parametrize("pack", PACKS)
def test_every_pack_runs_end_to_end_on_the_fakes(pack: str, provider: str, fakes, behaviours,
                                                 server: FakeServer) -> None:
    answering(behaviours)
    env = fakes if provider == "azure" else {k: v for k, v in fakes.items()
                                             if not k.startswith("AZURE")}
    run = run_scenario(pack, Settings(env))
    scenario = run.scenario
    assert run.status == "done"
    # With every key set each group takes its first route; without Azure's, the first other.
    expected = [next(t for t in g.targets() if provider == "azure" or t.provider != "azure")
                for g in scenario.groups]
    assert [c.target for c in run.routes] == expected
    assert {t.provider for t in expected} <= {"azure", "nim"}
    assert len(run.rows) == run.total == (scenario.warmup + len(scenario.cases) * scenario.repeats
                                          ) * len(scenario.groups)
    for row in run.rows:
        assert row.result.status == "ok", (row.group, row.result.error)
        assert row.mode == "concurrent"
        assert row.checks and all(c.passed for c in row.checks), [c.detail for c in row.checks]
    assert sum(r.warmup for r in run.rows) == scenario.warmup * len(scenario.groups)
    for entry in summarize(run.rows):
        assert entry["n"] == entry["runs"] == scenario.repeats and entry["errors"] == 0
        assert entry["checks_passed"] == entry["checks_total"] > 0
        assert 0 < entry["ttft_ms_median"] <= entry["ttft_ms_p90"] <= entry["total_ms_max"]
    sent = server.chat_requests()
    assert len(sent) == len(run.rows), "one request per row, no retries"


@pytest.mark.parametrize("pack", PACKS)
def test_wrong_answers_fail_each_packs_checks(pack: str, fakes, behaviours) -> None:
    answering(behaviours, answers={"": "I am sorry, I cannot help with that."})
    run = run_scenario(pack, Settings(fakes), RunOptions(repeats=1, warmup=0))
    assert all(r.result.status == "ok" for r in run.rows)
    failed = {c.name for r in run.rows for c in r.checks if not c.passed}
    main_check = {"chinese-qa": "language zh (≥60%)", "multilingual": "language ja (≥50%)",
                  "vision-chart": "Python code block", "vision-frames": "mentions the sun or the boat",
                  "moe-agent": "valid JSON with tool_name",
                  "long-context": "contains 'Saltmarsh Heron'"}[pack]
    assert main_check in failed
    for entry in summarize(run.rows):
        assert entry["checks_passed"] < entry["checks_total"]


@pytest.mark.parametrize("pack", PACKS)
def test_every_pack_runs_on_the_tiny_onnx_models(pack: str, tmp_path: Path) -> None:
    settings = Settings({"ONNX_MODELS_DIR": str(onnx_models(tmp_path)), "OLLAMA_HOST": NO_SERVER})
    run = run_scenario(pack, settings)
    assert run.status == "done" and len(run.rows) == run.total
    routes = {c.group: c for c in run.routes}
    for row in run.rows:
        choice = routes[row.group]
        if choice.target is None and pack == "moe-agent":  # cloud routes only, no key here
            assert row.result.error_kind == "config" and row.mode == "not sent"
            assert "needs AZURE_AI_ENDPOINT and AZURE_AI_API_KEY" in row.result.error
        elif choice.target is None:  # the 128k group: no key, Ollama not running
            assert row.result.error_kind == "unavailable" and row.mode == "not sent"
            assert "Ollama is not running at http://127.0.0.1:9" in row.result.error
        elif pack in ("long-context", "moe-agent"):  # longer than the tiny model's 512 tokens
            assert row.result.error_kind == "bad_request"
            assert "tiny-phi3's context is 512 tokens" in row.result.error
        else:
            assert choice.target.provider == "onnx" and row.mode == "sequential"
            assert any("ollama" in s for s in choice.skipped) or "vision" in pack
            assert row.result.status == "ok" and row.result.tokens_source == "counted"
    if pack == "chinese-qa":  # the fixture's trained answer passes the real checks
        row = by_key(run.rows)[("changsha", "Phi-3.5 mini", 1, False)]
        assert row.result.text == "长沙是湖南的省会。" and all(c.passed for c in row.checks)
    if pack == "vision-frames":
        reduced = by_key(run.rows)[("sunrise-clip", "Phi-3 vision", 1, False)]
        assert reduced.result.notices[0] == ("Phi-3-vision-128k-instruct takes 1 image(s) per "
                                             "request on onnx: sent the first 1 of 3 frames only.")
        assert not any("frames only" in n for n in by_key(run.rows)[
            ("sunrise-clip", "Phi-3.5 vision", 1, False)].result.notices)


def resolve(path: Path, settings: Settings, overrides=None):
    async def go():
        pool = ProviderPool(settings)
        try:
            return await resolve_routes(load_scenario(path), pool, overrides)
        finally:
            await pool.aclose()
    return asyncio.run(go())


def test_the_first_route_that_can_run_is_used(tmp_path: Path, fakes, monkeypatch) -> None:
    monkeypatch.delitem(providers.PROVIDERS, "onnx")
    path = write_scenario(tmp_path, groups=[
        {"name": "listed", "routes": ["ollama:phi3.5", "nim:microsoft/phi-3.5-mini-instruct"]},
        {"name": "not pulled", "routes": ["ollama:phi4", "nim:microsoft/phi-3.5-mini-instruct"]},
        {"name": "no key", "routes": ["azure:Phi-3.5-mini-instruct", "ollama:phi4"]},
        {"name": "not installed", "routes": ["onnx:phi-3.5-mini", "nim:microsoft/phi-3.5-mini-instruct"]},
        {"name": "nothing", "routes": ["azure:Phi-3.5-mini-instruct"]},
    ])
    env = {k: v for k, v in fakes.items() if not k.startswith("AZURE")}
    choices = {c.group: c for c in resolve(path, Settings(env))}
    assert choices["listed"].describe() == "ollama:phi3.5 (route 1 of 2)"
    assert choices["not pulled"].describe() == "nim:microsoft/phi-3.5-mini-instruct (route 2 of 2)"
    assert choices["not pulled"].skipped == [
        f"ollama:phi4: Ollama at {fakes['OLLAMA_HOST']} does not have 'phi4' (ollama pull phi4)"]
    # Even a last route must be able to run: what would fix each route is the group's row.
    assert choices["no key"].target is None
    assert choices["no key"].skipped == [
        "azure:Phi-3.5-mini-instruct: needs AZURE_AI_ENDPOINT and AZURE_AI_API_KEY in the "
        "environment or .env",
        f"ollama:phi4: Ollama at {fakes['OLLAMA_HOST']} does not have 'phi4' (ollama pull phi4)"]
    assert [r.state for r in choices["no key"].unready] == ["needs_key", "not_downloaded"]
    assert choices["not installed"].skipped[0].startswith(
        "onnx:phi-3.5-mini: Unknown provider 'onnx'")
    assert choices["nothing"].target is None
    assert choices["nothing"].describe().startswith("no route can run: azure:")
    down = {c.group: c for c in resolve(path, Settings({**env, "OLLAMA_HOST": NO_SERVER}))}
    assert down["listed"].skipped[0] == (
        f"ollama:phi3.5: Ollama is not running at {NO_SERVER} (start `ollama serve`, or set "
        "OLLAMA_HOST to a running server)")
    assert str(down["listed"].target) == "nim:microsoft/phi-3.5-mini-instruct"


def test_target_overrides_replace_a_groups_routes(tmp_path: Path, fakes, server) -> None:
    path = write_scenario(tmp_path)
    run = run_scenario(path, Settings(fakes), RunOptions(overrides={"B": ["ollama:phi3.5"]}))
    assert [c.describe() for c in run.routes] == [
        "nim:microsoft/phi-3.5-mini-instruct (route 1 of 1)", "ollama:phi3.5 (--target)"]
    assert {r.result.target for r in run.rows} == {"nim:microsoft/phi-3.5-mini-instruct",
                                                   "ollama:phi3.5"}
    with pytest.raises(InputError, match="names no group of test-pack: C"):
        ScenarioRun(load_scenario(path), Settings(fakes), RunOptions(overrides={"C": ["ollama:x"]}))
    with pytest.raises(InputError, match="is not PROVIDER:MODEL"):
        ScenarioRun(load_scenario(path), Settings(fakes), RunOptions(overrides={"A": ["ollama"]}))


def test_repeats_give_median_and_p90_and_warmups_are_excluded(tmp_path: Path, fakes,
                                                              behaviours: Behaviours) -> None:
    behaviours.set("microsoft/phi-3.5-mini-instruct", pieces=["a", "b"], first_s=0.3)
    behaviours.set("Phi-3.5-mini-instruct", pieces=["a", "b"], first_s=0.05)
    path = write_scenario(tmp_path, repeats=4, warmup=2)
    run = run_scenario(path, Settings(fakes))
    assert [(r.repeat, r.warmup) for r in run.rows if r.group == "A"] == [
        (1, True), (2, True), (1, False), (2, False), (3, False), (4, False)]
    summary = {s["group"]: s for s in summarize(run.rows)}
    assert summary["A"]["n"] == 4 and summary["B"]["n"] == 4
    measured = sorted(r.result.ttft_ms for r in run.rows if r.group == "A" and not r.warmup)
    assert summary["A"]["ttft_ms_median"] == pytest.approx((measured[1] + measured[2]) / 2, abs=0.01)
    assert summary["A"]["ttft_ms_p90"] == pytest.approx(
        measured[2] + 0.7 * (measured[3] - measured[2]), abs=0.01)  # linear, rank 2.7
    assert 300 <= summary["A"]["ttft_ms_median"] < 450 and 50 <= summary["B"]["ttft_ms_median"] < 200


def test_local_targets_run_one_at_a_time_remote_ones_together(tmp_path: Path, fakes,
                                                              behaviours: Behaviours) -> None:
    for model in ("phi3.5", "phi3", "microsoft/phi-3.5-mini-instruct", "Phi-3.5-mini-instruct"):
        behaviours.set(model, pieces=[f" w{i}" for i in range(5)], first_s=0.15, interval_s=0.02)
    path = write_scenario(tmp_path, groups=[
        {"name": "L1", "routes": ["ollama:phi3.5"]},
        {"name": "R1", "routes": ["nim:microsoft/phi-3.5-mini-instruct"]},
        {"name": "L2", "routes": ["ollama:phi3"]}, {"name": "R2", "routes": ["azure:Phi-3.5-mini-instruct"]}])

    def spans(options: RunOptions) -> dict[str, tuple[float, float, str]]:
        run = run_scenario(path, Settings(fakes), options)
        return {r.group: (r.result.dispatched_at, r.result.dispatched_at + r.result.total_ms / 1000,
                          r.mode) for r in run.rows}

    apart = spans(RunOptions())
    assert {g: m for g, (_, _, m) in apart.items()} == {
        "L1": "sequential", "L2": "sequential", "R1": "concurrent", "R2": "concurrent"}
    overlap = lambda a, b: a[0] < b[1] and b[0] < a[1]  # noqa: E731
    assert overlap(apart["R1"], apart["R2"])
    assert not overlap(apart["L1"], apart["L2"])
    assert not any(overlap(apart[local], apart[remote]) for local in ("L1", "L2")
                   for remote in ("R1", "R2"))
    together = spans(RunOptions(parallel_local=True))
    assert all(m == "concurrent" for *_, m in together.values())
    assert overlap(together["L1"], together["L2"]) and overlap(together["L1"], together["R1"])


def test_images_for_a_text_model_are_refused_and_extra_frames_dropped(
        tmp_path: Path, fakes, server: FakeServer) -> None:
    assets = Path(__file__).resolve().parent.parent / "scenarios" / "assets"
    frames = [str(assets / f"sunrise-frame-{i}.png") for i in (1, 2, 3)]
    groups = [{"name": "text", "routes": ["ollama:phi3.5"]},
              {"name": "one image", "routes": ["nim:microsoft/phi-3-vision-128k-instruct"]},
              {"name": "many", "routes": ["nim:microsoft/phi-3.5-vision-instruct"]}]
    path = write_scenario(tmp_path, groups=groups, cases=[
        {"id": "clip", "prompt": "Summarize the video.", "images": frames}])
    rows = {r.group: r for r in run_scenario(path, Settings(fakes)).rows}
    assert rows["text"].mode == "not sent" and rows["text"].result.error_kind == "unsupported_input"
    assert "text-only model" in rows["text"].result.error
    assert rows["one image"].result.status == "ok" and rows["many"].result.status == "ok"
    assert "sent the first 1 of 3 frames only" in rows["one image"].result.notices[0]
    assert not any(r.path == "/api/chat" for r in server.requests), "nothing sent to the text model"
    vlm = server.last("/nim/v1/vlm/microsoft/phi-3-vision-128k-instruct").json
    assert vlm["messages"][-1]["content"].count("<img ") == 1
    chat = server.last("/nim/v1/chat/completions").json
    assert sum(p["type"] == "image_url" for p in chat["messages"][-1]["content"]) == 3

    refuse = write_scenario(tmp_path, "refuse.yaml", groups=groups[1:], too_many_images="refuse",
                            cases=[{"id": "clip", "prompt": "Summarize the video.", "images": frames}])
    rows = {r.group: r for r in run_scenario(refuse, Settings(fakes)).rows}
    assert rows["one image"].result.error_kind == "unsupported_input"
    assert "takes at most 1 image(s) per request here; 3 attached" in rows["one image"].result.error
    assert rows["many"].result.status == "ok"


def test_a_failing_group_does_not_stop_the_others(tmp_path: Path, fakes) -> None:
    path = write_scenario(tmp_path, groups=[
        {"name": "gone", "routes": ["ollama:missing-model"]},
        {"name": "fine", "routes": ["nim:microsoft/phi-3.5-mini-instruct"]}], repeats=2)
    run = run_scenario(path, Settings(fakes))
    assert run.status == "done"
    assert {r.group: r.result.error_kind for r in run.rows} == {"gone": "not_found", "fine": None}
    assert {s["group"]: (s["n"], s["errors"]) for s in summarize(run.rows)} == {
        "gone": (0, 2), "fine": (2, 0)}


def test_closing_the_run_stops_it(tmp_path: Path, fakes, behaviours: Behaviours) -> None:
    behaviours.default.first_s = 0.05
    path = write_scenario(tmp_path, repeats=5)
    run = ScenarioRun(load_scenario(path), Settings(fakes))

    async def two_rows() -> None:
        updates = run.updates()
        for _ in range(2):
            await anext(updates)
        await updates.aclose()
    asyncio.run(two_rows())
    assert run.status == "stopped" and len(run.rows) == 2


def test_a_pack_with_no_runnable_group_is_refused_whole(tmp_path: Path) -> None:
    from playground.store import Store

    store = Store(tmp_path / "h.db")
    run = ScenarioRun(load_scenario(write_scenario(tmp_path)), Settings({}), store=store)

    async def drain() -> None:
        async for _ in run.updates():
            pass

    with pytest.raises(InputError) as refused:
        asyncio.run(drain())
    assert refused.value.problems == [
        "No group of this pack can run here. What would make each route runnable:",
        "A:", "  nim:microsoft/phi-3.5-mini-instruct: needs NVIDIA_API_KEY in the environment "
              "or .env",
        "B:", "  azure:Phi-3.5-mini-instruct: needs AZURE_AI_ENDPOINT and AZURE_AI_API_KEY in "
              "the environment or .env"]
    assert run.status == "refused" and run.rows == [] and run.run_id is None
    assert store.runs(10) == []
