"""Every table of the store, in SQLAlchemy Core: one definition for SQLite and PostgreSQL.

The migrations (``migrations/versions``) create exactly these tables; a test compares
the two. Timestamps of the arena and of saved comparisons are timezone-aware UTC
(:class:`UTCDateTime`); a scenario run keeps its ISO 8601 text, as the first version
wrote it, so that old files read back unchanged.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)

metadata = MetaData()

ID_CHARS = 32  # secrets.token_urlsafe(16) is 22 characters


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    SQLite keeps no offset, so values are converted to UTC before they are written and
    read back as UTC; PostgreSQL keeps ``timestamptz`` and is read back in UTC too.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store keeps timezone-aware datetimes only (UTC)")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# Scenario runs: the tables the first, hand-written store made (m001_initial), same names.
runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("scenario_id", Text, nullable=False),
    Column("title", Text),
    Column("started_at", Text, nullable=False),
    Column("finished_at", Text),
    Column("status", Text, nullable=False),
    Column("wall_ms", Float),
    Column("meta", Text, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused, as before
)

# Result columns stored as they are, in TargetResult's own names.
RESULT_COLUMNS: tuple[Column[Any], ...] = (
    Column("target", Text), Column("provider", Text), Column("model", Text),
    Column("resolved_model", Text), Column("status", Text), Column("error_kind", Text),
    Column("error", Text), Column("text", Text), Column("ttft_ms", Float),
    Column("total_ms", Float), Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer), Column("tokens_source", Text),
    Column("decode_tokens_per_s", Float), Column("chars_per_s", Float),
    Column("finish_reason", Text), Column("partial", Boolean),
)
RESULT_NAMES = tuple(c.name for c in RESULT_COLUMNS)

rows = Table(
    "rows", metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("case_id", Text, nullable=False),
    Column("group_name", Text, nullable=False),
    Column("repeat", Integer, nullable=False),
    Column("warmup", Integer, nullable=False),
    Column("mode", Text, nullable=False),
    *RESULT_COLUMNS,
    Column("notices", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("checks", Text, nullable=False),
    Column("recorded_at", Text, nullable=False),
    # Revision 0003: the conversation turn of the row (1 for a single prompt, and for
    # every row written before multi-turn cases existed).
    Column("turn", Integer, nullable=False, server_default=text("1")),
)

# Saved comparisons (issue 15): the whole document as JSON, plus what a list shows.
comparisons = Table(
    "comparisons", metadata,
    Column("id", String(ID_CHARS), primary_key=True),
    Column("owner", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("title", Text, nullable=False),
    Column("targets", Text, nullable=False),  # JSON list of target names
    Column("turns", Integer, nullable=False),
    Column("document", Text, nullable=False),  # JSON object
    Index("ix_comparisons_owner_created", "owner", "created_at"),
)

# Arena battles (issue 16) and their votes: at most one vote per battle (primary key).
battles = Table(
    "battles", metadata,
    Column("id", String(ID_CHARS), primary_key=True),
    Column("class_code", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("category", String(100)),
    Column("target_a", Text, nullable=False),
    Column("target_b", Text, nullable=False),
    Column("answer_a", Text, nullable=False),
    Column("answer_b", Text, nullable=False),
    Column("metrics_a", Text, nullable=False),  # JSON object
    Column("metrics_b", Text, nullable=False),  # JSON object
    Column("failed", Boolean, nullable=False),
    Column("self_identified", Boolean, nullable=False),
    Index("ix_battles_class_created", "class_code", "created_at"),
)

votes = Table(
    "votes", metadata,
    Column("battle_id", String(ID_CHARS), ForeignKey("battles.id"), primary_key=True),
    Column("session", String(200), nullable=False),
    Column("choice", String(10), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
