"""Issue 12, finding 10: the CLI on a broken history database, an output path that
cannot be written, and hostile YAML: a message and exit status 2, never a traceback,
and nothing sent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from playground.cli import main
from playground.scenarios.files import ScenarioFileError, load_scenario
from playground.store import Store
from tests.scenario_support import write_scenario
from tests.test_cli import playground

LAUGHS = "\n".join(
    ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    + ["id: bomb", "title: Bomb", "groups: [{name: A, routes: ['nim:x']}]",
       "cases: [{id: one, prompt: '*l9'}]"])


@pytest.fixture
def env(fakes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in fakes.items():
        monkeypatch.setenv(name, value)
    return fakes


def one_run_database(path: Path, env: dict[str, str], tmp_path: Path) -> Path:
    assert main(["run", str(write_scenario(tmp_path)), "--db", str(path)]) == 0
    return path


def broken(kind: str, tmp_path: Path, env: dict[str, str]) -> Path:
    """A history database in one of the broken states the finding tried."""
    path = tmp_path / f"{kind}.db"
    if kind == "corrupt":
        path.write_bytes(b"not a database, just bytes " * 400)
    elif kind == "directory":
        path.mkdir()
    elif kind == "future":  # at a schema revision this version does not know
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('9999')")
        db.commit()
        db.close()
    elif kind == "truncated":
        data = one_run_database(path, env, tmp_path).read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif kind == "bad-json":
        one_run_database(path, env, tmp_path)
        db = sqlite3.connect(path)
        db.execute("UPDATE rows SET notices = '{not json'")
        db.execute("UPDATE runs SET meta = '{not json'")
        db.commit()
        db.close()
    return path


@pytest.mark.parametrize("kind", ["corrupt", "directory", "future", "truncated", "bad-json"])
@pytest.mark.parametrize("action", [["history"], ["history", "show", "1"],
                                    ["history", "export", "1", "--out", "x.md"]])
def test_history_on_a_broken_database(kind, action, env, tmp_path, capsys) -> None:
    path = broken(kind, tmp_path, env)
    capsys.readouterr()
    code = main([*action, "--db", str(path)])
    err = capsys.readouterr().err
    if kind == "bad-json" and action == ["history"]:
        assert code == 0  # the list reads no JSON: it still works
        return
    assert code == 2 and f"history database {path} cannot be used" in err
    assert "Traceback" not in err


def test_history_on_a_broken_database_as_a_process(env, tmp_path) -> None:
    path = broken("corrupt", tmp_path, env)
    done = playground("history", "show", "1", "--db", str(path), env=env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot be used: file is not a database" in done.stderr


def test_run_on_a_read_only_database_sends_nothing(env, server, tmp_path, monkeypatch,
                                                   capsys) -> None:
    path = tmp_path / "ro.db"
    Store(path).close()  # a valid, migrated history
    connect = sqlite3.connect

    def read_only(database, *args, **kwargs):  # as a read-only file or mount opens
        return connect(f"file:{database}?mode=ro", *args, uri=True, **kwargs)
    monkeypatch.setattr("sqlite3.dbapi2.connect", read_only)  # what SQLAlchemy calls
    code = main(["run", str(write_scenario(tmp_path)), "--db", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "Nothing was sent" in err and "readonly database" in err
    assert server.chat_requests() == []


@pytest.mark.parametrize(("out", "says"), [
    ("/nonexistent/x.md", "the folder /nonexistent does not exist"),
    ("report.html", "choose a file ending in .csv, .json, .md"),
    ("a-folder.md", "is a folder: name a file in it"),
    ("x" * 5_000 + "/r.md", "cannot be used (File name too long)"),
])
def test_out_is_checked_before_the_run(out, says, env, server, tmp_path, monkeypatch,
                                       capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-folder.md").mkdir()
    code = main(["run", str(write_scenario(tmp_path)), "--db", "h.db", "--out", out])
    assert code == 2 and says in capsys.readouterr().err
    assert server.chat_requests() == []
    assert main(["history", "export", "1", "--db", "h.db", "--out", out]) == 2


def test_a_billion_laughs_file_is_refused(env, server, tmp_path, capsys) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(LAUGHS)
    with pytest.raises(ScenarioFileError, match="more than 50,000 values once its aliases "
                                                "are expanded"):
        load_scenario(path)
    assert main(["run", str(path)]) == 2
    assert "not valid YAML" in capsys.readouterr().err and server.requests == []


@pytest.mark.parametrize(("text", "says"), [
    ("x: " + "[" * 5_000 + "]" * 5_000, "bomb.yaml:1: not valid YAML: nested more than 40"),
    ("a: " + "{b: " * 3_000 + "1" + "}" * 3_000, "nested more than 40 levels deep"),
    ("a: &a [1, *a]\n", "recursive alias"),
    ("id: x\n" + "k: " + "y" * 2_000_001, "a scenario file is at most 2,000,000"),
])
def test_hostile_yaml_is_a_yaml_problem(text, says, env, tmp_path, capsys) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "database" not in err


def test_yaml_within_the_bounds_still_reads_aliases(tmp_path) -> None:
    path = write_scenario(tmp_path)
    text = path.read_text().replace("cases:", "x-shared: &p Hello?\ncases:")
    path.write_text(text.replace("prompt: Hello?", "prompt: *p"))
    with pytest.raises(ScenarioFileError, match="unknown key 'x-shared'"):
        load_scenario(path)  # parsed fine; the extra key is the only problem


UNREADABLE = ["/proc/1/root/x", "a" * 5_000]  # permission denied; file name too long


@pytest.mark.parametrize("path", UNREADABLE)
def test_unreadable_files_are_messages_not_tracebacks(path, env, server, tmp_path,
                                                      capsys) -> None:
    assert main(["compare", "--prompt", "hi", "--target", "nim:x", "--image",
                 path + ".png"]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert main(["run", path]) == 2
    assert "cannot read the file" in capsys.readouterr().err
    assert main(["run", "chinese-qa", "--db", path + ".db"]) == 2
    assert "cannot be used" in capsys.readouterr().err
    pack = write_scenario(tmp_path, cases=[{"id": "one", "prompt": "hi", "document": path,
                                            "images": [path + ".png"]}])
    assert main(["run", str(pack)]) == 2
    err = capsys.readouterr().err
    assert "cases[0].document: document" in err and "cannot be read" in err
    assert "cases[0].images: Image" in err
    assert server.requests == []


@pytest.mark.parametrize(("fields", "says"), [
    ({"parameters": {"timeout_s": float("nan")}}, "parameters.timeout_s: Input should be a finite number"),
    ({"parameters": {"timeout_s": float("inf")}}, "parameters.timeout_s: Input should be a finite number"),
    ({"parameters": {"timeout_s": 10_000}},
     "parameters.timeout_s: Input should be less than or equal to 600"),
    ({"parameters": {"max_tokens": 10**9}},
     "parameters.max_tokens: Input should be less than or equal to 32768"),
    ({"parameters": {"seed": 10**23}},
     "parameters.seed: Input should be less than or equal to 4294967295"),
    ({"parameters": {"temperature": float("nan")}},
     "parameters.temperature: Input should be a finite number"),
    ({"repeats": float("inf")}, "repeats: Input should be a finite number"),
    ({"warmup": float("nan")}, "warmup: Input should be a finite number"),
    ({"cases": [{"id": "one", "prompt": "hi", "parameters": {"top_p": float("-inf")}}]},
     "cases[0].parameters.top_p: Input should be a finite number"),
])
def test_scenario_numbers_are_finite_and_in_range(fields, says, env, server, tmp_path,
                                                  capsys) -> None:
    assert main(["run", str(write_scenario(tmp_path, **fields))]) == 2
    assert says in capsys.readouterr().err
    assert server.requests == []
