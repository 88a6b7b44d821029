"""Readiness in the web page before anything is sent: preset and target labels, the page
opening on a runnable preset, Compare refusing targets that cannot run (one message,
nothing sent), and the keyless panel (the fake Hub stands in for Hugging Face)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from playground.policy import Policy
from playground.ui import keyless, readiness_view
from playground.ui.keyless import KeylessPanel
from playground.ui.page import PageHandlers
from playground.ui.session import Sessions
from providers.settings import Settings
from tests.browser.test_first_contact_browser import hub_repos
from tests.conftest import REPO
from tests.fake_hub import online_hub
from tests.ui_support import form, free_port, handlers, run_compare

TINY = Path(REPO) / "tests" / "fixtures" / "models" / "tiny-phi3"
NIM = "nim:microsoft/phi-3.5-mini-instruct"


def keyless_settings(models: Path, **extra: str) -> Settings:
    """No key; Ollama's address is a closed port; an own models folder."""
    return Settings({"ONNX_MODELS_DIR": str(models),
                     "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}", **extra})


def place_pair(models: Path) -> None:
    for name in keyless.PAIR:
        shutil.copytree(TINY, models / name)


def test_presets_say_what_they_need_and_runnable_ones_come_first(tmp_path) -> None:
    settings = keyless_settings(tmp_path)
    labels = [label for label, _ in readiness_view.preset_choices(settings)]
    assert all("✗" in label for label in labels)
    onnx = next(label for label in labels if "ONNX local" in label and "Chinese" in label)
    assert onnx.endswith("— ✗ not downloaded")
    assert any(label.endswith("— ✗ needs NVIDIA_API_KEY") for label in labels)
    assert any(label.endswith("✗ server not running") for label in labels)  # Ollama
    assert readiness_view.first_runnable_preset(settings) is None
    place_pair(tmp_path)
    first_label, first_name = readiness_view.preset_choices(settings)[0]
    assert first_label.endswith("— ✓ ready") and "ONNX local" in first_name
    assert readiness_view.first_runnable_preset(settings).name == first_name


def test_the_page_opens_on_a_runnable_preset(tmp_path) -> None:
    settings = keyless_settings(tmp_path)
    page = PageHandlers(Sessions(settings, Policy()))
    request = SimpleNamespace(query_params={}, headers={})
    preset, targets, *_ = page.on_load(request)
    assert preset["value"] is None and targets["value"] == []  # nothing can run
    place_pair(tmp_path)
    preset, targets, prompt, system, _, link = page.on_load(request)
    assert "ONNX local" in preset["value"]
    assert targets["value"] == ["onnx:phi-3-mini-4k", "onnx:phi-3.5-mini"]
    assert prompt == "你知道长沙吗？" and "中文" in system
    assert "targets=onnx:phi-3-mini-4k,onnx:phi-3.5-mini" in link
    # A saved comparison's link: no unrelated lesson under it (Continue fills the form).
    viewing = SimpleNamespace(query_params={"comparison": "A" * 22}, headers={})
    preset, targets, prompt, system, _, link = page.on_load(viewing)
    assert preset["value"] is None and len(preset["choices"]) > 1
    assert targets["value"] == [] and prompt == system == gr.skip()
    assert "onnx" not in link  # the share field names no lesson either


def test_targets_list_labels_and_present_local_models(tmp_path) -> None:
    settings = keyless_settings(tmp_path)
    shutil.copytree(TINY, tmp_path / "my-own-phi")
    labels = dict((v, k) for k, v in readiness_view.target_choices(["ollama:mine"], settings))
    assert labels["onnx:my-own-phi"] == "onnx:my-own-phi · ✓ ready"  # a present folder
    assert labels["onnx:phi-3.5-mini"] == "onnx:phi-3.5-mini · ✗ not downloaded"
    assert labels[NIM] == f"{NIM} · ✗ needs NVIDIA_API_KEY"
    assert labels["ollama:mine"] == "ollama:mine · ✗ server not running"  # typed by hand
    assert not any(t.startswith("github:") for t in labels)
    note = readiness_view.selected_markdown([NIM, "onnx:phi-3.5-mini"], settings)
    assert "needs NVIDIA_API_KEY in the environment or .env, or in the Settings tab" in note
    assert "python -m playground models download phi-3.5-mini" in note
    assert readiness_view.selected_markdown(["onnx:my-own-phi"], settings) == \
        "✓ This target can run now."


