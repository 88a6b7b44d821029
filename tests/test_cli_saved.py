"""``compare --save`` and ``history`` for saved comparisons (issue 15): the id printed,
the whole comparison kept (a conversation file's turns too, never a key), listed beside
scenario runs, shown, exported as .html/.json/.csv; bad input is a message and exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fake_services.server import FakeServer
from fake_services.services import KEYS
from playground.cli import main
from playground.conversation import Conversation
from playground.store import Store
from tests.test_cli import playground
from tests.test_cli_conversation import MINI, write

NIM = "nim:microsoft/phi-3.5-mini-instruct"
OLLAMA = "ollama:phi3.5"


@pytest.fixture
def env(fakes: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
        ) -> dict[str, str]:
    for name, value in fakes.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "history.db"))
    return fakes


def saved_id(err: str) -> str:
    line = next(x for x in err.splitlines() if x.startswith("Saved as comparison "))
    return line.split()[3]


def test_save_a_comparison_and_find_it_in_the_history(env, behaviours, tmp_path,
                                                      capsys) -> None:
    behaviours.default.pieces = ["长沙", "是省会。", KEYS["NVIDIA_API_KEY"]]  # an echoed key
    assert main(["compare", "--prompt", "你知道长沙吗？", "--target", NIM, "--target", OLLAMA,
                 "--temperature", "0.5", "--save", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    comparison_id = saved_id(err)
    assert json.loads(out)["comparison_id"] == comparison_id  # stdout stays one document
    with Store(tmp_path / "history.db") as store:
        kept = store.load_comparison(comparison_id)
    assert KEYS["NVIDIA_API_KEY"] not in json.dumps(kept, ensure_ascii=False)
    assert kept["targets"] == [NIM, OLLAMA] and kept["shared"]["temperature"] == 0.5
    assert Conversation.from_document(kept).panes[0].turns[0].text == "你知道长沙吗？"

    assert main(["history"]) == 0
    listing = capsys.readouterr().out
    runs, comparisons = listing.split("saved comparisons:")
    assert "No runs yet" in runs and comparison_id in comparisons and "你知道长沙吗？" in comparisons
    assert main(["history", "comparisons", "--format", "json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["id"], entry["turns"], entry["targets"]) == (comparison_id, 1, [NIM, OLLAMA])
    assert main(["history", "show", comparison_id]) == 0
    shown = capsys.readouterr().out
    assert "长沙是省会。***" in shown and f"== {OLLAMA} · turn 1 [ok]" in shown


def test_export_a_saved_comparison_as_html_json_and_csv(env, behaviours, tmp_path,
                                                        capsys) -> None:
    behaviours.default.pieces = ["<b>bold?</b> ", "**yes**"]
    assert main(["compare", "--prompt", "Hi <script>", "--target", NIM, "--save"]) == 0
    comparison_id = saved_id(capsys.readouterr().err)
    for name in ("x.html", "x.json", "x.csv"):
        assert main(["history", "export", comparison_id, "--out", str(tmp_path / name)]) == 0
        assert f"written to {tmp_path / name}" in capsys.readouterr().err
    page = (tmp_path / "x.html").read_text(encoding="utf-8")
    assert "<strong>yes</strong>" in page and "&lt;b&gt;bold?&lt;/b&gt;" in page
    assert "Hi &lt;script&gt;" in page and "<script" not in page
    assert json.loads((tmp_path / "x.json").read_text())["panes"][0]["target"] == NIM
    (row,) = csv.DictReader((tmp_path / "x.csv").open(encoding="utf-8"))
    assert (row["target"], row["turn"], row["user"], row["answer"]) == (
        NIM, "1", "Hi <script>", "<b>bold?</b> **yes**")
    assert float(row["ttft_ms"]) > 0


def test_save_a_conversation_file_keeps_every_turn(env, behaviours, tmp_path, capsys) -> None:
    behaviours.default.pieces = ["臭豆腐。"]
    path = write(tmp_path, [{"role": "system", "content": "用中文回答。"},
                            {"role": "user", "content": "你知道长沙吗？"},
                            {"role": "assistant", "content": "长沙是湖南的省会。"},
                            {"role": "user", "content": "它的美食呢？"}])
    assert main(["compare", "--conversation", str(path), "--target", MINI, "--save"]) == 0
    comparison_id = saved_id(capsys.readouterr().err)
    with Store(tmp_path / "history.db") as store:
        kept = store.load_comparison(comparison_id)
    turns = kept["panes"][0]["turns"]
    assert [(t["turn"], t["user"]["text"], t["answer"], t["result"]["status"]) for t in turns] \
        == [(1, "你知道长沙吗？", "长沙是湖南的省会。", "given"), (2, "它的美食呢？", "臭豆腐。", "ok")]
    assert turns[0]["result"]["ttft_ms"] is None  # written in the file, not measured
    assert kept["shared"]["system"] == "用中文回答。" and kept["turns"] == 2
    chat = Conversation.from_document(kept)  # the web page can continue from it
    assert [t.text for t in chat.panes[0].history()] == ["你知道长沙吗？", "长沙是湖南的省会。",
                                                         "它的美食呢？", "臭豆腐。"]


@pytest.mark.parametrize(("args", "says"), [
    (["history", "show", "not-an-id!"], "neither a run id"),
    (["history", "show", "A" * 22], "No saved comparison has this id"),
    (["history", "export", "A" * 22], "needs --out FILE"),
    (["history", "export", "A" * 22, "--out", "x.md"], "choose a file ending in .html"),
    (["history", "export", "A" * 22, "--out", "no/such/dir/x.html"], "does not exist"),
    (["history", "--limit", "0"], "--limit must be from 1 to 500"),
    (["history", "list", "3"], "takes no ID"),
    (["compare", "--prompt", "hi", "--target", NIM, "--db", "x.db"], "--db is for --save"),
])
def test_bad_input_is_a_message_and_exit_2(args, says, env, server: FakeServer,
                                           capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not server.chat_requests()


def test_save_to_a_database_that_cannot_be_used_sends_nothing(env, server: FakeServer,
                                                              tmp_path, capsys) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    assert main(["compare", "--prompt", "hi", "--target", NIM, "--save",
                 "--db", str(folder)]) == 2
    assert "Nothing was sent" in capsys.readouterr().err
    assert not server.chat_requests()


def test_run_ids_still_go_to_the_runs(env, tmp_path) -> None:
    done = playground("history", "show", "7", env={"PLAYGROUND_DB": str(tmp_path / "h.db")},
                      cwd=tmp_path)
    assert done.returncode == 2 and "There is no run 7" in done.stderr
