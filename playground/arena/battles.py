"""Arena battles without Gradio: draw a pair, stream both answers through the one engine,
record the battle, take the vote, build the leaderboard.

Rules (issue 16): a battle is recorded once both answers finished or one failed; a
failed battle is kept and cannot be voted; a battle whose answers name a model or maker
is flagged (:mod:`playground.arena.identity`), kept, voted, and left out of the scores;
a vote is refused before the battle is recorded, twice, or past the session's vote
rate; the vote is written to the store before anything is revealed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from playground.arena.identity import names_a_model
from playground.arena.stats import Leaderboard, ScoredBattle, leaderboard
from playground.engine import Comparison
from playground.metrics import TargetResult
from playground.pool import ProviderPool
from playground.store import BattleRecord, BattleWithVote, Store, VoteRecord, VoteRefused
from providers import Target
from providers.base import ChatRequest
from providers.settings import Settings

CHOICES = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both bad"}
WINNER = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "both_bad"}
# The metrics row kept with each side of a battle (units in the names; the engine's).
METRIC_FIELDS = ("status", "error_kind", "error", "ttft_ms", "total_ms", "prompt_tokens",
                 "completion_tokens", "tokens_source", "decode_tokens_per_s", "itl_p50_ms",
                 "itl_p95_ms", "chars_per_s", "finish_reason", "partial")


def metrics_row(result: TargetResult) -> dict[str, Any]:
    """One side's metrics as JSON-ready values (a non-finite number becomes None)."""
    row = {name: getattr(result, name) for name in METRIC_FIELDS}
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in row.items()}


@dataclass
class LiveBattle:
    """One battle of one session: the pair stays on the server (never sent to the page
    before the vote); ``battle_id`` is set once the battle is recorded."""

    class_code: str
    session: str
    prompt: str
    category: str | None
    targets: tuple[Target, Target]
    comparison: Comparison
    battle_id: str | None = None
    failed: bool = False
    flagged: str | None = None  # the identifying word found in an answer
    vote: VoteRecord | None = None

    @property
    def results(self) -> list[TargetResult]:
        return self.comparison.results

    @property
    def finished(self) -> bool:
        return all(r.status in ("ok", "error", "stopped") for r in self.results)

    @property
    def revealed(self) -> bool:
        """Names may be shown: the vote is in, or the battle cannot be voted."""
        return self.vote is not None or (self.battle_id is not None and self.failed)


class VoteRate:
    """At most ``per_minute`` votes per session in any 60 s (None: no cap). Reads
    ``time.monotonic`` for the window only: admission, not measurement."""

    def __init__(self, per_minute: int | None) -> None:
        self.per_minute = per_minute
        self._cast: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, session: str) -> None:
        """Count one vote of ``session``, or raise VoteRefused when its minute is spent."""
        if self.per_minute is None:
            return
        with self._lock:
            now = time.monotonic()
            cast = self._cast.setdefault(session, deque())
            while cast and cast[0] <= now - 60:
                cast.popleft()
            if len(cast) >= self.per_minute:
                raise VoteRefused(f"At most {self.per_minute} votes per minute per visitor; "
                                  f"try again in {math.ceil(cast[0] + 60 - now)} s.")
            cast.append(now)
            if len(self._cast) > 10_000:  # bounded: drop sessions with no recent vote
                for key in [k for k, v in self._cast.items() if not v or v[-1] <= now - 60]:
                    del self._cast[key]


@dataclass
class _Cached:
    votes: int
    board: Leaderboard


