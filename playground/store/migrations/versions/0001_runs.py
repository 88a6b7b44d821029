"""Scenario runs: the schema the first, hand-written store made (its m001_initial).

A file that store wrote is stamped at this revision, not run through it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scenario_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("wall_ms", sa.Float),
        sa.Column("meta", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "rows",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("group_name", sa.Text, nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("warmup", sa.Integer, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("target", sa.Text), sa.Column("provider", sa.Text),
        sa.Column("model", sa.Text), sa.Column("resolved_model", sa.Text),
        sa.Column("status", sa.Text), sa.Column("error_kind", sa.Text),
        sa.Column("error", sa.Text), sa.Column("text", sa.Text),
        sa.Column("ttft_ms", sa.Float), sa.Column("total_ms", sa.Float),
        sa.Column("prompt_tokens", sa.Integer), sa.Column("completion_tokens", sa.Integer),
        sa.Column("tokens_source", sa.Text), sa.Column("decode_tokens_per_s", sa.Float),
        sa.Column("chars_per_s", sa.Float), sa.Column("finish_reason", sa.Text),
        sa.Column("partial", sa.Boolean),
        sa.Column("notices", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("checks", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rows")
    op.drop_table("runs")
