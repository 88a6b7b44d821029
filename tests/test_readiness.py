"""One readiness check: every state, against loopback fakes and with no server at all."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_services.server import FakeServer, json_reply
from fake_services.services import ollama_tags
from providers import Target
from providers.local.transformers import TransformersProvider
from providers.probes import BUSY_GRACE_S, PROBE_TIMEOUT_S, PROBE_TTL_S, Probe, cached, get
from providers.readiness import Readiness, provider_readiness, refusal_message, target_readiness
from providers.settings import Settings


def closed_port_url() -> str:
    """A loopback address where nothing listens (the port was just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback address that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_cloud_providers_need_their_key(fakes) -> None:
    env = {k: v for k, v in fakes.items() if k != "NVIDIA_API_KEY"}
    found = target_readiness("nim:microsoft/phi-3.5-mini-instruct", Settings(env))
    assert found.state == "needs_key" and not found.ready
    assert found.message == "needs NVIDIA_API_KEY" and "NVIDIA_API_KEY" in found.fix
    assert "session" not in found.describe()
    assert target_readiness("nim:microsoft/phi-3.5-mini-instruct", Settings(fakes)).ready
    azure = provider_readiness("azure", Settings({}))
    assert azure.state == "needs_key" and "AZURE_AI_ENDPOINT and AZURE_AI_API_KEY" in azure.message


@pytest.mark.parametrize("env", [{}, {"GITHUB_TOKEN": "github_pat_x"}])
def test_github_is_retired_with_or_without_a_token(env) -> None:
    for found in (provider_readiness("github", Settings(env)),
                  target_readiness("github:microsoft/phi-3.5-mini-instruct", Settings(env))):
        assert found.state == "retired"
        assert found.message.startswith("GitHub Models was retired by GitHub on 2026-07-30")
        assert all(route in found.message for route in ("azure:", "nim:", "ollama:", "onnx:",
                                                          "openai:"))
        assert "token" not in found.describe().lower()


def test_transformers_without_torch_needs_a_package(monkeypatch) -> None:
    monkeypatch.setattr(TransformersProvider, "missing_packages", lambda self: ["torch"])
    found = target_readiness("transformers:./tiny", Settings({}))
    assert found.state == "needs_package" and "torch" in found.message
    assert "requirements-transformers.txt" in found.fix


def test_transformers_folder_must_exist(tmp_path, monkeypatch) -> None:
    missing = target_readiness(f"transformers:{tmp_path / 'nothing'}", Settings({}))
    assert missing.state == "not_downloaded" and "config.json" in missing.message
    (tmp_path / "model").mkdir()
    assert target_readiness(f"transformers:{tmp_path / 'model'}", Settings({})).state == \
        "not_downloaded"
    (tmp_path / "model" / "config.json").write_text("{}")
    assert target_readiness(f"transformers:{tmp_path / 'model'}", Settings({})).ready
    monkeypatch.chdir(tmp_path)
    assert target_readiness("transformers:model", Settings({})).ready  # a relative folder
    assert target_readiness("transformers:microsoft/Phi-3-mini-4k-instruct", Settings({})).ready


def test_ollama_without_a_server_is_down() -> None:
    url = closed_port_url()
    for found in (provider_readiness("ollama", Settings({"OLLAMA_HOST": url})),
                  target_readiness("ollama:phi3.5", Settings({"OLLAMA_HOST": url}))):
        assert found.state == "server_down" and url in found.message
        assert "ollama serve" in found.fix


def test_ollama_that_never_answers_is_down_after_the_short_timeout(silent_url) -> None:
    found = target_readiness("ollama:phi3.5", Settings({"OLLAMA_HOST": silent_url}))
    assert found.state == "server_down" and f"{PROBE_TIMEOUT_S:g} s" in found.message


def test_ollama_lists_which_models_are_pulled(server: FakeServer) -> None:
    server.on("GET", "/api/tags", ollama_tags(["phi3.5:latest", "phi3:medium"]))
    settings = Settings({"OLLAMA_HOST": server.url})
    assert target_readiness("ollama:phi3.5", settings).ready
    assert target_readiness("ollama:PHI3:medium", settings).ready
    missing = target_readiness("ollama:phi4", settings)
    assert missing.state == "not_downloaded" and missing.fix == "ollama pull phi4"
    ready = provider_readiness("ollama", settings)
    assert ready.ready and "2 model(s)" in ready.message


def test_ollama_probe_is_cached_per_host(server: FakeServer) -> None:
    server.on("GET", "/api/tags", ollama_tags(["phi3.5:latest"]))
    settings = Settings({"OLLAMA_HOST": server.url})
    for _ in range(5):
        assert target_readiness("ollama:phi3.5", settings).ready
    assert len([r for r in server.requests if r.path == "/api/tags"]) == 1


def test_cached_probes_expire() -> None:
    now = [100.0]
    calls: list[int] = []

    def probe() -> Probe:
        calls.append(1)
        return Probe(True)

    for _ in range(3):
        cached("http://cache.test/a", probe, clock=lambda: now[0])
    assert len(calls) == 1
    now[0] += PROBE_TTL_S + 0.1
    cached("http://cache.test/a", probe, clock=lambda: now[0])
    assert len(calls) == 2


def test_a_server_that_answered_recently_and_is_now_slow_is_busy_not_down(silent_url) -> None:
    # Under a classroom's load a probe can time out on a healthy server (or on an app whose
    # own threads are starved): that must not refuse every comparison to it.
    assert get(f"{silent_url}/api/tags")[0].slow  # connected, no answer: slow
    assert not get(f"{closed_port_url()}/api/tags")[0].slow  # refused: down, not slow
    now = [100.0]
    answers = iter([Probe(True, tags=("phi3.5",)), Probe(False, "no answer within 0.5 s", slow=True),
                    Probe(False, "no answer within 0.5 s", slow=True), Probe(False, "ConnectError")])

    def probe_now() -> Probe:
        now[0] += PROBE_TTL_S + 0.1
        return cached("http://busy.test/api/tags", lambda: next(answers), clock=lambda: now[0])

    assert probe_now() == Probe(True, tags=("phi3.5",))
    assert probe_now() == Probe(True, tags=("phi3.5",))  # slow, answered 5 s ago: busy
    now[0] += BUSY_GRACE_S
    assert not probe_now().up  # slow, and no answer for a minute: down
    assert probe_now().detail == "ConnectError"  # refused: down at once


def test_ollama_that_cannot_list_is_up_but_unverified(server: FakeServer) -> None:
    server.on("GET", "/api/tags", lambda request: json_reply(404, {"error": "no"}))
    assert target_readiness("ollama:phi3.5", Settings({"OLLAMA_HOST": server.url})).ready


def write_model(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "genai_config.json").write_text('{"model": {"type": "phi3"}}')


def test_onnx_models_must_be_downloaded(tmp_path) -> None:
    settings = Settings({"ONNX_MODELS_DIR": str(tmp_path)})
    empty = provider_readiness("onnx", settings)
    assert empty.state == "not_downloaded" and "models download" in empty.fix
    found = target_readiness("onnx:phi-3.5-mini", settings)
    assert found.state == "not_downloaded"
    assert found.fix == "python -m playground models download phi-3.5-mini"
    (tmp_path / ".phi-3.5-mini.partial").mkdir()
    assert "incomplete" in target_readiness("onnx:phi-3.5-mini", settings).message
    unknown = target_readiness("onnx:my-model", settings)
    assert unknown.state == "not_downloaded" and "models list" in unknown.fix
    write_model(tmp_path / "phi-3.5-mini")
    assert target_readiness("onnx:phi-3.5-mini", settings).ready
    assert provider_readiness("onnx", settings).ready
    write_model(tmp_path / "elsewhere" / "mine")
    assert target_readiness(f"onnx:{tmp_path / 'elsewhere' / 'mine'}", settings).ready


def test_openai_compatible_needs_a_base_url_and_a_server(server: FakeServer, silent_url) -> None:
    assert target_readiness("openai:m", Settings({})).state == "needs_key"
    assert "OPENAI_COMPAT_BASE_URL" in provider_readiness("openai", Settings({})).message
    down = target_readiness("openai:m", Settings({"OPENAI_COMPAT_BASE_URL": closed_port_url()}))
    assert down.state == "server_down" and "OPENAI_COMPAT_BASE_URL" in down.fix
    # Any HTTP answer, even an error, means a server is there.
    server.on("GET", "/v1/models", lambda request: json_reply(401, {"error": "key"}))
    answering = Settings({"OPENAI_COMPAT_BASE_URL": f"{server.url}/v1"})
    assert target_readiness("openai:m", answering).ready
    # A slow server may be a far one: not called down.
    assert target_readiness("openai:m", Settings({"OPENAI_COMPAT_BASE_URL": silent_url})).ready


@pytest.mark.parametrize(("spec", "says"), [
    ("nim", "is not PROVIDER:MODEL"), ("acme:model", "Unknown provider 'acme'")])
def test_invalid_targets(spec, says) -> None:
    found = target_readiness(spec, Settings({}))
    assert found.state == "invalid" and says in found.message
    assert provider_readiness("acme", Settings({})).state == "invalid"


def test_target_objects_are_accepted(fakes) -> None:
    found = target_readiness(Target("nim", "microsoft/phi-3.5-mini-instruct"), Settings(fakes))
    assert found.ready and found.target == "nim:microsoft/phi-3.5-mini-instruct"


def test_refusal_message_names_each_target_once() -> None:
    items = [Readiness("nim:a", "needs_key", "needs NVIDIA_API_KEY", "set NVIDIA_API_KEY"),
             Readiness("ollama:b", "ready", "ready"),
             Readiness("onnx:c", "not_downloaded", "c is not downloaded", "python -m x"),
             Readiness("nim:a", "needs_key", "needs NVIDIA_API_KEY", "set NVIDIA_API_KEY")]
    message = refusal_message(items)
    assert message.count("nim:a: needs NVIDIA_API_KEY in the environment or .env") == 1
    assert "onnx:c: c is not downloaded (python -m x)" in message and "ollama:b" not in message
    assert refusal_message([Readiness("x:y", "ready", "ready")]) == ""
