"""The store's schema comes from its Alembic migrations, on SQLite and PostgreSQL; a file
written by the first, hand-written store opens and keeps its runs; a database from a
newer version is refused."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from playground.store import BattleRecord, Store, database
from playground.store.schema import metadata

# The hand-written store's m001_initial and its writes, copied from
# playground/scenarios/store.py as it was before the store moved (commit f5ddbb5).
OLD_RESULT_COLUMNS = ("target", "provider", "model", "resolved_model", "status", "error_kind",
                      "error", "text", "ttft_ms", "total_ms", "prompt_tokens",
                      "completion_tokens", "tokens_source", "decode_tokens_per_s",
                      "chars_per_s", "finish_reason", "partial")
OLD_DDL = ("""CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, scenario_id TEXT NOT NULL, title TEXT,
        started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
        wall_ms REAL, meta TEXT NOT NULL)""",
           f"""CREATE TABLE rows (
        run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
        case_id TEXT NOT NULL, group_name TEXT NOT NULL, repeat INTEGER NOT NULL,
        warmup INTEGER NOT NULL, mode TEXT NOT NULL, {", ".join(OLD_RESULT_COLUMNS)},
        notices TEXT NOT NULL, details TEXT NOT NULL, checks TEXT NOT NULL,
        recorded_at TEXT NOT NULL, PRIMARY KEY (run_id, seq))""")
OLD_META = {"scenario": {"id": "chinese-qa", "title": "长沙"}, "parameters": {"repeats": 1}}
OLD_RESULT = ("nim:microsoft/phi-3.5-mini-instruct", "nim", "microsoft/phi-3.5-mini-instruct",
              "microsoft/phi-3.5-mini-instruct", "ok", None, None, "长沙是湖南的省会。",
              312.5, 1450.25, 12, 48, "server", 33.3, 41.0, "stop", 0)


def old_store_file(path: Path) -> Path:
    """A history as the hand-written store left it: one finished run with two rows."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    for statement in OLD_DDL:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute("COMMIT")
    db.execute("INSERT INTO runs (scenario_id, title, started_at, status, meta) "
               "VALUES (?, ?, ?, 'running', ?)",
               ("chinese-qa", "长沙", "2026-11-01T10:00:00+00:00", json.dumps(OLD_META)))
    for seq, group in ((1, "A"), (2, "B")):
        values = [1, seq, "changsha", group, 1, 0, "concurrent", *OLD_RESULT, "[]", "{}",
                  json.dumps([{"name": "language", "passed": True, "detail": "zh"}]),
                  "2026-11-01T10:00:01+00:00"]
        db.execute(f"INSERT INTO rows VALUES ({', '.join('?' * len(values))})", values)
    db.execute("UPDATE runs SET status = 'done', finished_at = ?, wall_ms = ? WHERE id = 1",
               ("2026-11-01T10:00:02+00:00", 2000.0))
    db.close()
    return path


def test_a_file_of_the_hand_written_store_keeps_its_runs(tmp_path: Path) -> None:
    path = old_store_file(tmp_path / "old.db")
    for _ in range(2):  # converted once, then opened as any other
        with Store(path) as store:
            run = store.load_run(1)
            assert (run.scenario_id, run.status, run.wall_ms, run.meta) == (
                "chinese-qa", "done", 2000.0, OLD_META)
            assert [r.group for r in run.rows] == ["A", "B"]
            first = run.rows[0].result
            assert (first.text, first.ttft_ms, first.completion_tokens, first.partial) == (
                "长沙是湖南的省会。", 312.5, 48, False)
            assert run.rows[0].checks[0].detail == "zh"
            assert store.runs()[-1]["rows"] == 2
            with store.engine.connect() as db:
                assert database.current(db) == (database.head(),)
    with Store(path) as store:  # and it takes new runs, comparisons and battles
        assert store.begin_run({"scenario": {"id": "new", "title": "New"}}) == 2
        assert store.load_comparison(store.save_comparison({"title": "t"}, "me")) == {"title": "t"}
        store.vote(store.record_battle(BattleRecord("c", "p", "x:a", "x:b", "A", "B")), "s", "a")
        assert store.votes_count("c") == 1


def test_a_migration_that_fails_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = old_store_file(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE battles (x TEXT)")  # 0002 fails here, after "comparisons"
    db.commit()
    with pytest.raises(Exception, match="table battles already exists"):
        Store(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"runs", "rows", "battles", "sqlite_sequence"}  # no stamp, no comparisons
    assert db.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 2


def test_the_migrations_make_exactly_the_schema_module(store_db: str) -> None:
    with Store(store_db) as store, store.engine.connect() as db:
        assert compare_metadata(MigrationContext.configure(db), metadata) == []
        assert set(inspect(db).get_table_names()) == {*metadata.tables, "alembic_version"}


def test_opening_a_current_database_migrates_nothing(store_db: str, monkeypatch) -> None:
    Store(store_db).close()

    def no_upgrade(*args, **kwargs) -> None:
        raise AssertionError("upgrade ran on a database already at head")
    monkeypatch.setattr(database, "_upgrade", no_upgrade)
    Store(store_db).close()


def test_a_database_from_a_newer_version_is_refused(store_db: str) -> None:
    Store(store_db).close()
    with Store(store_db) as store, store.engine.begin() as db:
        db.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(RuntimeError, match=r"newer version of the playground \(schema 9999; "
                                           r"this one knows up to 0003\)"):
        Store(store_db)


def test_a_file_with_other_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE runs (id INTEGER, something TEXT)")
    with pytest.raises(RuntimeError, match="tables this version did not write"):
        Store(path)


@pytest.mark.parametrize(("given", "url"), [
    ("history.db", "sqlite:///history.db?timeout=10"),
    ("/data/h.db", "sqlite:////data/h.db?timeout=10"),
    ("postgresql://u:pw@db.example:5432/play", "postgresql+psycopg://u:pw@db.example:5432/play"),
    ("postgres://u@127.0.0.1/play", "postgresql+psycopg://u@127.0.0.1/play"),
    ("postgresql+psycopg://u@h/p", "postgresql+psycopg://u@h/p"),
])
def test_playground_db_becomes_a_url(given: str, url: str) -> None:
    assert database.database_url(given).render_as_string(hide_password=False) == url


def test_other_databases_are_refused_and_passwords_never_shown() -> None:
    with pytest.raises(ValueError, match="a SQLite file path or a postgresql:// URL"):
        database.database_url("mysql://u:p@h/db")
    assert database.location("postgresql://u:hunter2hunter2@h/db") == "postgresql://u:***@h/db"
    assert database.location("h.db") == "h.db"


def test_a_replica_that_read_no_revision_just_before_another_migrated_starts(
        store_db: str, monkeypatch) -> None:
    """Two replicas start at once: one reads "no revision", the other then migrates and
    commits; the first must see a current database, not a foreign one."""
    Store(store_db).close()  # the other replica's migration, committed
    engine = database.open_engine(store_db)
    real_current = database.current
    reads = [()]  # the first read saw no revision yet; later reads see the truth

    def current(connection):
        return reads.pop() if reads else real_current(connection)
    monkeypatch.setattr(database, "current", current)
    try:
        database.migrate(engine)
        with engine.connect() as db:
            assert real_current(db) == (database.head(),)
    finally:
        engine.dispose()