def test_github_is_never_suggested(tmp_path) -> None:
    settings = keyless_settings(tmp_path, GITHUB_TOKEN="ghp_a-token-that-changes-nothing")
    options = dict((v, k) for k, v in readiness_view.provider_options(settings))
    assert options["github"].endswith("✗ retired 2026-07-30")
    note = readiness_view.provider_note("github", settings)
    assert "2026-07-30" in note and "nim:" in note and "token" not in note.lower()


def test_compare_refuses_targets_that_cannot_run_with_one_message(tmp_path) -> None:
    settings = keyless_settings(tmp_path)
    two_on_nim = [NIM, "nim:microsoft/phi-3-mini-4k-instruct", "onnx:phi-3.5-mini"]
    with pytest.raises(gr.Error) as caught:
        run_compare(handlers(settings), form(two_on_nim, "Hello?"))
    message = caught.value.message
    assert caught.value.title == "Nothing was sent"
    assert message.count("cannot run yet") == 1
    assert "needs NVIDIA_API_KEY" in message
    assert "python -m playground models download phi-3.5-mini" in message
    lines = message.split("<br>")
    assert len(lines) == len(set(lines))
    with pytest.raises(gr.Error) as both:  # the request's own problems come along
        run_compare(handlers(settings), form([NIM], "  "))
    assert "The prompt is empty" in both.value.message and "NVIDIA_API_KEY" in both.value.message


def test_keyless_panel_shows_once_without_keys(tmp_path, fakes) -> None:
    panel = KeylessPanel(Sessions(keyless_settings(tmp_path), Policy()))
    box, models, servers = panel.view({})
    assert box["visible"] is True
    assert "`onnx:phi-3-mini-4k` ✗ not downloaded (2.72 GB)" in models
    assert "Ollama" in servers and "server not running" in servers
    assert "OPENAI_COMPAT_BASE_URL" in servers
    box, *_ = panel.view({"NVIDIA_API_KEY": "nvapi-typed-for-this-tab"})
    assert box["visible"] is False  # a session key hides it
    with_keys = KeylessPanel(Sessions(Settings(fakes), Policy()))
    assert with_keys.view({})[0]["visible"] is False


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch):
    with online_hub(monkeypatch, hub_repos()) as fake:
        yield fake


def test_keyless_download_then_use_them(tmp_path, hub) -> None:
    panel = KeylessPanel(Sessions(keyless_settings(tmp_path, HF_ENDPOINT=hub.url), Policy()))
    status, *others = panel.use_pair({})
    assert status.startswith("✗ Download the two models first") and all(o == gr.skip() for o in others)
    seen: list[str] = []
    status = panel.download_pair(progress=lambda value, desc=None, unit="": seen.append(desc))
    assert status.startswith("✓ Both models are on this computer")
    for name in keyless.PAIR:
        assert (tmp_path / name / "genai_config.json").is_file()
    status, preset, targets, prompt, _ = panel.use_pair({})
    assert targets["value"] == ["onnx:phi-3-mini-4k", "onnx:phi-3.5-mini"]
    assert "ONNX local" in preset["value"] and prompt == "你知道长沙吗？"


def test_keyless_download_failure_and_public_server_are_messages(tmp_path, hub) -> None:
    broken = keyless_settings(tmp_path, HF_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    panel = KeylessPanel(Sessions(broken, Policy()))
    status = panel.download_pair(progress=lambda *a, **k: None)
    assert "phi-3-mini-4k was not downloaded" in status
    public = KeylessPanel(Sessions(keyless_settings(tmp_path), Policy(public=True)))
    assert "turned off" in public.download_pair()
    assert list(tmp_path.iterdir()) == []
