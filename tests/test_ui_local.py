"""The Local models tab: the table of known models and a download with progress, through
the real huggingface_hub against the loopback fake Hub."""

from __future__ import annotations

import time
from pathlib import Path

import huggingface_hub.constants
import pytest

from playground import local_models
from playground.policy import Policy
from playground.ui.local_panel import LocalPanel
from playground.ui.session import Sessions
from providers.settings import Settings
from tests.fake_hub import online_hub
from tests.test_local_models import MODEL, repo_files


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    with online_hub(monkeypatch, {MODEL.repo_id: repo_files()}) as fake:
        yield fake


def make_panel(folder: Path, **settings: str) -> LocalPanel:
    values = {"ONNX_MODELS_DIR": str(folder), **settings}
    return LocalPanel(Sessions(Settings(values), Policy()))


@pytest.fixture
def panel(tmp_path: Path) -> LocalPanel:
    return make_panel(tmp_path / "models")


def test_table_lists_known_models_and_local_folders(panel, tmp_path) -> None:
    folder = tmp_path / "models" / "my-phi"
    folder.mkdir(parents=True)
    (folder / "genai_config.json").write_text('{"model": {"type": "phi3"}}')
    table = panel.table()
    rows = {row["name"]: row for row in table.to_dict("records")}
    assert {"phi-3-mini-4k", "phi-3.5-mini", "phi-3.5-vision", "my-phi"} <= set(rows)
    assert rows["phi-3.5-mini"]["present"] == "no" and rows["my-phi"]["present"] == "yes"
    assert rows["phi-3.5-vision"]["vision"] == "yes"
    assert MODEL.repo_id in rows["phi-3.5-mini"]["source"]
    assert "phi-3.5-mini" in panel.downloadable() and "my-phi" not in panel.downloadable()


def test_download_reports_progress_and_the_model_appears(hub, tmp_path) -> None:
    panel = make_panel(tmp_path / "models", HF_ENDPOINT=hub.url)
    seen: list[tuple] = []

    def progress(value, desc=None, unit="steps"):
        seen.append(value)
    status = panel.download("phi-3.5-mini", progress=progress)
    assert "Downloaded **phi-3.5-mini**" in status and "onnx:phi-3.5-mini" in status
    table, choice = panel.refresh()  # the page re-reads the table after the download
    row = table.set_index("name").loc["phi-3.5-mini"]
    assert row["present"] == "yes"
    assert "phi-3.5-mini" not in choice["choices"]
    assert all(done <= total for done, total in seen)


def test_progress_is_relayed_from_the_download_thread(panel, monkeypatch) -> None:
    def slow_download(name, settings, progress, endpoint=None):
        for done in (1, 2, 4):
            progress(done * 2**20, 4 * 2**20)
            time.sleep(0.35)  # longer than the panel's 0.25 s poll
        return Path(settings.get("ONNX_MODELS_DIR")) / name
    monkeypatch.setattr(local_models, "download", slow_download)
    seen: list[tuple] = []
    panel.download("phi-3-mini-4k", progress=lambda value, **kw: seen.append((value, kw)))
    values = [value for value, _ in seen]
    assert values[0] == (2**20, 4 * 2**20) and values[-1] == (4 * 2**20, 4 * 2**20)
    assert values == sorted(values) and seen[0][1]["unit"] == "bytes"
    assert seen[0][1]["desc"] == "Downloading phi-3-mini-4k"


@pytest.mark.parametrize("offline, message", [
    (True, "HF_HUB_OFFLINE is set"), (False, "Downloads need internet access")])
def test_download_failure_is_a_clear_message(panel, monkeypatch, offline, message) -> None:
    # The module's own message reaches the page (no network in tests), in the status line
    # and a warning toast: no raised error, whose overlay would cover the table.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)
    status = panel.download("phi-3.5-mini", progress=lambda *a, **k: None)
    assert status.startswith("✗ **phi-3.5-mini was not downloaded.**") and message in status
    assert "Pick a model" in panel.download(None)


def test_a_public_server_downloads_nothing(tmp_path) -> None:
    public = LocalPanel(Sessions(Settings({"ONNX_MODELS_DIR": str(tmp_path)}),
                                 Policy(public=True)))
    assert "turned off" in public.download("phi-3.5-mini")
    assert list(tmp_path.iterdir()) == []
