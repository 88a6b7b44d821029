"""The store's scenario runs on SQLite and PostgreSQL: migrations, round trips,
redaction, one transaction per round, and a process killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from fake_services.services import KEYS, Behaviours
from playground.cli import main
from playground.metrics import TargetResult
from playground.scenarios.runner import RunRow
from playground.store import Store, default_db
from providers.settings import Settings
from tests.conftest import REPO
from tests.scenario_support import answering, run_scenario, write_scenario


def test_the_database_comes_from_playground_db(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    assert default_db() == "playground.db"
    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "elsewhere.db"))
    assert default_db() == str(tmp_path / "elsewhere.db")
    monkeypatch.setenv("PLAYGROUND_DB", "postgresql://u:p@127.0.0.1/db")
    assert default_db() == "postgresql://u:p@127.0.0.1/db"


def test_a_run_reads_back_as_it_ran(store_db: str, tmp_path: Path, fakes,
                                    behaviours: Behaviours) -> None:
    answering(behaviours, answers={"": "长沙是湖南的省会。"})
    path = write_scenario(tmp_path, repeats=2, warmup=1, checks=[{"language": "zh"}],
                          cases=[{"id": "one", "prompt": "你知道长沙吗？"}])
    history = Store(store_db)
    run = run_scenario(path, Settings(fakes), store=history)
    stored = history.load_run(run.run_id)
    assert (stored.scenario_id, stored.status) == ("test-pack", "done")
    assert stored.wall_ms == pytest.approx(run.wall_ms)
    assert len(stored.rows) == len(run.rows) == 6
    for live, back in zip(run.rows, stored.rows):
        assert (back.case, back.group, back.repeat, back.warmup, back.mode) == (
            live.case, live.group, live.repeat, live.warmup, live.mode)
        assert back.checks == live.checks
        for name in ("target", "status", "text", "ttft_ms", "total_ms", "completion_tokens",
                     "tokens_source", "decode_tokens_per_s", "resolved_model", "notices",
                     "partial"):
            assert getattr(back.result, name) == getattr(live.result, name), name
    assert [g["route"] for g in stored.meta["groups"]] == [
        "nim:microsoft/phi-3.5-mini-instruct", "azure:Phi-3.5-mini-instruct"]
    assert stored.meta["parameters"]["repeats"] == 2 and stored.meta["parameters"]["warmup"] == 1
    assert stored.meta["environment"]["libraries"]["openai"]
    listed = history.runs()
    assert listed[0]["id"] == run.run_id and listed[0]["rows"] == 6 and listed[0]["failed"] == 0
    history.close()


def test_runs_list_newest_first_with_failures_counted(store_db: str) -> None:
    with Store(store_db) as history:
        first = history.begin_run({"scenario": {"id": "x", "title": "X"}})
        second = history.begin_run({"scenario": {"id": "y", "title": "Y"}})
        ok = TargetResult("nim:m", "nim", "m", status="ok")
        bad = TargetResult("nim:m", "nim", "m", status="error")
        history.add_rows(second, [RunRow("c", "A", 1, False, "concurrent", ok),
                                  RunRow("c", "B", 1, False, "concurrent", bad)])
        history.finish_run(second, "done", 12.5)
        listed = history.runs()
        assert [(r["id"], r["rows"], r["failed"], r["status"]) for r in listed] == [
            (second, 2, 1, "done"), (first, 0, 0, "running")]
        assert history.runs(1)[0]["id"] == second
        with pytest.raises(KeyError):
            history.load_run(second + 1)


def test_no_secret_reaches_the_history(store_db: str, tmp_path: Path, fakes,
                                       behaviours: Behaviours) -> None:
    # A service that echoes a key back (in an answer) must not get it stored.
    answering(behaviours, answers={"": f"your key is {KEYS['NVIDIA_API_KEY']} ok"})
    settings = Settings.load(dotenv_path=None, environ=fakes)
    history = Store(store_db, settings.secret_values())
    run = run_scenario(write_scenario(tmp_path), settings, store=history)
    assert run.rows[0].result.text == "your key is *** ok"  # the engine scrubs answers
    with history.engine.connect() as db:
        stored = [str(v) for table in ("runs", "rows")
                  for row in db.execute(text(f"SELECT * FROM {table}")) for v in row]
    history.close()
    assert stored and not any(key in value for key in KEYS.values() for value in stored)
    if "://" not in store_db:  # and not in the file's free pages either
        raw = Path(store_db).read_bytes()
        assert not any(key.encode() in raw for key in KEYS.values())
    assert Store(store_db).load_run(1).rows[0].result.text == "your key is *** ok"


def test_each_round_is_one_transaction(store_db: str) -> None:
    history = Store(store_db)
    run_id = history.begin_run({"scenario": {"id": "x", "title": "X"}})
    good = RunRow("one", "A", 1, False, "concurrent", TargetResult("nim:m", "nim", "m"))
    broken = RunRow(None, "B", 1, False, "concurrent", TargetResult("nim:m", "nim", "m"))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        history.add_rows(run_id, [good, broken])
    assert history.load_run(run_id).rows == []
    history.add_rows(run_id, [good])
    assert len(history.load_run(run_id).rows) == 1
    history.close()


def _rows_in(path: Path) -> int:
    try:
        db = sqlite3.connect(path, timeout=5)
        return db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def test_history_survives_a_process_killed_mid_run(tmp_path: Path, fakes, behaviours: Behaviours,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    behaviours.default.first_s, behaviours.default.interval_s = 0.08, 0.005
    scenario = write_scenario(tmp_path, repeats=40)
    db = tmp_path / "h.db"
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    runner = subprocess.Popen(
        [sys.executable, "-m", "playground", "run", str(scenario), "--db", str(db)],
        env={**clean, "PYTHONPATH": REPO, **fakes}, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while _rows_in(db) < 6 and time.monotonic() < deadline and runner.poll() is None:
        time.sleep(0.02)
    os.kill(runner.pid, signal.SIGKILL)
    assert runner.wait(10) == -signal.SIGKILL
    saved = _rows_in(db)
    assert 6 <= saved < 80 and saved % 2 == 0, "whole rounds only (2 groups per round)"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    run = Store(db).load_run(1)
    assert run.status == "running" and run.finished_at is None
    assert all(r.result.status == "ok" for r in run.rows)
    assert main(["history", "--db", str(db)]) == 0
    assert "unfinished" in capsys.readouterr().out
    out = tmp_path / "partial.json"
    assert main(["history", "export", "1", "--out", str(out), "--db", str(db)]) == 0
    document = json.loads(out.read_text())
    assert document["status"] == "running" and len(document["runs"]) == saved


def test_playground_db_in_dotenv_is_honoured_by_history(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    store = Store(elsewhere)
    store.begin_run({"scenario": {"id": "from-dotenv", "title": "Saved elsewhere"}})
    store.close()
    (tmp_path / ".env").write_text(f"PLAYGROUND_DB={elsewhere}\n")
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    done = subprocess.run([sys.executable, "-m", "playground", "history", "--format", "json"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**clean, "PYTHONPATH": REPO})
    assert done.returncode == 0, done.stderr
    assert [r["scenario_id"] for r in json.loads(done.stdout)] == ["from-dotenv"]
    assert not (tmp_path / "playground.db").exists()


def test_the_environment_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PLAYGROUND_DB=from-dotenv.db\n")
    assert default_db() == "from-dotenv.db"
    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "from-env.db"))
    assert default_db() == str(tmp_path / "from-env.db")


def test_the_cli_runs_and_lists_on_postgresql(postgres_cluster, env_fakes, tmp_path,
                                              capsys, monkeypatch) -> None:
    url = postgres_cluster.new_database()
    assert main(["run", str(write_scenario(tmp_path)), "--db", url]) == 0
    assert "Saved as run 1 in postgresql://postgres@127.0.0.1" in capsys.readouterr().err
    assert main(["history", "--db", url, "--format", "json"]) == 0
    assert [r["rows"] for r in json.loads(capsys.readouterr().out)] == [2]
    monkeypatch.setenv("PLAYGROUND_DB", url)  # the same database named by the setting
    assert main(["history", "show", "1"]) == 0
    assert "test-pack" in capsys.readouterr().out


def test_an_unreachable_postgresql_is_one_line_without_its_password(capsys) -> None:
    url = "postgresql://teacher:hunter2-not-shown@127.0.0.1:1/arena"
    assert main(["history", "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("The history database postgresql://teacher:***@127.0.0.1:1/arena "
                          "cannot be used: connection failed:")
    assert "hunter2" not in err and "Traceback" not in err and err.count("\n") == 1


@pytest.fixture
def env_fakes(fakes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in fakes.items():
        monkeypatch.setenv(name, value)
    return fakes


def test_without_postgresql_its_tests_fail_unless_run_sh_could_not_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.pg_support import missing_postgres

    monkeypatch.delenv("PLAYGROUND_TEST_NO_POSTGRES", raising=False)
    with pytest.raises(pytest.fail.Exception, match="install Debian's `postgresql` package"):
        missing_postgres()
    monkeypatch.setenv("PLAYGROUND_TEST_NO_POSTGRES", "tests/run.sh could not install it")
    with pytest.raises(pytest.skip.Exception, match="could not install it"):
        missing_postgres()
