"""PLAYGROUND_PRELOAD_MODELS: models downloaded in the background as the app starts,
through the real ``huggingface_hub`` against the loopback fake Hub."""

from __future__ import annotations

import logging
from pathlib import Path

import huggingface_hub.constants
import pytest
import requests

from fake_services.services import wait_for
from playground.local_models import known_model
from playground.preload import current, requested, start_preload
from playground.ui import layout
from providers.readiness import target_readiness
from providers.settings import Settings
from tests.conftest import REPO
from tests.fake_hub import online_hub
from tests.ui_support import free_port

TINY = Path(REPO) / "tests" / "fixtures" / "models" / "tiny-phi3"
NAMES = ("phi-3-mini-4k", "phi-3.5-mini")
TINY_BYTES = sum(p.stat().st_size for p in TINY.iterdir())
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    """Both int4 models on the fake Hub (the tiny fixture posing as each)."""
    repos = {}
    for name in NAMES:
        model = known_model(name)
        repos[model.repo_id] = {f"{model.subfolder}/{p.name}": p.read_bytes()
                                for p in TINY.iterdir()}
    with online_hub(monkeypatch, repos) as fake:
        yield fake
        fake.gate.set()


def preload_settings(tmp_path: Path, endpoint: str, names: str) -> Settings:
    return Settings({"ONNX_MODELS_DIR": str(tmp_path / "models"), "HF_ENDPOINT": endpoint,
                     "PLAYGROUND_PRELOAD_MODELS": names})


def test_names_are_read_once_each_in_order() -> None:
    settings = Settings({"PLAYGROUND_PRELOAD_MODELS": " phi-3.5-mini, PHI-3-mini-4k phi-3.5-mini,"})
    assert requested(settings) == ["phi-3.5-mini", "phi-3-mini-4k"]
    assert start_preload(Settings({})) is None


def test_models_appear_with_progress(hub, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="playground.preload")
    settings = preload_settings(tmp_path, hub.url, ",".join(NAMES))
    assert target_readiness("onnx:phi-3.5-mini", settings).state == "not_downloaded"
    state = start_preload(settings)
    assert state is not None and current() is state
    assert state.join(120) and state.finished
    for entry, name in zip(state.snapshot(), NAMES):
        assert entry == {"name": name, "title": known_model(name).title, "status": "done",
                         "bytes_done": TINY_BYTES, "bytes_total": TINY_BYTES, "error": None}
        assert (tmp_path / "models" / name / "genai_config.json").is_file()
        assert target_readiness(f"onnx:{name}", settings).ready
        assert f"Preload: {name} 100% (" in caplog.text
        assert f"Preload: {name} is ready (onnx:{name})." in caplog.text
    # Present models are not fetched again.
    before = len(hub.requests)
    again = start_preload(settings)
    assert again is not state and again.join(60)
    assert [e["status"] for e in again.snapshot()] == ["present", "present"]
    assert len(hub.requests) == before


def test_the_app_serves_while_models_download(hub, tmp_path) -> None:
    hub.gate.clear()  # the Hub hangs: every download is in flight
    settings = preload_settings(tmp_path, hub.url, "phi-3.5-mini")
    demo = layout.build_demo(settings)
    state = current()
    try:
        assert state is not None and not state.finished
        assert wait_for(lambda: state.snapshot()[0]["status"] == "downloading")
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and state.snapshot()[0]["status"] == "downloading"
        assert start_preload(settings) is state, "one preload at a time"
    finally:
        hub.gate.set()
        demo.close()
    assert state.join(120) and state.snapshot()[0]["status"] == "done"


def test_bad_names_and_failures_are_logged_and_the_rest_goes_on(hub, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="playground.preload")
    state = start_preload(preload_settings(tmp_path, hub.url, "phi-9, phi-3.5-mini"))
    assert state is not None and state.join(120)
    bad, good = state.snapshot()
    assert bad["status"] == "error" and good["status"] == "done"
    assert bad["error"].startswith("PLAYGROUND_PRELOAD_MODELS: Unknown model 'phi-9'; known: "
                                   "phi-3-mini-4k, phi-3.5-mini")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "Unknown model 'phi-9'" in errors[0].getMessage()


def test_an_unreachable_hub_fails_clearly(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    state = start_preload(preload_settings(tmp_path, "http://127.0.0.1:9", "phi-3-mini-4k"))
    assert state is not None and state.join(120)
    [entry] = state.snapshot()
    assert entry["status"] == "error" and "Cannot download phi-3-mini-4k" in entry["error"]
    assert "Preload of phi-3-mini-4k failed: Cannot download" in caplog.text
    assert not (tmp_path / "models" / "phi-3-mini-4k").exists()
