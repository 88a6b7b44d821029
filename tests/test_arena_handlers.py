"""The arena's handlers against the fake services and a real store: anonymous frames,
votes refused and counted, the reveal after the vote, failed and self-identifying
battles, the vote rate of a public server, the leaderboard."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import gradio as gr
import pandas as pd
import pytest

from playground.policy import Policy
from playground.ui.arena_handlers import BATTLE_OUTPUTS, N_VOTES
from tests.arena_support import (
    BROKEN,
    LYNX,
    OWL,
    SECRET_WORDS,
    arena_env,
    arena_handlers,
    battle_frames,
    request,
    vote,
)

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
VOTES = slice(4, 4 + N_VOTES)


def text_of(value) -> str:
    """Everything a frame's value would send to the page, as text."""
    if isinstance(value, pd.DataFrame):
        return value.to_csv()
    if isinstance(value, dict):
        return json.dumps({k: str(v) for k, v in value.items()})
    return str(value)


def assert_anonymous(frames) -> None:
    for frame in frames:
        for value in frame[:-1]:  # the last output is the gr.State, kept on the server
            for word in SECRET_WORDS + ["Ollama", "NVIDIA", "OpenAI-compatible"]:
                assert word.lower() not in text_of(value).lower(), (word, value)


@pytest.fixture
def env(server, fakes, behaviours):
    return arena_env(server, fakes, behaviours)


def test_battle_is_anonymous_until_the_vote(env, tmp_path) -> None:
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    frames = battle_frames(handlers, "Hello?", class_text="bio")
    assert all(len(f) == BATTLE_OUTPUTS for f in frames)
    assert_anonymous(frames)
    first, last = frames[0], frames[-1]
    assert first[0].startswith("**Model A**") and first[1].startswith("**Model B**")
    assert all(b["interactive"] is False for b in first[VOTES])
    assert all(b["interactive"] is True for b in last[VOTES])  # both finished
    assert "This is a fake answer to: Hello?" in last[2] and "done in" in last[0]
    battle = last[-1]
    assert battle.battle_id and {str(t) for t in battle.targets} == {OWL, LYNX}
    out = vote(handlers, battle, "A is better")
    revealed = " ".join(text_of(v) for v in out[:-1])
    assert OWL in revealed and LYNX in revealed and "Your vote: **A is better**" in revealed
    assert all(b["interactive"] is False for b in out[2:2 + N_VOTES])
    stored = handlers.arena().store.battles("bio")
    assert len(stored) == 1 and stored[0].vote.choice == "a"
    assert stored[0].battle.target_a == str(battle.targets[0])
    assert stored[0].battle.metrics_a["ttft_ms"] > 0
    # One vote per battle: again, or from another session, is refused.
    with pytest.raises(gr.Error, match="already"):
        vote(handlers, battle, "b")
    with pytest.raises(gr.Error, match="another visitor"):
        vote(handlers, battle, "b", session="s2")
    with pytest.raises(gr.Error, match="no battle"):
        vote(handlers, None, "tie")
    assert handlers.arena().store.votes_count("bio") == 1


def test_no_vote_before_both_answers_finished(env, tmp_path, behaviours) -> None:
    behaviours.set("arena-lynx-3b", first_s=0.5)
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    refused, held = [], []

    async def go() -> None:
        try:
            async for frame in handlers.battle("", "", "Hello?", {}, request()):
                held.append(frame[-1]) if not held else None  # the first frame sets it
                battle = held[0]
                if battle.battle_id is None:
                    try:
                        await handlers.vote("tie", battle, request())
                    except gr.Error as exc:
                        refused.append(str(exc))
        finally:
            await handlers.sessions.close_pool()
    asyncio.run(go())
    assert refused and "Wait until both answers have finished" in refused[0]
    assert handlers.arena().store.votes_count("class") == 0


def test_a_failed_target_is_recorded_not_voted(server, fakes, behaviours, tmp_path) -> None:
    env = arena_env(server, fakes, behaviours, pool=f"{OWL},{BROKEN}")
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    frames = battle_frames(handlers)
    assert_anonymous(frames[:-1])  # the last frame reveals: no vote can follow
    last = frames[-1]
    assert all(b["interactive"] is False for b in last[VOTES])
    assert "failed" in " ".join(last[:2]) and "Not voted" in last[9]
    assert BROKEN in last[9]
    stored = handlers.arena().store.battles("class")
    assert len(stored) == 1 and stored[0].battle.failed and stored[0].vote is None
    with pytest.raises(gr.Error, match="failed"):
        vote(handlers, last[-1], "a")


def test_self_identifying_answers_are_flagged_and_left_out(env, tmp_path, behaviours) -> None:
    behaviours.set("zoo/arena-owl-7b", pieces=["I am ", "Arena-Owl, ", "your helper."])
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    battle = battle_frames(handlers)[-1][-1]
    assert battle.flagged == "arena-owl"
    out = vote(handlers, battle, "tie")
    assert "left out of the scores" in out[2 + N_VOTES]
    board, counts = handlers.arena().leaderboard("class")
    assert board.rows == [] and counts == {"battles": 1, "votes": 1, "flagged": 1, "failed": 0}


