"""Alembic's environment: migrations run on the connection the store hands over
(``config.attributes["connection"]``), inside its transaction."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from playground.store.schema import metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations on ``connection`` (Alembic's context is active)."""
    # render_as_batch: a later migration that alters a table works on SQLite too.
    # transactional_ddl: the store's transaction holds every step, on SQLite as well
    # (database.py takes BEGIN from the driver), so a failed migration leaves nothing.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic executes this file inside its migration context (``alembic.context`` has a
# ``config`` then); imported as a plain module, as the import-graph test does, it only
# defines.
if getattr(context, "config", None) is not None:
    run_migrations(context.config.attributes["connection"])
