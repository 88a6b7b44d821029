"""Scenario rows keep their conversation turn (issue 15's multi-turn cases, ``CASE/N``).

Rows written before this revision were all first turns: they get 1.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server default fills the rows already there (SQLite and PostgreSQL both add a
    # NOT NULL column with a constant default in place, without rewriting the table).
    op.add_column("rows", sa.Column("turn", sa.Integer, nullable=False,
                                    server_default=sa.text("1")))


def downgrade() -> None:
    with op.batch_alter_table("rows") as batch:
        batch.drop_column("turn")
