"""Scenario files: the shipped packs validate; bad files give errors located by file,
line and field."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from playground.scenarios.files import ScenarioFileError, load_scenario, scenario_files
from playground.scenarios.model import SCENARIOS_DIR, Scenario
from providers.catalog import lookup
from tests.scenario_support import PACKS

WORKING = {"azure", "nim", "ollama", "onnx", "openai"}


def shipped() -> list[Scenario]:
    return [load_scenario(path) for path in scenario_files(SCENARIOS_DIR)]


def test_the_six_packs_ship_and_validate() -> None:
    packs = {s.id: s for s in shipped()}
    assert set(PACKS) <= set(packs)
    for pack in packs.values():
        assert pack.path is not None and pack.path.stem == pack.id, "file name = id"
        assert len(pack.groups) >= 2 and pack.cases


def test_every_route_is_a_catalog_model_on_a_working_provider() -> None:
    for pack in shipped():
        for group in pack.groups:
            targets = group.targets()
            assert any(t.provider in WORKING for t in targets), (pack.id, group.name)
            assert targets[0].provider != "github", "GitHub Models (retired) is never first"
            for target in targets:
                assert lookup(target.provider, target.model) is not None, (pack.id, str(target))


def test_the_lesson_prompts_are_the_lessons() -> None:
    packs = {s.id: s for s in shipped()}
    chinese = packs["chinese-qa"].cases
    assert [c.prompt for c in chinese] == ["你知道长沙吗？", "你能否介绍一下如何提升学习效率吗?", None]
    # The follow-up the lesson invites (issue 15): 长沙, then "and its food?".
    assert [t.prompt for t in chinese[2].turns] == ["你知道长沙吗？", "它的美食呢？"]
    assert {c.system for c in chinese} == {"你是我的人工智能助手，协助我用中文解答问题"}
    moe = packs["moe-agent"].cases[0]
    assert moe.prompt == "Write something about Generative AI with MOE, translate it to Chinese"
    # sha256 of sys_msg in 19-slm/python/phi35_moe_demo.ipynb (microsoft/generative-ai-for-beginners)
    assert hashlib.sha256(moe.system.encode()).hexdigest() == (
        "5f3ff4a311dddab6b681bd1ec94b4ed1ea260cef4e09016d2ae9936f08efc04a")
    frames = packs["vision-frames"]
    assert frames.cases[0].prompt == "Summarize the video." and len(frames.cases[0].images) == 3
    long_prompt = packs["long-context"].case_prompt(packs["long-context"].cases[0])
    assert len(long_prompt) > 50_000 and "Saltmarsh Heron" in long_prompt[-600:]
    assert long_prompt.count("Saltmarsh Heron") == 1


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # errors name files relative to the working directory


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
id: demo
title: Demo
parameters:
  max_tokens: 64
groups:
  - name: A
    routes: [nim:microsoft/phi-3.5-mini-instruct]
  - name: B
    routes:
      - ollama:phi3.5
cases:
  - id: one
    prompt: Hello?
    checks:
      - contains: hi
"""


def errors(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario(write(tmp_path, text))
    return [str(p) for p in caught.value.problems]


def test_the_base_file_is_valid(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD, "good.yaml"))
    assert scenario.id == "demo" and scenario.warmup == 1 and scenario.repeats == 1


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("  max_tokens: 64", "  max_tokens: 64\n  temprature: 0.3",
     "bad.yaml:5: parameters.temprature: unknown key 'temprature'; did you mean 'temperature'?"),
    ("      - contains: hi", "      - language: cn",
     "bad.yaml:15: cases[0].checks[0].language.code: Input should be 'zh'"),
    ("    prompt: Hello?\n", "",
     "bad.yaml:12: cases[0]: a case needs either prompt or turns (one of them)"),
    ("      - ollama:phi3.5", "      - ollama",
     "bad.yaml:10: groups[1].routes[0]: route 'ollama' is not PROVIDER:MODEL"),
    ("      - ollama:phi3.5", "      - acme:phi3.5",
     "bad.yaml:10: groups[1].routes[0]: unknown provider 'acme'"),
    ("    routes: [nim:microsoft/phi-3.5-mini-instruct]",
     "    routes: [github:microsoft/phi-3.5-mini-instruct]",
     "bad.yaml:7: groups[0].routes: GitHub Models was retired on 2026-07-30"),
    ("    prompt: Hello?", "    prompt: Hello?\n    images: [missing.png]",
     "bad.yaml:14: cases[0].images: Image 'missing.png' does not exist"),
    ("      - contains: hi", "      - contains: hi\n        max_length: 10",
     "bad.yaml:15: cases[0].checks[0]: a check needs exactly one of"),
    ("      - contains: hi", "      - regex: '(unclosed'",
     "bad.yaml:15: cases[0].checks[0].regex.pattern: not a valid regular expression"),
    ("  max_tokens: 64", "  max_tokens: lots",
     "bad.yaml:4: parameters.max_tokens: Input should be a valid integer"),
    ("  max_tokens: 64", "  max_tokens: 0",
     "bad.yaml:4: parameters.max_tokens: Input should be greater than or equal to 1"),
    ("id: demo", "id: Demo Pack", "bad.yaml:1: id: String should match pattern"),
    ("  - name: B", "  - name: A", "bad.yaml:1: group name 'A' is used twice"),
    ("title: Demo", "title: Demo\ntitle: Again", "bad.yaml:3: duplicate key 'title' (first at line 2)"),
    ("    prompt: Hello?", "    prompt: [Hello?", "bad.yaml:13: not valid YAML"),
    ("      - contains: hi", "      - contains:",
     "bad.yaml:15: cases[0].checks[0]: 'contains:' needs a value"),
])
def test_bad_files_give_located_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    found = errors(tmp_path, GOOD.replace(old, new, 1))
    assert any(line.startswith(expected) for line in found), found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("  max_tokens: 64", "  max_tokens: 0").replace("hi", "").replace(
        "title: Demo", "titel: Demo")
    found = errors(tmp_path, text)
    assert [line.split(":", 2)[1:] for line in found] == [
        ["1", " title: required key is missing"],
        ["2", " titel: unknown key 'titel'; did you mean 'title'?"],
        ["4", " parameters.max_tokens: Input should be greater than or equal to 1"],
        ["15", " cases[0].checks[0]: 'contains:' needs a value (see the scenario format)"]]


@pytest.mark.parametrize("text", ["- just\n- a list\n", "", "plain words"])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    assert errors(tmp_path, text) == ["bad.yaml:1: a scenario file is a YAML mapping "
                                      "(id, title, groups, cases, ...)"]
