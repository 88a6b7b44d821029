"""``run``, ``scenarios`` and ``history`` as a user runs them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fake_services.services import KEYS, Behaviours, ollama_tags
from playground.cli import main
from playground.metrics import RESULT_FIELDS
from playground.scenarios.reports import comparison_table
from tests.scenario_support import PACKS, answering, write_scenario
from tests.test_cli import playground

SUMMARY_KEYS = {"group", "case", "n", "ttft_ms_median", "ttft_ms_p90", "total_ms_median",
                "total_ms_p90", "decode_tokens_per_s_median", "checks_passed", "checks_total"}


@pytest.fixture
def env(fakes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The fakes' settings in this process's environment (for in-process ``main``)."""
    for name, value in fakes.items():
        monkeypatch.setenv(name, value)
    return fakes


def test_run_json_contract(fakes, behaviours: Behaviours, tmp_path: Path) -> None:
    answering(behaviours)
    done = playground("run", "chinese-qa", "--repeat", "2", "--format", "json",
                      env=fakes, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # exactly one JSON document
    assert document["scenario"] == "chinese-qa" and document["run_id"] == 1
    assert {"scenario", "runs", "summary"} <= set(document)
    # (warm-up + (1 + 1 + 2 turns) x 2 repeats) x 2 groups
    assert len(document["runs"]) == (1 + 4 * 2) * 2
    for row in document["runs"]:
        assert {"case", "group", "repeat", "warmup", *RESULT_FIELDS, "partial", "checks"} <= set(row)
        assert row["status"] == "ok" and row["target"].startswith("azure:")
        for check in row["checks"]:
            assert set(check) == {"name", "passed", "detail"} and check["passed"] is True
    assert [r["warmup"] for r in document["runs"]][:2] == [True, True]
    assert len(document["summary"]) == 8  # 2 groups x (2 cases + the follow-up's 2 turns)
    two_checks = ("changsha", "changsha-food/2")
    for entry in document["summary"]:
        assert SUMMARY_KEYS <= set(entry) and entry["n"] == 2
        assert entry["checks_passed"] == entry["checks_total"] == (
            4 if entry["case"] in two_checks else 2)
    assert [r["turn"] for r in document["runs"] if r["case"].startswith("changsha-food/")
            ] == [1, 1, 2, 2] * 2
    assert "[18/18] changsha-food/2 / " in done.stderr, "progress on stderr"
    assert "Saved as run 1 in playground.db" in done.stderr
    assert (tmp_path / "playground.db").is_file()


def test_run_table_overrides_and_exports(env, behaviours: Behaviours, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    answering(behaviours)
    outputs = [tmp_path / f"report.{suffix}" for suffix in ("csv", "json", "md")]
    for out in outputs:
        code = main(["run", "moe-agent", "--target", "Phi-3.5 mini=ollama:phi3.5",
                     "--target", "Phi-3.5 MoE=nim:microsoft/phi-3.5-moe-instruct", "--out", str(out)])
        assert code == 0
    table = capsys.readouterr().out
    assert "Phi-3.5 mini: ollama:phi3.5" in table and "sequential" in table and "concurrent" in table
    assert "median / p90 over measured runs" in table
    rows = list(csv.DictReader(outputs[0].open(encoding="utf-8")))
    assert [r["target"] for r in rows] == ["nim:microsoft/phi-3.5-moe-instruct", "ollama:phi3.5"]
    assert rows[0]["checks"].startswith("pass valid JSON with tool_name: JSON in ```json block")
    document = json.loads(outputs[1].read_text(encoding="utf-8"))
    assert document["groups"][1]["overridden"] is True and document["runs"][1]["mode"] == "sequential"
    report = outputs[2].read_text(encoding="utf-8")
    assert report.startswith("# MoE agent: tool-using JSON answer")
    assert "| blog-and-translate | Phi-3.5 MoE | nim:microsoft/phi-3.5-moe-instruct | 1/1 |" in report
    assert "> ```json" in report and "## Environment" in report
    assert report.count(" (reported) | ") == 2  # tokens/s says where its token counts came from


def test_estimated_token_rates_are_marked() -> None:
    entry = {"case": "c", "group": "g", "route": "openai:m", "n": 1, "runs": 1,
             "ttft_ms_median": 10.0, "ttft_ms_p90": 10.0, "total_ms_median": 20.0,
             "total_ms_p90": 20.0, "decode_tokens_per_s_median": 50.0, "chars_per_s_median": 90.0,
             "tokens_source": "estimated", "checks_passed": 0, "checks_total": 0}
    assert "| ≈50.0 (estimated) |" in comparison_table([entry])[2]


@pytest.mark.parametrize(("args", "says"), [
    (["run", "no-such-pack"], "no-such-pack.yaml:1: cannot read the file"),
    (["run", "chinese-qa", "--target", "Phi-4=ollama:phi4"], "--target names no group of chinese-qa"),
    (["run", "chinese-qa", "--target", "ollama:phi3.5"], "is not GROUP=PROVIDER:MODEL"),
    (["run", "chinese-qa", "--target", "Phi-3 mini=phi3"], "route 'phi3' is not PROVIDER:MODEL"),
    (["run", "chinese-qa", "--repeat", "0"], "--repeat must be a whole number from 1 to 50"),
    (["run", "chinese-qa", "--repeat", "1000"], "--repeat must be a whole number from 1 to 50"),
    (["run", "chinese-qa", "--warmup", "9"], "--warmup must be a whole number from 0 to 5"),
    (["run", "chinese-qa", "--out", "/nonexistent/x.md"], "the folder /nonexistent does not exist"),
    (["run", "chinese-qa", "--out", "report.html"], "choose a file ending in .csv, .json, .md"),
])
def test_bad_runs_send_nothing(args, says, env, server, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert says in captured.err and captured.out == ""
    assert server.chat_requests() == []


def test_a_pack_with_no_runnable_route_is_refused(server, monkeypatch, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    server.on("GET", "/api/tags", ollama_tags(["llama3:latest"]))  # up, without any Phi
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    monkeypatch.setenv("ONNX_MODELS_DIR", str(tmp_path / "models"))
    assert main(["run", "chinese-qa", "--db", str(tmp_path / "runs.db")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Saved as" not in captured.err
    assert server.chat_requests() == []
    assert captured.err.startswith("Nothing was sent:\n  No group of this pack can run here.")
    for line in ("  Phi-3 mini:", "  Phi-3.5 mini:",
                 "    nim:microsoft/phi-3-mini-4k-instruct: needs NVIDIA_API_KEY in the "
                 "environment or .env",
                 "    ollama:phi3.5: Ollama at " + server.url + " does not have 'phi3.5' "
                 "(ollama pull phi3.5)",
                 "    onnx:phi-3-mini-4k: phi-3-mini-4k is not downloaded (python -m playground "
                 "models download phi-3-mini-4k)"):
        assert line in captured.err.splitlines(), line
    assert not (tmp_path / "runs.db").exists(), "no run saved, no database made"


def test_a_bad_scenario_file_is_located(env, tmp_path: Path, capsys) -> None:
    path = write_scenario(tmp_path, repeats="many")
    assert main(["run", str(path)]) == 2
    assert "pack.yaml:3: repeats: Input should be a valid integer" in capsys.readouterr().err


def test_exit_status_follows_targets_and_checks(env, tmp_path: Path, behaviours: Behaviours) -> None:
    answering(behaviours, answers={"": "no"})
    path = write_scenario(tmp_path, checks=[{"contains": "yes"}])
    assert main(["run", str(path)]) == 0  # checks are results, not failures...
    assert main(["run", str(path), "--fail-on-checks"]) == 1  # ...unless asked
    failing = write_scenario(tmp_path, "failing.yaml",
                             groups=[{"name": "A", "routes": ["ollama:missing-model"]},
                                     {"name": "B", "routes": ["azure:Phi-3.5-mini-instruct"]}])
    assert main(["run", str(failing)]) == 1


def test_scenarios_lists_the_packs(env, tmp_path: Path, capsys) -> None:
    assert main(["scenarios", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in listed] == sorted(PACKS)
    for pack in listed:
        assert set(pack) == {"id", "file", "title", "description", "groups", "cases"}
        assert Path(pack["file"]).is_file() and pack["cases"] >= 1 and len(pack["groups"]) >= 2
    assert main(["scenarios"]) == 0
    table = capsys.readouterr().out
    assert "- Phi-3.5 MoE: azure:Phi-3.5-MoE-instruct (route 1 of 2)" in table
    assert "chinese-qa: Chinese Q&A: Phi-3-mini vs Phi-3.5-mini [ready]" in table


def test_scenarios_say_which_groups_can_run(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("NVIDIA_API_KEY", KEYS["NVIDIA_API_KEY"])
    path = write_scenario(tmp_path)  # group A on NIM, group B on Azure
    assert main(["scenarios", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("[1 of 2 groups can run]")
    assert lines[2:] == ["  - A: nim:microsoft/phi-3.5-mini-instruct (route 1 of 1)",
                         "  - B: cannot run here; any one of these would do:",
                         "        azure:Phi-3.5-mini-instruct: needs AZURE_AI_ENDPOINT and "
                         "AZURE_AI_API_KEY in the environment or .env"]


def test_scenarios_without_keys_say_what_to_set(tmp_path: Path, capsys) -> None:
    assert main(["scenarios"]) == 0
    table = capsys.readouterr().out
    assert "moe-agent: MoE agent: tool-using JSON answer (Phi-3.5-MoE vs Phi-3.5-mini) " \
           "[cannot run here]" in table
    assert ("  - Phi-3.5 MoE: cannot run here; any one of these would do:\n"
            "        azure:Phi-3.5-MoE-instruct: needs AZURE_AI_ENDPOINT and AZURE_AI_API_KEY in "
            "the environment or .env\n"
            "        nim:microsoft/phi-3.5-moe-instruct: needs NVIDIA_API_KEY in the environment or "
            ".env\n") in table
    assert ("        onnx:phi-3.5-mini: phi-3.5-mini is not downloaded (python -m playground "
            "models download phi-3.5-mini)") in table
    assert "ollama:phi3.5: Ollama is not running at " in table and "session" not in table


def test_scenarios_check(tmp_path: Path, capsys) -> None:
    assert main(["scenarios", "--check"]) == 0
    assert capsys.readouterr().out.count("ok  ") == len(PACKS)
    good = write_scenario(tmp_path, "good.yaml")
    bad = write_scenario(tmp_path, "bad.yaml", warmup=-1)
    assert main(["scenarios", "--check", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert "bad.yaml:4: warmup: Input should be greater than or equal to 0" in captured.err
    assert "good.yaml" in captured.out and "bad.yaml" not in captured.out


def test_history_lists_shows_and_exports(env, tmp_path: Path, behaviours: Behaviours,
                                         capsys) -> None:
    answering(behaviours)
    for pack in ("moe-agent", "long-context"):
        assert main(["run", pack]) == 0
    capsys.readouterr()
    assert main(["history"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split()[:2] == ["2", "long-context"] and "done" in listing[1]
    assert listing[2].split()[:2] == ["1", "moe-agent"]
    assert main(["history", "--format", "json"]) == 0
    assert [r["scenario_id"] for r in json.loads(capsys.readouterr().out)] == [
        "long-context", "moe-agent"]
    assert main(["history", "show", "2"]) == 0
    assert "| relief-boat | Phi-3.5 mini |" in capsys.readouterr().out
    out = tmp_path / "run1.csv"
    assert main(["history", "export", "1", "--out", str(out)]) == 0
    assert len(list(csv.DictReader(out.open(encoding="utf-8")))) == 2
    for args, says in ((["history", "export", "1"], "needs a RUN_ID and --out FILE"),
                       (["history", "show", "9"], "There is no run 9"),
                       (["history", "export", "1", "--out", "x.txt"], "choose a file ending in")):
        assert main(args) == 2
        assert says in capsys.readouterr().err
    for value in KEYS.values():
        assert value not in Path("playground.db").read_text(errors="replace")
