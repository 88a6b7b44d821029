"""Benchmark: arena votes in the store, SQLite file against a local PostgreSQL.

* one voter: the median time of one ``Store.vote`` (a conditional insert and its commit),
  over 200 votes in a row;
* a class: 30 voters (threads) on two processes ("replicas", each its own engine), 10
  battles each, all at once: the time from the start signal to the last vote counted, and
  votes per second. Every vote is then checked to be counted once.

The PostgreSQL is a temporary cluster from Debian's ``postgresql`` package, as the tests
start it (tests/pg_support.py), but with fsync on, as a server runs; SQLite syncs each
commit as it does in use. Both on the same disk.

Usage: python -m bench.store_votes
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from playground.store import BattleRecord, Store
from tests.pg_support import Cluster, postgres_bin

VOTERS, EACH, ALONE = 30, 10, 200


def _battles(store: Store, count: int) -> list[str]:
    return [store.record_battle(BattleRecord("bench", "p", "x:a", "x:b", "A", "B"))
            for _ in range(count)]


def one_voter(db: str) -> float:
    """Median milliseconds of one vote, votes cast one after another."""
    with Store(db) as store:
        took = []
        for battle_id in _battles(store, ALONE):
            started = time.perf_counter()
            store.vote(battle_id, "alone", "a")
            took.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(took)


def replica(db: str, ballots: list[list[str]], ready: Any, results: Any) -> None:
    """One process: a thread per voter, all starting when both replicas are ready."""
    with Store(db) as store:
        ready.wait(120)
        started = time.perf_counter()
        start = threading.Barrier(len(ballots))

        def vote(index: int) -> None:
            start.wait(120)
            for battle_id in ballots[index]:
                store.vote(battle_id, f"voter-{id(ballots)}-{index}", "b")
        with ThreadPoolExecutor(len(ballots)) as pool:
            list(pool.map(vote, range(len(ballots))))
        results.put(time.perf_counter() - started)


def a_class(db: str) -> float:
    """Seconds for 30 voters on two replicas to cast 10 votes each."""
    with Store(db) as store:
        ids = _battles(store, VOTERS * EACH)
        before = store.votes_count("bench")
    ballots = [ids[v * EACH:(v + 1) * EACH] for v in range(VOTERS)]
    spawn = multiprocessing.get_context("spawn")
    ready, results = spawn.Barrier(2), spawn.Queue()
    processes = [spawn.Process(target=replica, args=(db, half, ready, results))
                 for half in (ballots[0::2], ballots[1::2])]
    for process in processes:
        process.start()
    seconds = max(results.get(timeout=300) for _ in processes)
    for process in processes:
        process.join()
    with Store(db) as store:
        assert store.votes_count("bench") - before == VOTERS * EACH, "a vote was lost"
    return seconds


def main() -> None:
    cluster = Cluster(postgres_bin(), durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, db in (("SQLite", str(Path(folder) / "bench.db")),
                             ("PostgreSQL", cluster.new_database())):
                alone = one_voter(db)
                seconds = a_class(db)
                print(f"{name:<10}  one vote {alone:6.2f} ms (median of {ALONE})   "
                      f"{VOTERS} voters x {EACH} on 2 replicas: {seconds:5.2f} s, "
                      f"{VOTERS * EACH / seconds:6.0f} votes/s")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
