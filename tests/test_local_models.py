"""Known local models and their download, through the real ``huggingface_hub`` against a
loopback fake Hub (tests/fake_hub.py). Nothing touches the network."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub.constants
import pytest

from playground.cli import main
from playground.local_models import KNOWN_MODELS, DownloadError, download, known_model, local_models
from providers.base import ChatRequest
from providers.catalog import PHI_MODELS
from providers.local.onnx import OnnxGenAIProvider
from providers.settings import Settings
from tests.conftest import REPO
from tests.fake_hub import online_hub
from tests.support import collect, text_of
from tests.test_cli import playground

TINY = Path(REPO) / "tests" / "fixtures" / "models" / "tiny-phi3"
MODEL = known_model("phi-3.5-mini")
BIG_FILE = f"{MODEL.subfolder}/model.onnx.data"


def repo_files() -> dict[str, bytes]:
    """The tiny fixture posing as Phi-3.5-mini's CPU folder, plus files outside it."""
    files = {f"{MODEL.subfolder}/{p.name}": p.read_bytes() for p in TINY.iterdir()}
    files["README.md"] = b"# not part of the download"
    files["gpu/gpu-int4-awq-block-128/genai_config.json"] = b"{}"
    return files


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    with online_hub(monkeypatch, {MODEL.repo_id: repo_files()}) as fake:
        yield fake


@pytest.fixture
def models(tmp_path: Path) -> Settings:
    return Settings({"ONNX_MODELS_DIR": str(tmp_path / "models")})


def test_known_models_are_the_catalogs_onnx_ids() -> None:
    onnx_ids = {m.routes["onnx"] for m in PHI_MODELS if "onnx" in m.routes}
    assert {m.name for m in KNOWN_MODELS} == onnx_ids
    for model in KNOWN_MODELS:
        assert model.repo_id.startswith("microsoft/") and model.repo_id.endswith("-onnx")
        assert model.subfolder.startswith("cpu_and_mobile/cpu-int4-")
        assert 2e9 < model.approx_bytes < 4e9


def test_download_through_huggingface_hub_gives_a_working_model(hub, models) -> None:
    seen: list[tuple[int, int]] = []
    path = download("phi-3.5-mini", models, lambda done, total: seen.append((done, total)),
                    endpoint=hub.url)
    root = Path(models.get("ONNX_MODELS_DIR"))
    assert path == root / "phi-3.5-mini"
    assert sorted(p.name for p in path.iterdir()) == sorted(p.name for p in TINY.iterdir())
    assert [p.name for p in root.iterdir()] == ["phi-3.5-mini"]  # no partial folder left
    total = sum(p.stat().st_size for p in TINY.iterdir())
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    fetched = {p for method, p in hub.requests if method == "GET" and "/resolve/" in p}
    assert not any(p.endswith(("README.md", "gpu-int4-awq-block-128/genai_config.json"))
                   for p in fetched)
    # The downloaded folder is a real model for the onnx provider.
    events = collect("onnx", models, ChatRequest("phi-3.5-mini", "Say hello."))
    assert text_of(events) == "Hello! I am a tiny test model."


def test_a_present_model_is_not_downloaded_again(hub, models) -> None:
    download("phi-3.5-mini", models, endpoint=hub.url)
    before = len(hub.requests)
    download("phi-3.5-mini", models, endpoint=hub.url)
    assert len(hub.requests) == before


def test_a_broken_download_leaves_nothing_that_looks_like_a_model(hub, models) -> None:
    hub.cut_short.add(BIG_FILE)
    with pytest.raises(DownloadError, match="Run the download again|resumes") as caught:
        download("phi-3.5-mini", models, endpoint=hub.url)
    root = Path(models.get("ONNX_MODELS_DIR"))
    assert not (root / "phi-3.5-mini").exists()
    assert OnnxGenAIProvider(models).available() == []
    assert str(root / ".phi-3.5-mini.partial") in caught.value.args[0]
    row = next(r for r in local_models(models) if r["name"] == "phi-3.5-mini")
    assert (row["present"], row["partial"]) == (False, True)
    hub.cut_short.clear()  # the network is back: the same command completes it
    path = download("phi-3.5-mini", models, endpoint=hub.url)
    assert (path / "model.onnx.data").read_bytes() == (TINY / "model.onnx.data").read_bytes()
    assert [p.name for p in root.iterdir()] == ["phi-3.5-mini"]


def test_without_network_it_fails_clearly_and_writes_nothing(models, monkeypatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(DownloadError) as caught:
        download("phi-3.5-mini", models, endpoint="https://huggingface.co")
    message = caught.value.args[0]
    assert "Cannot download phi-3.5-mini from https://huggingface.co" in message
    assert "need internet access" in message and "Nothing was written." in message
    assert not Path(models.get("ONNX_MODELS_DIR")).exists()


def test_offline_mode_says_so(models, monkeypatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE is set"):
        download("phi-3.5-mini", models)


def test_an_unknown_name_or_a_foreign_folder_is_refused(models, tmp_path) -> None:
    with pytest.raises(DownloadError, match="Unknown model 'phi-9'; known: phi-3-mini-4k"):
        download("phi-9", models)
    (tmp_path / "models" / "phi-3.5-mini").mkdir(parents=True)
    with pytest.raises(DownloadError, match="exists but is not a complete model"):
        download("phi-3.5-mini", models)


def test_models_list_shows_known_and_present_models(models, capsys, tmp_path) -> None:
    import shutil

    shutil.copytree(TINY, tmp_path / "models" / "tiny-phi3")
    shutil.copytree(TINY, tmp_path / "models" / "phi-3-mini-4k")
    rows = {r["name"]: r for r in local_models(models)}
    assert rows["phi-3-mini-4k"]["present"] and not rows["phi-3.5-mini"]["present"]
    assert rows["tiny-phi3"]["known"] is False and rows["tiny-phi3"]["present"]
    assert rows["phi-3.5-vision"]["vision"] and rows["phi-3.5-vision"]["repo_id"] == (
        "microsoft/Phi-3.5-vision-instruct-onnx")


def test_cli_list_and_download(hub, tmp_path) -> None:
    env = {"ONNX_MODELS_DIR": str(tmp_path / "models"), "HF_ENDPOINT": hub.url,
           "HF_HUB_OFFLINE": "0"}
    done = playground("models", "download", "phi-3.5-mini", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "phi-3.5-mini is ready in" in done.stdout and "onnx:phi-3.5-mini" in done.stdout
    listed = playground("models", "list", "--format", "json", env=env, cwd=tmp_path)
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["phi-3.5-mini"]["present"] and not rows["phi-3-mini-4k"]["present"]
    table = playground("models", "list", env=env, cwd=tmp_path).stdout
    assert "phi-3.5-mini" in table and "present" in table and "models download NAME" in table


def test_cli_download_without_network(tmp_path) -> None:
    env = {"ONNX_MODELS_DIR": str(tmp_path / "models"), "HF_HUB_OFFLINE": "0",
           "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing listens on the discard port
    done = playground("models", "download", "phi-3-mini-4k", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "Download failed: Cannot download phi-3-mini-4k" in done.stderr
    assert not (tmp_path / "models").exists()
    assert main(["models", "download", "nope"]) == 2
