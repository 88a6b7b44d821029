"""Scenario runs: every run with its parameters, resolved routes, library versions,
metrics, answers and checks.

Each call that writes is one transaction, and the runner writes every finished round
at once, so a process killed mid-run leaves the finished rounds and a run marked
``running`` (shown as interrupted). Secret values known to the settings are replaced by
``***`` in every stored string.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, case, func, insert, select, update
from sqlalchemy.engine import RowMapping

from playground.metrics import TargetResult
from playground.scenarios.checks import CheckResult
from playground.scenarios.rows import RunRow
from playground.store.database import writing
from playground.store.schema import RESULT_NAMES, rows, runs
from providers.errors import redact


@dataclass(frozen=True)
class StoredRun:
    """A run read back from the history (times: ISO 8601 text in UTC)."""

    id: int
    scenario_id: str
    title: str
    started_at: str
    finished_at: str | None
    status: str
    wall_ms: float | None
    meta: dict[str, Any]
    rows: list[RunRow]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class RunHistory:
    """The scenario-run half of :class:`playground.store.Store` (needs ``engine``,
    ``secrets``)."""

    engine: Engine
    secrets: list[str]

    def _clean(self, value: Any) -> Any:
        return redact(value, self.secrets) if isinstance(value, str) else value

    def begin_run(self, meta: dict[str, Any]) -> int:
        """Record a new run as ``running``; return its id."""
        scenario = meta["scenario"]
        with writing(self.engine) as db:
            result = db.execute(insert(runs).values(
                scenario_id=scenario["id"], title=scenario["title"], started_at=_now(),
                status="running", meta=self._clean(json.dumps(meta, ensure_ascii=False))))
        return int(result.inserted_primary_key[0])

    def add_rows(self, run_id: int, run_rows: Sequence[RunRow]) -> None:
        """Append rows to a run, all in one transaction."""
        with writing(self.engine) as db:
            seq = db.execute(select(func.coalesce(func.max(rows.c.seq), 0))
                             .where(rows.c.run_id == run_id)).scalar_one()
            for offset, row in enumerate(run_rows, 1):
                db.execute(insert(rows).values(self._row_values(run_id, seq + offset, row)))

    def _row_values(self, run_id: int, seq: int, row: RunRow) -> dict[str, Any]:
        r = row.result
        values: dict[str, Any] = {
            "run_id": run_id, "seq": seq, "case_id": row.case, "group_name": row.group,
            "repeat": row.repeat, "warmup": int(row.warmup), "mode": row.mode,
            "turn": r.turn,
            **{name: getattr(r, name) for name in RESULT_NAMES},
            "notices": json.dumps(r.notices, ensure_ascii=False),
            "details": json.dumps(r.details, ensure_ascii=False, default=str),
            "checks": json.dumps([c.public() for c in row.checks], ensure_ascii=False),
            "recorded_at": _now()}
        return {name: self._clean(value) for name, value in values.items()}

    def finish_run(self, run_id: int, status: str, wall_ms: float | None) -> None:
        """Mark a run finished with ``status`` after ``wall_ms`` milliseconds."""
        with writing(self.engine) as db:
            db.execute(update(runs).where(runs.c.id == run_id)
                       .values(status=status, finished_at=_now(), wall_ms=wall_ms))

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest runs, newest first, with row and check counts."""
        failed = func.coalesce(func.sum(case((rows.c.status != "ok", 1), else_=0)), 0)
        query = (select(runs.c.id, runs.c.scenario_id, runs.c.title, runs.c.started_at,
                        runs.c.finished_at, runs.c.status, runs.c.wall_ms,
                        func.count(rows.c.seq).label("rows"), failed.label("failed"))
                 .select_from(runs.outerjoin(rows, rows.c.run_id == runs.c.id))
                 .group_by(runs.c.id).order_by(runs.c.id.desc()).limit(limit))
        with self.engine.connect() as db:
            return [dict(row) for row in db.execute(query).mappings()]

    def load_run(self, run_id: int) -> StoredRun:
        """One run with all its rows; KeyError if there is no such run."""
        with self.engine.connect() as db:
            run = db.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            if run is None:
                raise KeyError(run_id)
            stored = db.execute(select(rows).where(rows.c.run_id == run_id)
                                .order_by(rows.c.seq)).mappings().all()
        return StoredRun(run["id"], run["scenario_id"], run["title"], run["started_at"],
                         run["finished_at"], run["status"], run["wall_ms"],
                         json.loads(run["meta"]), [_run_row(r) for r in stored])


def _run_row(record: RowMapping) -> RunRow:
    fields = {name: record[name] for name in RESULT_NAMES}
    fields["partial"] = bool(fields["partial"])
    fields["turn"] = record["turn"]  # 1 for rows written before revision 0003
    result = TargetResult(**fields, notices=json.loads(record["notices"]),
                          details=json.loads(record["details"]))
    checks = [CheckResult(**c) for c in json.loads(record["checks"])]
    return RunRow(record["case_id"], record["group_name"], record["repeat"],
                  bool(record["warmup"]), record["mode"], result, checks)
