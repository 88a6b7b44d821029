"""Run history in SQLite (stdlib ``sqlite3``): every scenario run with its parameters,
resolved routes, library versions, metrics, answers and checks.

The file is ``$PLAYGROUND_DB`` or ``./playground.db``. Each call that writes is one
transaction, and the runner writes every finished round at once, so a process killed
mid-run leaves the finished rounds and a run marked ``running`` (shown as interrupted).
Secret values known to the settings are replaced by ``***`` in every stored string.
Schema changes are numbered migrations, recorded in ``PRAGMA user_version``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from playground.metrics import TargetResult
from playground.scenarios.checks import CheckResult
from playground.scenarios.rows import RunRow
from providers.errors import redact
from providers.settings import Settings

DEFAULT_DB = "playground.db"
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []

# Result columns stored as they are, in TargetResult's own names.
RESULT_COLUMNS = ("target", "provider", "model", "resolved_model", "status", "error_kind",
                  "error", "text", "ttft_ms", "total_ms", "prompt_tokens", "completion_tokens",
                  "tokens_source", "decode_tokens_per_s", "chars_per_s", "finish_reason",
                  "partial")


def migration(step: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    """Register the next schema migration (applied in order, each in a transaction)."""
    MIGRATIONS.append(step)
    return step


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, scenario_id TEXT NOT NULL, title TEXT,
        started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
        wall_ms REAL, meta TEXT NOT NULL)""")
    db.execute(f"""CREATE TABLE rows (
        run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
        case_id TEXT NOT NULL, group_name TEXT NOT NULL, repeat INTEGER NOT NULL,
        warmup INTEGER NOT NULL, mode TEXT NOT NULL, {", ".join(RESULT_COLUMNS)},
        notices TEXT NOT NULL, details TEXT NOT NULL, checks TEXT NOT NULL,
        recorded_at TEXT NOT NULL, PRIMARY KEY (run_id, seq))""")


@dataclass(frozen=True)
class StoredRun:
    """A run read back from the history."""

    id: int
    scenario_id: str
    title: str
    started_at: str
    finished_at: str | None
    status: str
    wall_ms: float | None
    meta: dict[str, Any]
    rows: list[RunRow]


def default_path(settings: Settings | None = None) -> Path:
    """``PLAYGROUND_DB`` (environment or ``.env``), else ./playground.db."""
    settings = settings if settings is not None else Settings.load()
    return Path(settings.get("PLAYGROUND_DB") or DEFAULT_DB)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """The history database; ``secrets`` are redacted from everything written."""

    def __init__(self, path: str | Path | None = None, secrets: Sequence[str] = ()) -> None:
        self.path = Path(path) if path else default_path()
        self.secrets = list(secrets)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        # Used from one task at a time, but from a worker thread (asyncio.to_thread).
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self._migrate()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(f"{self.path} was written by a newer version of the playground "
                               f"(schema {version}; this one knows {len(MIGRATIONS)}).")
        for number, step in enumerate(MIGRATIONS[version:], version + 1):
            with self._transaction() as db:
                step(db)
                db.execute(f"PRAGMA user_version = {number}")

    def check_writable(self) -> None:
        """Raise sqlite3.OperationalError now if the file cannot be written (read-only
        file, folder or mount), not after a run's first round; changes nothing."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            self.db.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            self.db.execute("ROLLBACK")

    def _clean(self, value: Any) -> Any:
        return redact(value, self.secrets) if isinstance(value, str) else value

    def begin_run(self, meta: dict[str, Any]) -> int:
        """Record a new run as ``running``; return its id."""
        scenario = meta["scenario"]
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (scenario_id, title, started_at, status, meta) "
                "VALUES (?, ?, ?, 'running', ?)",
                (scenario["id"], scenario["title"], _now(),
                 self._clean(json.dumps(meta, ensure_ascii=False))))
        return int(cursor.lastrowid)

    def add_rows(self, run_id: int, rows: Sequence[RunRow]) -> None:
        """Append rows to a run, all in one transaction."""
        with self._transaction() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM rows WHERE run_id = ?",
                             (run_id,)).fetchone()[0]
            for offset, row in enumerate(rows, 1):
                r = row.result
                values = [run_id, seq + offset, row.case, row.group, row.repeat, int(row.warmup),
                          row.mode, *(getattr(r, c) for c in RESULT_COLUMNS),
                          json.dumps(r.notices, ensure_ascii=False),
                          json.dumps(r.details, ensure_ascii=False, default=str),
                          json.dumps([c.public() for c in row.checks], ensure_ascii=False), _now()]
                marks = ", ".join("?" * len(values))
                db.execute(f"INSERT INTO rows VALUES ({marks})", [self._clean(v) for v in values])

    def finish_run(self, run_id: int, status: str, wall_ms: float | None) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = ?, finished_at = ?, wall_ms = ? WHERE id = ?",
                       (status, _now(), wall_ms, run_id))

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs, newest first, with row and check counts."""
        listed = self.db.execute(
            "SELECT r.id, r.scenario_id, r.title, r.started_at, r.finished_at, r.status, "
            "r.wall_ms, COUNT(x.seq) AS rows, "
            "COALESCE(SUM(x.status != 'ok'), 0) AS failed FROM runs r "
            "LEFT JOIN rows x ON x.run_id = r.id GROUP BY r.id ORDER BY r.id DESC LIMIT ?",
            (limit,)).fetchall()
        return [dict(row) for row in listed]

    def load_run(self, run_id: int) -> StoredRun:
        """One run with all its rows; KeyError if there is no such run."""
        run = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if run is None:
            raise KeyError(run_id)
        rows = self.db.execute("SELECT * FROM rows WHERE run_id = ? ORDER BY seq",
                               (run_id,)).fetchall()
        return StoredRun(run["id"], run["scenario_id"], run["title"], run["started_at"],
                         run["finished_at"], run["status"], run["wall_ms"],
                         json.loads(run["meta"]), [_row(r) for r in rows])


def _row(record: sqlite3.Row) -> RunRow:
    fields = {c: record[c] for c in RESULT_COLUMNS}
    fields["partial"] = bool(fields["partial"])
    result = TargetResult(**fields, notices=json.loads(record["notices"]),
                          details=json.loads(record["details"]))
    checks = [CheckResult(**c) for c in json.loads(record["checks"])]
    return RunRow(record["case_id"], record["group_name"], record["repeat"],
                  bool(record["warmup"]), record["mode"], result, checks)

