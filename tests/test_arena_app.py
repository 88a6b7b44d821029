"""The arena as served: two app replicas (``python app.py`` in their own processes, on
different ports) sharing one PostgreSQL database, as a class that outgrew one process
runs it. No target name in any channel before the vote; a vote on one replica shows on
the other's leaderboard; 30 voters on two replicas, 10 battles each: no vote lost,
none counted twice, leaderboard totals equal the votes cast; a vote survives kill -9."""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from gradio_client import Client

from fake_services.server import FakeServer
from fake_services.services import Behaviours, wire_all
from playground.store import Store
from tests.arena_support import LYNX, OWL, SECRET_WORDS, Replica, failing_compat

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]
VOTERS, BATTLES = 30, 10
LABELS = ["A is better", "B is better", "Tie", "Both bad"]
CODES = {"A is better": "a", "B is better": "b", "Tie": "tie", "Both bad": "both_bad"}


@pytest.fixture(scope="module")
def replicas(postgres_cluster, tmp_path_factory) -> Iterator[tuple[Replica, Replica, str]]:
    db = postgres_cluster.new_database()
    Store(db).close()  # migrated once, before the replicas open it
    work = tmp_path_factory.mktemp("replicas")
    with FakeServer() as fake:
        behaviours = Behaviours()
        env = wire_all(fake, behaviours)
        fake.on("POST", "/compat/v1/chat/completions", failing_compat(behaviours))
        env.update(PLAYGROUND_DB=db, PLAYGROUND_ARENA_TARGETS=f"{OWL},{LYNX}",
                   PLAYGROUND_LOG_LEVEL="WARNING")
        with Replica(env, work) as one, Replica(env, work) as two:
            yield one, two, db


def raw_call(url: str, api_name: str, data: list[Any], session: str) -> str:
    """Call an endpoint through Gradio's queue as the page does; every byte of its
    event stream, as text."""
    config = httpx.get(url + "config", timeout=30).json()
    dep = next(d for d in config["dependencies"] if d["api_name"] == api_name)
    joined = httpx.post(url + "gradio_api/queue/join", timeout=30, json={
        "data": data, "fn_index": dep["id"], "trigger_id": dep["targets"][0][0],
        "session_hash": session, "event_data": None})
    assert joined.status_code == 200, joined.text
    text = ""
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session},
                      timeout=120) as stream:
        for line in stream.iter_lines():
            text += line + "\n"
            if '"process_completed"' in line:
                break
    assert '"success":true' in text.rsplit("process_completed", 1)[-1], text[-2000:]
    return text


def assert_no_names(channel: str, text: str) -> None:
    for word in SECRET_WORDS:
        assert word not in text.lower(), f"{word} in {channel}"


def test_no_name_reaches_any_channel_before_the_vote(replicas) -> None:
    one, _, _ = replicas
    session = uuid.uuid4().hex[:12]
    for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        response = httpx.get(one.url + path, timeout=30)
        if response.status_code != 404:
            assert_no_names(f"GET /{path}", response.text)
    board = raw_call(one.url, "arena_leaderboard", ["anon", "", "all time", None], session)
    assert_no_names("the leaderboard before any vote", board)
    battle = raw_call(one.url, "arena_battle", ["anon", "", "Hello?", None], session)
    assert "Model A" in battle and "This is a fake answer to: Hello?" in battle
    assert_no_names("the battle's event stream", battle)
    voted = raw_call(one.url, "arena_vote", ["tie", None], session)
    # Positive control: the same channel names both after the vote.
    assert "arena-owl-7b" in voted and "arena-lynx-3b" in voted and "Tie" in voted


def battle_and_vote(client: Client, code: str, label: str) -> None:
    client.submit(code, "", "Hello?", api_name="/arena_battle").result(timeout=120)
    client.submit(label, api_name="/arena_vote").result(timeout=60)