def test_public_server_rate_limits_votes_per_session(env, tmp_path) -> None:
    env = {**env, "PLAYGROUND_ARENA_VOTES_PER_MIN": "2", "PLAYGROUND_MAX_RUNS_PER_ADDRESS": "off"}
    handlers = arena_handlers(env, str(tmp_path / "a.db"), Policy(public=True))
    battles = [battle_frames(handlers)[-1][-1] for _ in range(3)]
    vote(handlers, battles[0], "a")
    vote(handlers, battles[1], "b")
    with pytest.raises(gr.Error, match="2 votes per minute"):
        vote(handlers, battles[2], "tie")
    assert handlers.arena().store.votes_count("class") == 2


def test_classes_are_kept_apart_and_the_board_counts_votes(env, tmp_path) -> None:
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    for code, choice in (("bio", "a"), ("bio", "b"), ("bio", "tie"), ("chem", "a")):
        vote(handlers, battle_frames(handlers, class_text=code)[-1][-1], choice)
    out = asyncio.run(handlers.leaderboard("bio", "", "all time", None))
    note, chart, table = out[0], out[1], out[2]
    assert "3 voted battles" in note and "<svg" in chart
    assert set(table["model"]) == {OWL, LYNX} and table["battles"].tolist() == [3, 3]
    assert sum(table["wins"]) == 2 and table["ties"].tolist() == [1, 1]  # one battle each
    # The same page asking again is sent nothing new.
    again = asyncio.run(handlers.leaderboard("bio", "", "all time", out[-1]))
    assert all(v == gr.skip() for v in again)
    chem = asyncio.run(handlers.leaderboard("chem", "", "all time", None))
    assert chem[2]["battles"].tolist() == [1, 1]
    with open(out[4]["value"], encoding="utf-8") as csv:
        assert OWL in csv.read()


def test_bad_input_sends_nothing(env, tmp_path, server) -> None:
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    for class_text, category, prompt, message in (
            ("bad code!", "", "Hi", "class code"), ("", "x" * 41, "Hi", "category"),
            ("", "", "", "prompt is empty")):
        with pytest.raises(gr.Error, match=message):
            battle_frames(handlers, prompt, class_text=class_text, category=category)
    assert server.chat_requests() == []


def test_the_teachers_pool(server, fakes, behaviours, tmp_path) -> None:
    env = arena_env(server, fakes, behaviours, pool="")
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    with pytest.raises(gr.Error, match="No arena pool"):
        battle_frames(handlers, class_text="bio")
    note = handlers.set_pool("bio", [OWL, LYNX])
    assert "2 targets" in note and OWL not in note  # said without names
    battle = battle_frames(handlers, class_text="bio")[-1][-1]
    assert {str(t) for t in battle.targets} == {OWL, LYNX}
    with pytest.raises(gr.Error, match="No arena pool"):  # another class has none
        battle_frames(handlers, class_text="chem")
    public = arena_handlers(env, str(tmp_path / "b.db"), Policy(public=True))
    with pytest.raises(gr.Error, match="public server"):
        public.set_pool("bio", [OWL, LYNX])


def test_a_public_refusal_names_no_target(server, fakes, behaviours, tmp_path) -> None:
    env = arena_env(server, fakes, behaviours, pool=f"{OWL},ollama:arena-missing")
    private = arena_handlers(env, str(tmp_path / "a.db"))
    with pytest.raises(gr.Error, match="ollama:arena-missing"):
        battle_frames(private)
    public = arena_handlers(env, str(tmp_path / "b.db"), Policy(public=True))
    with pytest.raises(gr.Error) as refused:
        battle_frames(public)
    assert "Tell the teacher" in str(refused.value)
    assert all(w not in str(refused.value) for w in SECRET_WORDS + ["arena-missing"])