@dataclass
class Arena:
    """The arena of one process: its store (shared by replicas), pair drawer and vote
    rate. Store calls block: call them off the event loop."""

    store: Store
    vote_rate: VoteRate = field(default_factory=lambda: VoteRate(None))
    rounds: int = 100
    _cache: dict[tuple[Any, ...], _Cached] = field(default_factory=dict)
    _fitting: dict[tuple[Any, ...], threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_battle(self, pair: tuple[Target, Target], request: ChatRequest, *,
                   class_code: str, session: str, category: str | None,
                   pool: ProviderPool, settings: Settings, timeout_s: float) -> LiveBattle:
        """A battle ready to stream: the engine's pairs of (target, request)."""
        comparison = Comparison.of_pairs([(t, request) for t in pair], pool,
                                         timeout_s=timeout_s, settings=settings)
        return LiveBattle(class_code, session, request.prompt, category, pair, comparison)

    def record(self, battle: LiveBattle) -> str:
        """Keep the finished battle (failed or flagged as it is); returns its id."""
        a, b = battle.results
        battle.failed = a.status != "ok" or b.status != "ok"
        battle.flagged = names_a_model([a.text, b.text], battle.targets)
        battle.battle_id = self.store.record_battle(BattleRecord(
            battle.class_code, battle.prompt, a.target, b.target, a.text, b.text,
            metrics_row(a), metrics_row(b), battle.category, battle.failed,
            battle.flagged is not None))
        return battle.battle_id

    def vote(self, battle: LiveBattle | None, session: str, choice: str) -> VoteRecord:
        """Write ``session``'s vote on its battle (VoteRefused saying why not)."""
        if choice not in CHOICES:
            raise VoteRefused(f"A vote is one of {', '.join(CHOICES)}.")
        if battle is None:
            raise VoteRefused("There is no battle to vote on: start one first.")
        if battle.session != session:
            raise VoteRefused("This battle belongs to another visitor.")
        if battle.vote is not None:
            raise VoteRefused("This battle already has your vote.")
        if battle.battle_id is None:
            raise VoteRefused("Wait until both answers have finished.")
        if battle.failed:
            raise VoteRefused("This battle is not voted: one of its answers failed.")
        self.vote_rate.admit(session)
        battle.vote = self.store.vote(battle.battle_id, session, choice)
        return battle.vote

    def leaderboard(self, class_code: str, since: datetime | None = None,
                    category: str | None = None) -> tuple[Leaderboard, dict[str, int]]:
        """The class's leaderboard and its counts (battles, votes, flagged, failed),
        refitted when the class's vote count changed. Every open page polls this: one
        fit per board at a time, and while it runs the others get the board it
        replaces (the next poll brings the new one) instead of waiting."""
        key = (class_code, since, category)
        votes = self.store.votes_count(class_code)
        with self._lock:
            cached = self._cache.get(key)
            fitting = self._fitting.setdefault(key, threading.Lock())
        if cached is not None and cached.votes == votes:
            return cached.board, cached.board.extra
        if not fitting.acquire(blocking=cached is None):
            return cached.board, cached.board.extra  # stale by a vote or two, for now
        try:
            cached = self._cache.get(key)
            if cached is None or cached.votes != votes:
                stored = self.store.battles(class_code, since=since, category=category)
                board = leaderboard(scored(stored), rounds=self.rounds, seed=0)
                board.extra = battle_counts(stored)
                with self._lock:
                    cached = self._cache[key] = _Cached(votes, board)
                    while len(self._cache) > 256:  # filters are bounded, periods move
                        self._fitting.pop(old := next(iter(self._cache)), None)
                        self._cache.pop(old)
        finally:
            fitting.release()
        return cached.board, cached.board.extra


def scored(stored: Sequence[BattleWithVote]) -> list[ScoredBattle]:
    """The battles that count: voted, not failed, not flagged."""
    out = []
    for item in stored:
        b = item.battle
        if item.vote is None or b.failed or b.self_identified:
            continue
        out.append(ScoredBattle(
            b.target_a, b.target_b, WINNER[item.vote.choice],
            b.metrics_a.get("ttft_ms"), b.metrics_b.get("ttft_ms"),
            b.metrics_a.get("decode_tokens_per_s"), b.metrics_b.get("decode_tokens_per_s")))
    return out


def battle_counts(stored: Sequence[BattleWithVote]) -> dict[str, int]:
    """How many battles, votes, flagged (voted but left out) and failed ones."""
    return {"battles": len(stored),
            "votes": sum(s.vote is not None for s in stored),
            "flagged": sum(s.vote is not None and s.battle.self_identified for s in stored),
            "failed": sum(s.battle.failed for s in stored)}
