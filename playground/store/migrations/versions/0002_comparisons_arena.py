"""Saved comparisons (issue 15) and arena battles with their votes (issue 16).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("targets", sa.Text, nullable=False),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_comparisons_owner_created", "comparisons", ["owner", "created_at"])
    op.create_table(
        "battles",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("class_code", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("category", sa.String(100)),
        sa.Column("target_a", sa.Text, nullable=False),
        sa.Column("target_b", sa.Text, nullable=False),
        sa.Column("answer_a", sa.Text, nullable=False),
        sa.Column("answer_b", sa.Text, nullable=False),
        sa.Column("metrics_a", sa.Text, nullable=False),
        sa.Column("metrics_b", sa.Text, nullable=False),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("self_identified", sa.Boolean, nullable=False),
    )
    op.create_index("ix_battles_class_created", "battles", ["class_code", "created_at"])
    op.create_table(
        "votes",
        sa.Column("battle_id", sa.String(32), sa.ForeignKey("battles.id"), primary_key=True),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("choice", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("votes")
    op.drop_index("ix_battles_class_created", "battles")
    op.drop_table("battles")
    op.drop_index("ix_comparisons_owner_created", "comparisons")
    op.drop_table("comparisons")
