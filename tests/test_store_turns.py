"""Scenario rows keep their conversation turn in the store (revision 0003), on SQLite and
PostgreSQL: a multi-turn run reads back with its turns and shows them; a database at
revision 0002 and a file of the hand-written store upgrade with every old row at turn 1."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from alembic import command
from sqlalchemy import MetaData, Table, create_engine, insert, inspect

from fake_services.services import Behaviours
from playground.cli import main
from playground.scenarios.reports import markdown
from playground.store import Store, database
from providers.settings import Settings
from tests.scenario_support import run_scenario, write_scenario
from tests.test_scenarios_turns import food_case, own_answers
from tests.test_store_migrations import OLD_META, OLD_RESULT, OLD_RESULT_COLUMNS, old_store_file


def test_a_two_turn_run_reads_back_with_its_turns(store_db: str, fakes, behaviours: Behaviours,
                                                  tmp_path: Path) -> None:
    own_answers(behaviours)
    path = write_scenario(tmp_path, cases=[food_case(), {"id": "one", "prompt": "你好"}])
    with Store(store_db) as history:
        run = run_scenario(path, Settings(fakes), store=history)
        stored = history.load_run(run.run_id)
    expected = [("food/1", "A", 1), ("food/1", "B", 1), ("food/2", "A", 2), ("food/2", "B", 2),
                ("one", "A", 1), ("one", "B", 1)]
    assert [(r.case, r.group, r.result.turn) for r in run.rows] == expected
    assert [(r.case, r.group, r.result.turn) for r in stored.rows] == expected
    assert stored.rows[2].result.text == "长沙在湖南。"  # A's own answer, in turn 2
    report = markdown(stored.meta, stored.rows, run_id=stored.id)
    assert "### food/2 / A, turn 2: `nim:microsoft/phi-3.5-mini-instruct` (ok)" in report
    assert "| food/2 | 2 | A | 1 | contains '美食' | FAIL |" in report


def test_history_show_and_export_show_the_turn(fakes, behaviours: Behaviours, tmp_path: Path,
                                               capsys, monkeypatch) -> None:
    own_answers(behaviours)
    for name, value in fakes.items():
        monkeypatch.setenv(name, value)
    db = str(tmp_path / "h.db")
    assert main(["run", str(write_scenario(tmp_path, cases=[food_case()])), "--db", db]) == 0
    capsys.readouterr()
    assert main(["history", "show", "1", "--db", db]) == 0
    assert "### food/2 / B, turn 2:" in capsys.readouterr().out
    out = tmp_path / "run.csv"
    assert main(["history", "export", "1", "--db", db, "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["case"], r["turn"]) for r in rows] == [
        ("food/1", "1"), ("food/1", "1"), ("food/2", "2"), ("food/2", "2")]
    out = tmp_path / "run.json"
    assert main(["history", "export", "1", "--db", db, "--out", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [r["turn"] for r in document["runs"]] == [1, 1, 2, 2]


def _database_at_0002(db: str) -> None:
    """A database migrated to revision 0002 (before rows had a turn), with one run of two
    rows written in that schema."""
    engine = create_engine(database.database_url(db))
    try:
        with database.writing(engine) as connection:
            config = database._config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        with database.writing(engine) as connection:
            assert "turn" not in {c["name"] for c in inspect(connection).get_columns("rows")}
            tables = MetaData()
            runs = Table("runs", tables, autoload_with=connection)
            rows = Table("rows", tables, autoload_with=connection)
            connection.execute(insert(runs).values(
                scenario_id="chinese-qa", title="长沙", started_at="2026-11-01T10:00:00+00:00",
                status="done", meta=json.dumps(OLD_META)))
            for seq, group in ((1, "A"), (2, "B")):
                connection.execute(insert(rows).values(
                    run_id=1, seq=seq, case_id="changsha", group_name=group, repeat=1,
                    warmup=0, mode="concurrent", **dict(zip(OLD_RESULT_COLUMNS, OLD_RESULT)),
                    notices="[]", details="{}", checks="[]",
                    recorded_at="2026-11-01T10:00:01+00:00"))
    finally:
        engine.dispose()


def test_a_database_at_0002_upgrades_and_keeps_its_rows_at_turn_1(store_db: str) -> None:
    _database_at_0002(store_db)
    with Store(store_db) as store:
        with store.engine.connect() as db:
            assert database.current(db) == (database.head(),) == ("0003",)
        run = store.load_run(1)
        assert [(r.group, r.result.turn, r.result.text) for r in run.rows] == [
            ("A", 1, "长沙是湖南的省会。"), ("B", 1, "长沙是湖南的省会。")]
        # and new rows keep their own turns beside the old ones
        own = store.begin_run({"scenario": {"id": "new", "title": "New"}})
        result = run.rows[0].result
        result.turn = 3
        store.add_rows(own, [run.rows[0]])
        assert store.load_run(own).rows[0].result.turn == 3


def test_a_file_of_the_hand_written_store_gets_turn_1(tmp_path: Path) -> None:
    with Store(old_store_file(tmp_path / "old.db")) as store:
        assert [r.result.turn for r in store.load_run(1).rows] == [1, 1]
