"""A store "replica" for the concurrency tests: a process with its own engine whose
threads cast votes at the same moment as the other replica's (started with ``spawn``,
so it shares nothing with the test process but the database)."""

from __future__ import annotations

import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from playground.store import Store, VoteRefused

Ballot = tuple[str, str]  # battle id, choice
WAIT_S = 120  # generous: a loaded 2-core machine starts Python slowly


def replica(db: str, voters: list[tuple[str, list[Ballot]]], ready: Any, results: Any) -> None:
    """Open the store, wait for the other replica, then let every voter (one thread each)
    cast its ballots at once; put ``[(session, counted ids, refused reasons)]`` in
    ``results`` (or the traceback)."""
    try:
        store = Store(db)
        try:
            ready.wait(WAIT_S)
            start = threading.Barrier(len(voters))
            with ThreadPoolExecutor(len(voters)) as pool:
                outcomes = list(pool.map(lambda v: _voter(store, start, *v), voters))
        finally:
            store.close()
        results.put(outcomes)
    except BaseException:
        results.put(traceback.format_exc())


def _voter(store: Store, start: threading.Barrier, session: str,
           ballots: list[Ballot]) -> tuple[str, list[str], list[str]]:
    start.wait(WAIT_S)
    counted, refused = [], []
    for battle_id, choice in ballots:
        try:
            store.vote(battle_id, session, choice)  # type: ignore[arg-type]
            counted.append(battle_id)
        except VoteRefused as exc:
            refused.append(exc.message)
    return session, counted, refused


def first_start(db: str, ready: Any, results: Any) -> None:
    """Open (and so migrate) a fresh database at the same moment as the other replica;
    put "ok" or the traceback in ``results``."""
    try:
        ready.wait(WAIT_S)
        Store(db).close()
        results.put("ok")
    except BaseException:
        results.put(traceback.format_exc())
