"""Multi-turn scenario cases (``turns:``): each group answers every question after its
own earlier answers; checks on the last answer unless a turn names its own; a group
whose turn failed is not asked the next one; the conversation's bounds are checked
before anything is sent (``run`` and ``scenarios --check``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_services.server import FakeServer, json_reply
from fake_services.services import Behaviour, Behaviours
from playground.cli import main
from playground.scenarios.files import ScenarioFileError, load_scenario
from playground.scenarios.prepared import prepare_cases
from playground.validate import InputError
from providers.settings import Settings
from tests.scenario_support import run_scenario, write_scenario
from tests.support import png

TURNS = [{"prompt": "你知道长沙吗？", "checks": [{"contains": "长沙"}]},
         {"prompt": "它的美食呢？"}]
A_MODEL, B_MODEL = "microsoft/phi-3.5-mini-instruct", "Phi-3.5-mini-instruct"


def own_answers(behaviours: Behaviours) -> None:
    """Group A's and group B's models answer differently, whatever they are asked."""
    behaviours.set(A_MODEL, pieces=["长沙在", "湖南。"], first_s=0.0)
    behaviours.set(B_MODEL, pieces=["长沙是", "省会。"], first_s=0.0)


def food_case(**extra) -> dict:
    return {"id": "food", "system": "用中文回答。", "turns": TURNS,
            "checks": [{"contains": "美食"}], **extra}


def test_each_group_gets_its_own_earlier_answers(fakes, behaviours, server: FakeServer,
                                                 tmp_path: Path) -> None:
    own_answers(behaviours)
    run = run_scenario(write_scenario(tmp_path, cases=[food_case()]), Settings(fakes))
    assert run.status == "done" and run.total == len(run.rows) == 4
    assert [(r.case, r.group, r.result.turn) for r in run.rows] == [
        ("food/1", "A", 1), ("food/1", "B", 1), ("food/2", "A", 2), ("food/2", "B", 2)]
    bodies = {r.json["model"]: r.json["messages"] for r in server.chat_requests()
              if len(r.json["messages"]) > 2}
    assert bodies[A_MODEL][1:] == [{"role": "user", "content": "你知道长沙吗？"},
                                   {"role": "assistant", "content": "长沙在湖南。"},
                                   {"role": "user", "content": "它的美食呢？"}]
    assert bodies[B_MODEL][2] == {"role": "assistant", "content": "长沙是省会。"}
    # Turn 1 is checked by its own check; the last by the case's (no food named: fails).
    first, last = run.rows[0], run.rows[2]
    assert [(c.name, c.passed) for c in first.checks] == [("contains '长沙'", True)]
    assert [(c.name, c.passed) for c in last.checks] == [("contains '美食'", False)]


def test_checks_rules_for_turns(tmp_path: Path) -> None:
    turns = [{"prompt": "q1"}, {"prompt": "q2", "checks": [{"contains": "x"}]}]
    path = write_scenario(tmp_path, checks=[{"max_length": 500}],
                          cases=[food_case(), {"id": "own", "turns": turns,
                                               "checks": [{"contains": "never"}]}])
    scenario = load_scenario(path)
    food, own = scenario.cases

    def names(case, turn):
        return [c.evaluate("").name for c in scenario.turn_checks(case, turn)]
    assert names(food, 0) == ["contains '长沙'"]  # its own: the pack's apply to last answers
    assert names(food, 1) == ["at most 500 characters", "contains '美食'"]
    assert names(own, 0) == []  # an earlier turn that names none is not checked
    assert names(own, 1) == ["at most 500 characters", "contains 'x'"]  # its own, not the case's


def test_a_failed_turn_ends_that_groups_conversation_only(fakes, behaviours, server: FakeServer,
                                                          tmp_path: Path) -> None:
    own_answers(behaviours)
    server.on("POST", "/azure/openai/v1/chat/completions",
              lambda request: json_reply(500, {"error": {"message": "boom"}}))
    run = run_scenario(write_scenario(tmp_path, cases=[food_case()]), Settings(fakes))
    rows = {(r.case, r.group): r for r in run.rows}
    assert rows[("food/1", "B")].result.status == "error"
    stopped = rows[("food/2", "B")]
    assert stopped.mode == "not sent" and stopped.result.turn == 2
    assert "turn 1 was not complete (error)" in stopped.result.error
    assert rows[("food/2", "A")].result.status == "ok"
    assert len([r for r in server.chat_requests() if "azure" in r.path]) == 1


def test_an_image_stays_in_the_turn_that_showed_it(fakes, behaviours, server: FakeServer,
                                                   tmp_path: Path) -> None:
    (tmp_path / "map.png").write_bytes(png(4, 4))
    behaviours.default = Behaviour(pieces=["ok"], first_s=0.0)
    turns = [{"prompt": "Where is it?", "images": ["map.png"]}, {"prompt": "And then?"}]
    path = write_scenario(tmp_path, groups=[{"name": "V", "routes": [
        "nim:microsoft/phi-3.5-vision-instruct"]}], cases=[{"id": "map", "turns": turns}])
    run = run_scenario(path, Settings(fakes))
    assert [r.result.status for r in run.rows] == ["ok", "ok"]
    messages = server.last().json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"][1]["type"] == "image_url" and messages[2]["content"] == "And then?"


@pytest.mark.parametrize(("case", "says"), [
    ({"id": "x", "prompt": "q", "turns": TURNS}, "either prompt or turns"),
    ({"id": "x"}, "either prompt or turns"),
    ({"id": "x", "turns": [{"prompt": "only one"}]}, "at least 2 items"),
    ({"id": "x", "turns": TURNS, "images": ["a.png"]}, "Image 'a.png' does not exist"),
    ({"id": "x", "turns": [{"prompt": "q"}, {"prompt": ""}]}, "turns[1].prompt"),
    ({"id": "x", "turns": [{"prompt": "q"}, {"prompt": "r", "chekcs": []}]}, "did you mean 'checks'"),
])
def test_bad_turns_are_located(case, says, tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario(write_scenario(tmp_path, cases=[case]))
    assert says in str(caught.value), str(caught.value)


def test_a_conversation_over_the_bounds_is_refused_before_sending(tmp_path: Path, capsys) -> None:
    for n in range(11):
        (tmp_path / f"f{n}.png").write_bytes(png(4, 4))
    frames = [f"f{n}.png" for n in range(11)]
    path = write_scenario(tmp_path, cases=[{"id": "many", "turns": [
        {"prompt": "q1", "images": frames}, {"prompt": "q2", "images": frames}]}])
    with pytest.raises(InputError) as caught:
        prepare_cases(load_scenario(path))
    assert "case many: 22 images attached in the conversation; the limit is 20." in caught.value.problems
    assert main(["scenarios", "--check", str(path)]) == 1
    assert "22 images attached in the conversation" in capsys.readouterr().err
