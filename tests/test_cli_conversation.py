"""``compare --conversation FILE.json``: the whole history sent to every target, the last
turn printed; a file that is not a conversation, and a history that no longer fits a
context, are messages with exit status 2 and nothing sent."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fake_services.server import FakeServer
from playground.cli import main
from tests.support import png
from tests.test_cli import playground

MINI = "nim:microsoft/phi-3.5-vision-instruct"
MINI_4K = "nim:microsoft/phi-3-mini-4k-instruct"
DATA_URL = "data:image/png;base64," + base64.b64encode(png(4, 4)).decode()


@pytest.fixture
def env(fakes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in fakes.items():
        monkeypatch.setenv(name, value)
    return fakes


def write(tmp_path: Path, messages: object, name: str = "chat.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(messages, ensure_ascii=False), encoding="utf-8")
    return path


def three_turns(tmp_path: Path) -> list[dict]:
    (tmp_path / "map.png").write_bytes(png(6, 6))
    return [{"role": "system", "content": "用中文回答。"},
            {"role": "user", "content": "你知道长沙吗？"},
            {"role": "assistant", "content": "长沙是湖南的省会。"},
            {"role": "user", "content": [{"type": "text", "text": "地图上在哪里？"},
                                         {"type": "image_url", "image_url": {"url": "map.png"}},
                                         {"type": "image_url", "image_url": {"url": DATA_URL}}]},
            {"role": "assistant", "content": [{"type": "text", "text": "在中间。"}]},
            {"role": "user", "content": "它的美食呢？"}]


def test_a_conversation_is_sent_whole_and_its_last_turn_printed(
        server: FakeServer, env, behaviours, tmp_path: Path) -> None:
    behaviours.default.pieces = ["臭豆腐", "。"]
    path = write(tmp_path, {"messages": three_turns(tmp_path)})
    done = playground("compare", "--conversation", str(path), "--target", MINI,
                      "--target", "openai:phi-3.5-mini-instruct", "--format", "json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert [(r["turn"], r["text"], r["status"]) for r in results] == [(3, "臭豆腐。", "ok")] * 2
    body = server.last("/nim/v1/chat/completions").json
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user",
                                                     "assistant", "user"]
    parts = body["messages"][3]["content"]
    assert parts[1]["image_url"]["url"] == ("data:image/png;base64,"
                                           + base64.b64encode(png(6, 6)).decode())
    assert parts[2]["image_url"]["url"] == DATA_URL
    assert body["messages"][4] == {"role": "assistant", "content": "在中间。"}
    assert server.last("/compat/v1/chat/completions").json["messages"] == body["messages"]


def test_the_table_shows_the_turn(env, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, three_turns(tmp_path))
    assert main(["compare", "--conversation", str(path), "--target", MINI]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert "turn" in header.split() and row.split()[1] == "3"


BROKEN = [
    ("{not json", "is not valid JSON"),
    ("[]", "non-empty list of messages"),
    ('{"messages": "hi"}', "non-empty list of messages"),
    ('[{"role": "assistant", "content": "a"}]', "expected a user message, not 'assistant'"),
    ('[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]',
     "message 2: expected a assistant message, not 'user'"),
    ('[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]',
     "must end with the user message"),
    ('[{"role": "user", "content": "a"}, {"role": "assistant", "content": [{"type": "image_url",'
     ' "image_url": {"url": "x.png"}}]}, {"role": "user", "content": "c"}]',
     "only user messages may carry images"),
    ('[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "nope.png"}}]}]',
     "does not exist"),
    ('[{"role": "user", "content": [{"type": "image_url", "image_url": '
     '{"url": "https://example.com/a.png"}}]}]', "nothing is downloaded"),
    ('[{"role": "user", "content": [{"type": "image_url", "image_url": '
     '{"url": "data:image/png;base64,!!!"}}]}]', "not valid base64"),
    ('[{"role": "user", "content": [{"type": "audio"}]}]', "must be text or image_url"),
    ('[{"role": "user", "content": 5}]', "content must be a string or a list"),
    ('[{"role": "user", "content": "  "}, {"role": "assistant", "content": "b"}, '
     '{"role": "user", "content": "c"}]', "ask nothing"),
]


@pytest.mark.parametrize(("text", "says"), BROKEN)
def test_a_broken_file_is_a_message_and_nothing_is_sent(text, says, server: FakeServer, env,
                                                        tmp_path: Path, capsys) -> None:
    path = tmp_path / "chat.json"
    path.write_text(text, encoding="utf-8")
    assert main(["compare", "--conversation", str(path), "--target", MINI]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Nothing was sent") and says in err, err
    assert server.chat_requests() == []


def test_missing_big_and_folder_files(server: FakeServer, env, tmp_path: Path, monkeypatch,
                                      capsys) -> None:
    assert main(["compare", "--conversation", str(tmp_path / "none.json"), "--target", MINI]) == 2
    assert "cannot be read" in capsys.readouterr().err
    assert main(["compare", "--conversation", str(tmp_path), "--target", MINI]) == 2
    assert "is not a file" in capsys.readouterr().err
    monkeypatch.setattr("playground.conversation_file.MAX_FILE_MB", 0)
    path = write(tmp_path, [{"role": "user", "content": "hi"}])
    assert main(["compare", "--conversation", str(path), "--target", MINI]) == 2
    assert "the limit is 0 MB" in capsys.readouterr().err
    assert server.chat_requests() == []


@pytest.mark.parametrize("args,says", [
    ([], "either --prompt or --conversation"),
    (["--prompt", "hi", "--conversation", "x.json"], "either --prompt or --conversation"),
    (["--conversation", "CHAT", "--system", "s"], "not --system / --image"),
    (["--prompt", "hi", "--drop-oldest", "1"], "--conversation only"),
    (["--conversation", "CHAT", "--drop-oldest", "2"], "from 0 to 1"),
    (["--conversation", "CHAT", "--drop-oldest", "nan"], "from 0 to 1"),
])
def test_options_that_do_not_go_together(args, says, server: FakeServer, env, tmp_path: Path,
                                         capsys) -> None:
    chat = write(tmp_path, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                            {"role": "user", "content": "c"}])
    args = [str(chat) if a == "CHAT" else a for a in args]
    assert main(["compare", *args, "--target", MINI]) == 2
    assert says in capsys.readouterr().err
    assert server.chat_requests() == []


def test_a_history_over_the_context_asks_to_drop_the_oldest(server: FakeServer, env,
                                                            tmp_path: Path, capsys) -> None:
    messages = []
    for i in range(5):
        messages += [{"role": "user", "content": f"q{i} " + "x" * 1500},
                     {"role": "assistant", "content": "y" * 1500}]
    path = write(tmp_path, [*messages, {"role": "user", "content": "and its food?"}])
    base = ["compare", "--conversation", str(path), "--target", MINI_4K, "--max-tokens", "256"]
    assert main([*base, "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert "4,096" in err and "estimated" in err and "--drop-oldest 2" in err
    assert server.chat_requests() == []
    assert main([*base, "--drop-oldest", "2", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["turn"] == 6  # the turn numbers stay after a drop
    sent = server.last().json["messages"]
    assert len(sent) == 7 and sent[0]["content"].startswith("q2 ")
