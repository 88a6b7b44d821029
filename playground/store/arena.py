"""Arena battles and votes (issue 16), kept apart per class code.

A battle is recorded once both answers finished (or one failed); a vote is one
conditional insert whose primary key is the battle's id, so on any number of replicas a
battle gets at most one vote, and a vote for an unknown or failed battle inserts nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from sqlalchemy import Engine, and_, false, func, insert, literal, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from playground.store.database import writing
from playground.store.errors import VoteRefused
from playground.store.schema import battles, votes

Choice = Literal["a", "b", "tie", "both_bad"]
CHOICES: tuple[str, ...] = get_args(Choice)
MAX_CODE_CHARS = 100
MAX_SESSION_CHARS = 200


@dataclass(frozen=True)
class BattleRecord:
    """One battle as the arena recorded it. ``metrics_a``/``metrics_b``: JSON-ready dicts
    (the metrics row of each side, units in their names); ``failed``: a side failed, so
    no vote; ``self_identified``: an answer names its own model or maker (kept, left out
    of the scores). ``created_at``: aware; now (UTC) when None."""

    class_code: str
    prompt: str
    target_a: str
    target_b: str
    answer_a: str
    answer_b: str
    metrics_a: dict[str, Any] = field(default_factory=dict)
    metrics_b: dict[str, Any] = field(default_factory=dict)
    category: str | None = None
    failed: bool = False
    self_identified: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True)
class VoteRecord:
    """A counted vote (``created_at``: aware, UTC)."""

    battle_id: str
    session: str
    choice: Choice
    created_at: datetime


@dataclass(frozen=True)
class BattleWithVote:
    """A stored battle (its ``id``, the record) and its vote, if any."""

    id: str
    battle: BattleRecord
    vote: VoteRecord | None


def _check_code(class_code: str) -> str:
    if not isinstance(class_code, str) or not 0 < len(class_code) <= MAX_CODE_CHARS:
        raise ValueError(f"A class code has 1 to {MAX_CODE_CHARS} characters.")
    return class_code


def _battle(row: RowMapping) -> BattleWithVote:
    record = BattleRecord(
        row["class_code"], row["prompt"], row["target_a"], row["target_b"], row["answer_a"],
        row["answer_b"], json.loads(row["metrics_a"]), json.loads(row["metrics_b"]),
        row["category"], bool(row["failed"]), bool(row["self_identified"]), row["created_at"])
    vote = None
    if row["choice"] is not None:
        vote = VoteRecord(row["id"], row["session"], row["choice"], row["voted_at"])
    return BattleWithVote(row["id"], record, vote)


class Arena:
    """The arena half of :class:`playground.store.Store` (needs ``engine``)."""

    engine: Engine

    def record_battle(self, battle: BattleRecord) -> str:
        """Keep ``battle``; return its new id (``secrets.token_urlsafe(16)``)."""
        _check_code(battle.class_code)
        if battle.category is not None and len(battle.category) > MAX_CODE_CHARS:
            raise ValueError(f"A category has at most {MAX_CODE_CHARS} characters.")
        battle_id = secrets.token_urlsafe(16)
        with writing(self.engine) as db:
            db.execute(insert(battles).values(
                id=battle_id, class_code=battle.class_code,
                created_at=battle.created_at or datetime.now(timezone.utc),
                prompt=battle.prompt, category=battle.category, target_a=battle.target_a,
                target_b=battle.target_b, answer_a=battle.answer_a, answer_b=battle.answer_b,
                metrics_a=json.dumps(battle.metrics_a, allow_nan=False),
                metrics_b=json.dumps(battle.metrics_b, allow_nan=False),
                failed=bool(battle.failed), self_identified=bool(battle.self_identified)))
        return battle_id

    def vote(self, battle_id: str, session: str, choice: Choice) -> VoteRecord:
        """Count ``session``'s vote on a battle, atomically: VoteRefused when the battle is
        unknown, failed, or already has a vote (from anyone, on any replica)."""
        if choice not in CHOICES:
            raise VoteRefused(f"A vote is one of {', '.join(CHOICES)}; got {choice!r}.")
        if not isinstance(session, str) or not 0 < len(session) <= MAX_SESSION_CHARS:
            raise VoteRefused(f"A session key has 1 to {MAX_SESSION_CHARS} characters.")
        now = datetime.now(timezone.utc)
        # INSERT ... SELECT FROM battles WHERE id = ? AND NOT failed: one statement, so a
        # vote for a missing or failed battle inserts nothing and needs no lock.
        source = select(literal(battle_id), literal(session), literal(choice),
                        literal(now, votes.c.created_at.type)).where(
            and_(battles.c.id == battle_id, battles.c.failed == false()))
        try:
            with writing(self.engine) as db:
                # preserve_rowcount: an INSERT's count is kept only when asked for.
                inserted = db.execute(insert(votes).from_select(
                    ["battle_id", "session", "choice", "created_at"], source)
                    .execution_options(preserve_rowcount=True)).rowcount
        except IntegrityError:
            raise VoteRefused("This battle already has its vote.") from None
        if inserted != 1:
            raise VoteRefused(self._why_not(battle_id))
        return VoteRecord(battle_id, session, choice, now)

    def _why_not(self, battle_id: str) -> str:
        with self.engine.connect() as db:
            failed = db.execute(select(battles.c.failed)
                                .where(battles.c.id == battle_id)).scalar_one_or_none()
        if failed is None:
            return "There is no such battle (it may belong to another server)."
        return "This battle is not voted: one of its answers failed."

    def battles(self, class_code: str, since: datetime | None = None,
                category: str | None = None) -> list[BattleWithVote]:
        """A class's battles, oldest first, each with its vote; only those created at or
        after ``since`` (aware) and in ``category`` when given."""
        query = (select(battles, votes.c.session, votes.c.choice,
                        votes.c.created_at.label("voted_at"))
                 .select_from(battles.outerjoin(votes, votes.c.battle_id == battles.c.id))
                 .where(battles.c.class_code == _check_code(class_code))
                 .order_by(battles.c.created_at, battles.c.id))
        if since is not None:
            query = query.where(battles.c.created_at >= since)
        if category is not None:
            query = query.where(battles.c.category == category)
        with self.engine.connect() as db:
            return [_battle(row) for row in db.execute(query).mappings()]

    def battle(self, battle_id: str) -> BattleWithVote | None:
        """One battle with its vote, or None."""
        query = (select(battles, votes.c.session, votes.c.choice,
                        votes.c.created_at.label("voted_at"))
                 .select_from(battles.outerjoin(votes, votes.c.battle_id == battles.c.id))
                 .where(battles.c.id == battle_id))
        with self.engine.connect() as db:
            row = db.execute(query).mappings().first()
        return None if row is None else _battle(row)

    def pair_counts(self, class_code: str) -> dict[tuple[str, str], int]:
        """How many battles each pair of targets fought in a class, on every replica:
        ``{(name, name): battles}``, each pair once with its names sorted (sides do not
        matter); failed battles count (the pair was drawn and shown). One aggregate
        query (GROUP BY the two targets), so its cost does not grow with the rows sent."""
        query = (select(battles.c.target_a, battles.c.target_b, func.count())
                 .where(battles.c.class_code == _check_code(class_code))
                 .group_by(battles.c.target_a, battles.c.target_b))
        counts: dict[tuple[str, str], int] = {}
        with self.engine.connect() as db:
            for target_a, target_b, n in db.execute(query):
                first, second = sorted((target_a, target_b))
                counts[first, second] = counts.get((first, second), 0) + int(n)
        return counts

    def votes_count(self, class_code: str) -> int:
        """How many votes a class has cast."""
        query = (select(func.count()).select_from(
            votes.join(battles, battles.c.id == votes.c.battle_id))
            .where(battles.c.class_code == _check_code(class_code)))
        with self.engine.connect() as db:
            return int(db.execute(query).scalar_one())
