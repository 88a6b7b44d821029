"""The CLI as a user runs it: a subprocess against the fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_services.server import FakeServer, json_reply
from playground.metrics import RESULT_FIELDS
from tests.conftest import REPO

TARGETS = ["nim:microsoft/phi-3.5-mini-instruct", "ollama:phi3.5", "azure:Phi-3.5-mini-instruct"]


def playground(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return subprocess.run([sys.executable, "-m", "playground", *args], capture_output=True,
                          text=True, env={**clean, "PYTHONPATH": REPO, **env}, cwd=cwd,
                          timeout=60)


def compare_args(*targets: str, fmt: str = "json", prompt: str = "你知道长沙吗？") -> list[str]:
    args = ["compare", "--prompt", prompt, "--system", "Answer briefly.", "--max-tokens", "64",
            "--temperature", "0", "--seed", "1", "--format", fmt]
    for target in targets:
        args += ["--target", target]
    return args


def test_json_contract(server: FakeServer, fakes, behaviours, tmp_path) -> None:
    behaviours.default.pieces = ["长沙", "是", "湖南的省会。"]
    behaviours.default.first_s = 0.2
    done = playground(*compare_args(*TARGETS), env=fakes, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # exactly one JSON document
    assert set(document) == {"wall_ms", "results"}
    assert [r["target"] for r in document["results"]] == TARGETS
    for result in document["results"]:
        assert set(RESULT_FIELDS) <= set(result)
        assert result["status"] == "ok" and result["error"] is None
        assert result["text"] == "长沙是湖南的省会。"
        assert result["provider"] == result["target"].split(":")[0]
        assert 200 <= result["ttft_ms"] <= result["total_ms"]
        assert (result["prompt_tokens"], result["completion_tokens"]) == (20, 3)
        assert result["tokens_source"] == "reported" and result["finish_reason"] == "stop"
        assert result["decode_tokens_per_s"] > 0 and result["chars_per_s"] > 0
    # Concurrent: the fake received every request before it finished any stream.
    chats = server.chat_requests()
    assert max(r.received_at for r in chats) < min(r.sent_at[-1] for r in chats)
    assert {r.json["max_tokens"] for r in chats if r.path != "/api/chat"} == {64}


def test_any_failed_target_exits_1(server: FakeServer, fakes, tmp_path) -> None:
    server.on("POST", "/compat/v1/chat/completions",
              lambda request: json_reply(500, {"error": {"message": "boom"}}))
    done = playground(*compare_args("ollama:phi3.5", "openai:phi-3.5-mini-instruct"),
                      env=fakes, cwd=tmp_path)
    assert done.returncode == 1
    results = json.loads(done.stdout)["results"]
    assert results[0]["status"] == "ok"
    assert results[1]["status"] == "error" and results[1]["error_kind"] == "unavailable"
    table = playground(*compare_args("ollama:phi3.5", "openai:phi-3.5-mini-instruct",
                                     fmt="table"), env=fakes, cwd=tmp_path)
    assert "error (unavailable):" in table.stdout and "boom" in table.stdout


def test_targets_that_cannot_run_are_refused_before_sending(server: FakeServer, fakes,
                                                            tmp_path) -> None:
    env = {**{k: v for k, v in fakes.items() if k != "NVIDIA_API_KEY"},
           "ONNX_MODELS_DIR": str(tmp_path / "models")}
    done = playground(*compare_args("github:microsoft/phi-3.5-mini-instruct", "ollama:phi4",
                                    "nim:microsoft/phi-3.5-mini-instruct", "onnx:phi-3.5-mini",
                                    "ollama:phi3.5"), env=env, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "" and server.chat_requests() == []
    lines = done.stderr.splitlines()
    assert lines[0] == "Nothing was sent:"
    assert lines[1].startswith("  github:microsoft/phi-3.5-mini-instruct: GitHub Models was "
                               "retired by GitHub on 2026-07-30")
    assert "ollama:phi4: Ollama at " in lines[2] and "(ollama pull phi4)" in lines[2]
    assert lines[3] == ("  nim:microsoft/phi-3.5-mini-instruct: needs NVIDIA_API_KEY in the "
                        "environment or .env")
    assert lines[4] == ("  onnx:phi-3.5-mini: phi-3.5-mini is not downloaded "
                        "(python -m playground models download phi-3.5-mini)")
    assert len(lines) == 5 and "session" not in done.stderr


def test_a_stopped_ollama_is_refused(server: FakeServer, fakes, tmp_path) -> None:
    env = {**fakes, "OLLAMA_HOST": "http://127.0.0.1:9"}  # discard port: nothing listens
    done = playground(*compare_args("ollama:phi3.5", "nim:microsoft/phi-3.5-mini-instruct"),
                      env=env, cwd=tmp_path)
    assert done.returncode == 2 and server.chat_requests() == []
    assert "ollama:phi3.5: Ollama is not running at http://127.0.0.1:9 (start `ollama serve`" \
        in done.stderr


@pytest.mark.parametrize(("targets", "says"), [
    (["nim"], "is not PROVIDER:MODEL"),
    (["acme:model"], "Unknown provider 'acme'"),
    ([], "No target selected"),
])
def test_bad_targets_send_nothing(targets, says, server: FakeServer, fakes, tmp_path) -> None:
    done = playground(*compare_args(*targets), env=fakes, cwd=tmp_path)
    assert done.returncode == 2
    assert says in done.stderr and done.stdout == ""
    assert server.chat_requests() == []


def test_missing_key_is_named_before_the_run(server: FakeServer, fakes, tmp_path) -> None:
    env = {k: v for k, v in fakes.items() if k != "NVIDIA_API_KEY"}
    done = playground(*compare_args("nim:microsoft/phi-3.5-mini-instruct", "ollama:phi3.5"),
                      env=env, cwd=tmp_path)
    assert done.returncode == 2 and "NVIDIA_API_KEY" in done.stderr
    assert server.chat_requests() == []


def test_key_from_dotenv(server: FakeServer, fakes, tmp_path) -> None:
    env = {k: v for k, v in fakes.items() if k != "NVIDIA_API_KEY"}
    (tmp_path / ".env").write_text(f"NVIDIA_API_KEY={fakes['NVIDIA_API_KEY']}\n")
    done = playground(*compare_args("nim:microsoft/phi-3.5-mini-instruct"), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert server.last().headers["Authorization"] == f"Bearer {fakes['NVIDIA_API_KEY']}"


def test_images_for_a_text_only_model_are_refused(server: FakeServer, fakes, tmp_path) -> None:
    image = tmp_path / "dot.png"
    from PIL import Image

    Image.new("RGB", (4, 4), "white").save(image)
    done = playground(*compare_args("ollama:phi3.5"), "--image", str(image), env=fakes, cwd=tmp_path)
    assert done.returncode == 2 and "text-only" in done.stderr
    assert server.chat_requests() == []


def test_a_file_that_is_not_an_image_is_refused(server: FakeServer, fakes, tmp_path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    done = playground(*compare_args("nim:microsoft/phi-3.5-vision-instruct"), "--image", str(fake),
                      env=fakes, cwd=tmp_path)
    assert done.returncode == 2 and "'notes.png' is not an image" in done.stderr
    assert server.chat_requests() == []


def test_table_and_csv_formats(fakes, behaviours, tmp_path) -> None:
    behaviours.default.pieces = ["Hello", " there"]
    table = playground(*compare_args(*TARGETS, fmt="table"), env=fakes, cwd=tmp_path)
    assert table.returncode == 0
    assert "ttft_ms" in table.stdout and "wall time" in table.stdout
    assert table.stdout.count("Hello there") == 3
    csv_out = playground(*compare_args(*TARGETS, fmt="csv"), env=fakes, cwd=tmp_path)
    lines = csv_out.stdout.splitlines()
    assert lines[0].split(",") == [*RESULT_FIELDS, "partial"]
    assert len(lines) == 4


def test_providers_lists_status_without_values(fakes, tmp_path) -> None:
    env = {k: v for k, v in fakes.items() if k != "AZURE_AI_API_KEY"}
    done = playground("providers", "--format", "json", env=env, cwd=tmp_path)
    report = {p["id"]: p for p in json.loads(done.stdout)}
    assert report["nim"]["configured"] is True
    assert report["azure"]["configured"] is False and "AZURE_AI_API_KEY" in report["azure"]["why_not"]
    assert report["azure"]["state"] == "needs_key" and report["nim"]["ready"] is True
    assert "2026-07-30" in report["github"]["note"]
    for value in fakes.values():
        if "fake" in value:
            assert value not in done.stdout
    table = playground("providers", env=env, cwd=tmp_path)
    assert "needs AZURE_AI_API_KEY in the environment or .env" in table.stdout


def test_providers_table_says_what_each_needs(fakes, tmp_path) -> None:
    env = {**fakes, "OLLAMA_HOST": "http://127.0.0.1:9", "ONNX_MODELS_DIR": str(tmp_path)}
    rows = {line.split()[0]: line for line in
            playground("providers", env=env, cwd=tmp_path).stdout.splitlines()[1:]}
    assert rows["nim"].split()[1:] == ["ready", "ready"]
    assert rows["github"].split(None, 2)[1:] == [
        "retired", "GitHub Models was retired by GitHub on 2026-07-30; every call now answers "
        "HTTP 410. Use a route that still works: azure: (Azure AI Foundry), nim: (NVIDIA NIM), "
        "ollama: (local Ollama), onnx: (local ONNX Runtime GenAI) or openai: (any "
        "OpenAI-compatible server)."]
    assert "server down     Ollama is not running at http://127.0.0.1:9" in rows["ollama"]
    assert "not downloaded  no ONNX model downloaded yet (python -m playground models " \
           "download phi-3.5-mini)" in rows["onnx"]
    assert "token" not in rows["github"].lower() and "session" not in "".join(rows.values())
