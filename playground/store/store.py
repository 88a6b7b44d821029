"""The store: scenario runs, saved comparisons and arena battles in one database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text

from playground.store.arena import Arena
from playground.store.comparisons import SavedComparisons
from playground.store.database import WRITE_OPTION, default_db, location, open_engine
from playground.store.runs import RunHistory


class Store(RunHistory, SavedComparisons, Arena):
    """One database (``db``: a SQLite path or a ``postgresql://`` URL; default
    ``$PLAYGROUND_DB`` or ./playground.db), migrated to the newest schema when opened.

    Thread-safe (a pool of connections); ``secrets`` are redacted from every scenario run
    and saved comparison written. Several processes may share one database: every
    write is one transaction.
    """

    def __init__(self, db: str | Path | None = None, secrets: Sequence[str] = ()) -> None:
        self.db = str(db) if db else default_db()
        self.location = location(self.db)  # safe to show: no password
        self.secrets = list(secrets)
        self.engine = open_engine(self.db)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_writable(self) -> None:
        """Raise now if the database cannot be written (a read-only file, folder, mount or
        role), not after a run's first round; changes nothing."""
        with self.engine.connect() as db:
            db.execution_options(**{WRITE_OPTION: True})  # SQLite: BEGIN IMMEDIATE
            with db.begin() as transaction:
                db.execute(text("UPDATE alembic_version SET version_num = version_num"))
                transaction.rollback()