def test_the_arena_is_wired_for_a_classroom(settings) -> None:
    from playground.ui import layout
    demo = layout.build_demo(settings)
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    battle, vote, board = fns["arena_battle"], fns["arena_vote"], fns["arena_leaderboard"]
    # Battles share Compare's limit (24 by default); votes and polls are never queued
    # behind one another (each is one short store call).
    assert battle.concurrency_limit == 24 and battle.concurrency_id == "compare"
    assert vote.concurrency_limit is None and board.concurrency_limit is None
    assert board.trigger_mode == "always_last"
    ids = {b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert {"arena-go", "arena-vote-a", "arena-vote-both_bad", "arena-board",
            "arena-chart", "arena-csv", "arena-class"} <= ids


def test_a_poll_during_a_refit_gets_the_board_it_replaces(env, tmp_path) -> None:
    import threading
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    arena = handlers.arena()
    vote(handlers, battle_frames(handlers)[-1][-1], "a")
    assert arena.leaderboard("class")[0].battles == 1
    vote(handlers, battle_frames(handlers)[-1][-1], "b")
    reading, release = threading.Event(), threading.Event()
    real = arena.store.battles

    def slow_battles(*args, **kwargs):
        reading.set()
        assert release.wait(30)
        return real(*args, **kwargs)
    arena.store.battles = slow_battles
    refit = []
    worker = threading.Thread(target=lambda: refit.append(arena.leaderboard("class")[0]))
    worker.start()
    assert reading.wait(30)
    assert arena.leaderboard("class")[0].battles == 1  # at once, not after the refit
    release.set()
    worker.join(30)
    assert refit[0].battles == 2 and arena.leaderboard("class")[0].battles == 2


def test_a_database_that_does_not_answer(env, tmp_path) -> None:
    from sqlalchemy.exc import OperationalError
    handlers = arena_handlers(env, str(tmp_path / "a.db"))
    battle = battle_frames(handlers)[-1][-1]

    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))
    store = handlers.arena().store
    store.vote = store.votes_count = down
    with pytest.raises(gr.Error, match="could not be saved") as refused:
        vote(handlers, battle, "a")
    assert OWL not in str(refused.value) and battle.vote is None
    # The poll shows what it showed; the next one tries again.
    out = asyncio.run(handlers.leaderboard("class", "", "all time", None))
    assert all(v == gr.skip() for v in out)
    from playground.ui.arena_handlers import ArenaHandlers
    from playground.ui.session import Sessions
    from providers.settings import Settings
    nowhere = {**env, "PLAYGROUND_DB": "postgresql://u@127.0.0.1:1/x"}  # nothing listens
    broken = ArenaHandlers(Sessions(Settings(nowhere), Policy()))
    with pytest.raises(gr.Error, match="database cannot be used"):
        battle_frames(broken)


def test_two_replicas_balance_the_class_pairs_from_the_store(server, fakes, behaviours,
                                                             tmp_path) -> None:
    env = arena_env(server, fakes, behaviours, pool=f"{OWL},{LYNX},{BROKEN}")
    db = str(tmp_path / "class.db")
    replicas = [arena_handlers(env, db), arena_handlers(env, db)]
    for n in range(6):
        battle_frames(replicas[n % 2], class_text="bio")
    # Three pairs, each twice (a failed battle counts: its pair was drawn and shown),
    # though each replica drew only three battles.
    assert set(replicas[0].arena().store.pair_counts("bio").values()) == {2}
    assert all(r.drawer.drawn("bio") == {} for r in replicas)  # recorded: no longer drawn


def test_compares_stop_leaves_the_arena_battle_of_the_same_tab(env, tmp_path,
                                                               behaviours) -> None:
    """One tab runs a comparison and a battle at once; Compare's Stop (also the
    follow-ups' Stop) ends the comparison only: the battle finishes and is voted."""
    from playground.ui.handlers import RunHandlers
    from playground.ui.session import ARENA, COMPARE
    from tests.ui_support import form
    for model in ("zoo/arena-owl-7b", "arena-lynx-3b"):
        behaviours.set(model, pieces=[f"w{i} " for i in range(30)], interval_s=0.05)
    arena = arena_handlers(env, str(tmp_path / "a.db"))
    runs = RunHandlers(arena.sessions)  # one server: Compare and the arena share Sessions
    sessions, tab = arena.sessions, request().session_hash

    def streaming() -> list[Any]:
        """The tab's runs (either scope) that have text."""
        return [r for scope in (COMPARE, ARENA) for r in sessions.running(tab, scope)
                if r.comparison.results[0].text]

    async def go() -> tuple[Any, list[list[Any]]]:
        battle_frames: list[list[Any]] = []

        async def compare() -> None:
            async for _ in runs.compare(*form([LYNX]), request=request()):
                pass

        async def battle() -> None:
            async for frame in arena.battle("", "", "Hello?", {}, request()):
                battle_frames.append(frame)
        tasks = [asyncio.create_task(compare()), asyncio.create_task(battle())]
        try:
            async with asyncio.timeout(60):
                while len(streaming()) < 2:
                    await asyncio.sleep(0.01)  # both have text: both are mid-stream
                compared, = [r for r in streaming() if len(r.comparison.results) == 1]
                await runs.stop(request())
                await asyncio.gather(*tasks)
        finally:
            await sessions.close_pool()
        return compared.comparison, battle_frames

    comparison, frames = asyncio.run(go())
    assert [r.status for r in comparison.results] == ["stopped"]
    battle = frames[-1][-1]
    assert [r.status for r in battle.results] == ["ok", "ok"] and not battle.failed
    assert all(r.text.endswith("w29 ") for r in battle.results)  # streamed to the end
    assert all(b["interactive"] is True for b in frames[-1][VOTES])
    vote(arena, battle, "tie")
    assert arena.arena().store.votes_count("class") == 1
    assert sessions.running(tab, COMPARE) == sessions.running(tab, ARENA) == []