def board_rows(client: Client, code: str) -> list[dict[str, Any]]:
    out = client.submit(code, "", "all time", api_name="/arena_leaderboard").result(timeout=60)
    table = out[2]
    return [dict(zip(table["headers"], row)) for row in table["data"]]


def test_a_vote_on_one_replica_shows_on_the_other(replicas, capsys) -> None:
    one, two, _ = replicas
    voter = Client(one.url, verbose=False, analytics_enabled=False)
    watcher = Client(two.url, verbose=False, analytics_enabled=False)
    assert board_rows(watcher, "relay") == []
    battle_and_vote(voter, "relay", "A is better")
    voted = time.perf_counter()
    deadline = voted + 30  # "within a few seconds"; generous for a loaded machine
    while not (rows := board_rows(watcher, "relay")):
        assert time.perf_counter() < deadline, "the vote never reached the other replica"
        time.sleep(0.2)
    seen = time.perf_counter() - voted
    assert sorted(r["model"] for r in rows) == sorted([OWL, LYNX])
    assert [r["battles"] for r in rows] == [1, 1] and sum(r["wins"] for r in rows) == 1
    with capsys.disabled():
        print(f"\narena relay: a vote on one replica was on the other's board after "
              f"{seen:.2f} s (one request; the page polls every 3 s)")


def test_thirty_voters_on_two_replicas(replicas, capsys) -> None:
    one, two, db = replicas
    cast: list[str] = []

    def voter(index: int) -> list[str]:
        rng = random.Random(index)
        client = Client((one, two)[index % 2].url, verbose=False, analytics_enabled=False)
        mine = [rng.choice(LABELS) for _ in range(BATTLES)]
        for label in mine:
            battle_and_vote(client, "thirty", label)
        client.close()
        return mine

    started = time.perf_counter()
    with ThreadPoolExecutor(VOTERS) as pool:
        for labels in pool.map(voter, range(VOTERS)):
            cast += labels
    wall = time.perf_counter() - started
    with Store(db) as store:
        stored = store.battles("thirty")
        assert store.votes_count("thirty") == VOTERS * BATTLES
    assert len(stored) == VOTERS * BATTLES and all(s.vote is not None for s in stored)
    assert Counter(s.vote.choice for s in stored) == Counter(CODES[c] for c in cast)
    assert len({s.id for s in stored}) == len(stored)
    decisive = sum(c in ("A is better", "B is better") for c in cast)
    for replica in (one, two):
        client = Client(replica.url, verbose=False, analytics_enabled=False)
        deadline = time.perf_counter() + 60  # a poll during a refit gets the board before it
        rows = board_rows(client, "thirty")
        while sum(r["battles"] for r in rows) < 2 * VOTERS * BATTLES \
                and time.perf_counter() < deadline:
            time.sleep(0.5)
            rows = board_rows(client, "thirty")
        assert sum(r["battles"] for r in rows) == 2 * VOTERS * BATTLES
        assert sum(r["wins"] for r in rows) == decisive
        assert sum(r["ties"] for r in rows) == 2 * (VOTERS * BATTLES - decisive)
    with capsys.disabled():
        print(f"\narena load: {VOTERS} voters on 2 replicas x {BATTLES} battles + votes: "
              f"wall {wall:.1f} s, {len(stored)} battles and votes stored, "
              f"choices {dict(Counter(cast))}")


def test_a_vote_survives_kill_9_of_its_replica(replicas) -> None:
    """Last in this module: it kills the second replica."""
    _, doomed, db = replicas
    session = uuid.uuid4().hex[:12]
    raw_call(doomed.url, "arena_battle", ["kill9", "", "Hello?", None], session)
    raw_call(doomed.url, "arena_vote", ["b", None], session)  # its reveal arrived
    os.kill(doomed.process.pid, signal.SIGKILL)
    doomed.process.wait(timeout=30)
    with Store(db) as store:
        stored = store.battles("kill9")
    assert [s.vote.choice for s in stored] == ["b"]
