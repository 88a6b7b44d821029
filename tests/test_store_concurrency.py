"""Votes from two replicas (two processes, each its own engine and connection pool) on
one database at the same moment: none lost, none counted twice; a battle that everyone
votes on at once takes exactly one vote. On PostgreSQL, as a classroom on several
machines runs, and on one SQLite file shared by two processes."""

from __future__ import annotations

import multiprocessing
from collections import Counter

from playground.store import BattleRecord, Store
from tests.store_voters import WAIT_S, first_start, replica

VOTERS, BATTLES_EACH = 30, 10
CHOICES = ("a", "b", "tie", "both_bad")


def run_replicas(db: str, voters: list[tuple[str, list[tuple[str, str]]]]) -> list:
    """Half the voters on each of two replica processes, all voting at once; every
    voter's outcome."""
    return [voter for outcome in in_two_processes(replica, db, voters[0::2], voters[1::2])
            for voter in outcome]


def in_two_processes(target, db: str, *work) -> list:
    """Run ``target(db, [work,] ready, results)`` in two spawned processes that start
    together (``ready``: a barrier); what each put in ``results``, checked for a
    traceback."""
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Barrier(2), spawn.Queue()
    parts = [[w] for w in work] if work else [[], []]
    processes = [spawn.Process(target=target, args=(db, *part, ready, results))
                 for part in parts]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=WAIT_S * 2) for _ in processes]
    finally:
        for process in processes:
            process.join(WAIT_S)
            if process.is_alive():
                process.kill()
    for outcome in outcomes:
        assert not (isinstance(outcome, str) and outcome.startswith("Traceback")), outcome
    return outcomes


def test_two_replicas_starting_at_once_migrate_a_fresh_database(store_db) -> None:
    assert in_two_processes(first_start, store_db) == ["ok", "ok"]
    with Store(store_db) as store:
        assert store.runs() == [] and store.votes_count("any") == 0


def record(store: Store, class_code: str, count: int) -> list[str]:
    return [store.record_battle(BattleRecord(class_code, f"prompt {n}", "x:m1", "x:m2",
                                             "one", "two")) for n in range(count)]


def test_thirty_voters_on_two_replicas_lose_no_vote_and_count_none_twice(store_db) -> None:
    with Store(store_db) as store:
        ids = record(store, "class-30", VOTERS * BATTLES_EACH)
        record(store, "other-class", 3)
    voters = [(f"session-{v}", [(ids[v * BATTLES_EACH + n], CHOICES[(v + n) % 4])
                                for n in range(BATTLES_EACH)]) for v in range(VOTERS)]
    outcomes = run_replicas(store_db, voters)
    assert sorted(o[0] for o in outcomes) == sorted(v[0] for v in voters)
    for session, counted, refused in outcomes:
        assert refused == [] and len(counted) == BATTLES_EACH, session
    cast = {battle_id: (session, choice) for session, ballots in voters
            for battle_id, choice in ballots}
    with Store(store_db) as store:
        stored = store.battles("class-30")
        assert store.votes_count("class-30") == len(cast) == VOTERS * BATTLES_EACH
        assert store.votes_count("other-class") == 0
    assert {b.id: (b.vote.session, b.vote.choice) for b in stored} == cast
    assert Counter(b.vote.choice for b in stored) == Counter(c for _, c in cast.values())


def test_everyone_voting_on_one_battle_at_once_counts_one_vote(store_db) -> None:
    with Store(store_db) as store:
        [battle_id] = record(store, "race", 1)
    voters = [(f"session-{v}", [(battle_id, CHOICES[v % 4])]) for v in range(VOTERS)]
    outcomes = run_replicas(store_db, voters)
    winners = [(session, counted) for session, counted, _ in outcomes if counted]
    refusals = [reason for _, _, refused in outcomes for reason in refused]
    assert len(winners) == 1 and len(refusals) == VOTERS - 1
    assert set(refusals) == {"This battle already has its vote."}
    with Store(store_db) as store:
        vote = store.battle(battle_id).vote
        assert store.votes_count("race") == 1 and vote.session == winners[0][0]
