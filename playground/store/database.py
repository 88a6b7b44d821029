"""Where the store lives and how it is brought up to date.

``PLAYGROUND_DB`` is a SQLite file path (default ``./playground.db``) or a
``postgresql://`` URL (any ``postgresql``/``postgres`` URL is driven by psycopg 3).
Opening a store runs the Alembic migrations up to the newest schema; a SQLite file
written by the first, hand-written store (its tables, no ``alembic_version``) is
recognised and stamped as revision 0001 first, so it keeps its runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url

from providers.settings import Settings

DEFAULT_DB = "playground.db"
MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"  # the schema of the hand-written store (m001_initial)
SQLITE_BUSY_WAIT_S = 10  # how long a SQLite writer waits for another's lock
WRITE_OPTION = "playground_write"  # execution option: this transaction writes
# The columns of the hand-written store's tables: a file with these and no
# alembic_version is one it wrote.
LEGACY_COLUMNS = {
    "runs": {"id", "scenario_id", "title", "started_at", "finished_at", "status", "wall_ms",
             "meta"},
    "rows": {"run_id", "seq", "case_id", "group_name", "repeat", "warmup", "mode", "target",
             "provider", "model", "resolved_model", "status", "error_kind", "error", "text",
             "ttft_ms", "total_ms", "prompt_tokens", "completion_tokens", "tokens_source",
             "decode_tokens_per_s", "chars_per_s", "finish_reason", "partial", "notices",
             "details", "checks", "recorded_at"},
}


def default_db(settings: Settings | None = None) -> str:
    """``PLAYGROUND_DB`` (environment or ``.env``), else ``playground.db``: a path or URL."""
    settings = settings if settings is not None else Settings.load()
    return settings.get("PLAYGROUND_DB") or DEFAULT_DB


def database_url(db: str | Path) -> URL:
    """The SQLAlchemy URL for a SQLite path or a PostgreSQL URL (psycopg 3 driver)."""
    text = str(db)
    if "://" not in text:
        return URL.create("sqlite", database=text, query={"timeout": str(SQLITE_BUSY_WAIT_S)})
    url = make_url(text)
    if url.get_backend_name() in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        return url
    raise ValueError(f"PLAYGROUND_DB must be a SQLite file path or a postgresql:// URL; "
                     f"got a {url.get_backend_name()}:// URL.")


def location(db: str | Path) -> str:
    """``db`` as it may be shown: a path as given, a URL without its password."""
    text = str(db)
    if "://" not in text:
        return text
    try:
        return make_url(text).render_as_string(hide_password=True)
    except Exception:  # not even a URL: show only its scheme
        return text.split("://", 1)[0] + "://…"


def open_engine(db: str | Path) -> Engine:
    """An engine on ``db`` whose schema is the newest (migrated if it was not)."""
    url = database_url(db)
    # pool_pre_ping: a replica whose PostgreSQL restarted reconnects instead of failing
    # its next request on a dead pooled connection.
    engine = create_engine(url, pool_pre_ping=True)
    if url.get_backend_name() == "sqlite":
        _sqlite_transactions(engine)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    """Real transactions on SQLite, DDL included (SQLAlchemy's documented pysqlite recipe:
    the driver leaves BEGIN to us). A write takes the write lock at BEGIN (IMMEDIATE), so
    two processes that write wait for each other (up to SQLITE_BUSY_WAIT_S) instead of
    failing, and two replicas migrating one file at once run one after the other."""

    @event.listens_for(engine, "connect")
    def _driver_emits_no_begin(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed at the end, rolled back on error."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest schema revision this version knows."""
    return str(_scripts().get_current_head())


def current(connection: Connection) -> tuple[str, ...]:
    """The revisions a database is at (empty: none yet)."""
    return tuple(MigrationContext.configure(connection).get_current_heads())


def migrate(engine: Engine) -> None:
    """Bring the database up to :func:`head`; refuse one written by a newer version.

    Two replicas may start at once on one PostgreSQL: if this upgrade fails because
    the other one did it first, the database is at head all the same and that is fine.
    """
    with engine.connect() as connection:
        revisions = current(connection)
        legacy = not revisions and _is_legacy(connection)
    unknown = [r for r in revisions if not _known(r)]
    if unknown:
        raise RuntimeError(f"it was written by a newer version of the playground (schema "
                           f"{', '.join(unknown)}; this one knows up to {head()})")
    if revisions == (head(),):
        return
    try:
        _upgrade(engine, stamp_first=legacy)
    except Exception:
        with engine.connect() as connection:
            if current(connection) != (head(),):
                raise


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:  # "Can't locate revision": a newer version wrote it
        return False


def _upgrade(engine: Engine, *, stamp_first: bool) -> None:
    config = _config()
    with writing(engine) as connection:
        config.attributes["connection"] = connection
        if stamp_first:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, "head")


def _is_legacy(connection: Connection) -> bool:
    """Whether this is a file of the hand-written store (its two tables, as it made them)."""
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    # alembic_version: another replica migrated this database since we read its revision
    # (its tables are no longer the hand-written store's; the upgrade finds it at head).
    if not tables or "alembic_version" in tables:
        return False
    for name, columns in LEGACY_COLUMNS.items():
        if name not in tables or {c["name"] for c in inspector.get_columns(name)} != columns:
            raise RuntimeError("it holds tables this version did not write (not a playground "
                               "history, or one from a newer version)")
    return True
