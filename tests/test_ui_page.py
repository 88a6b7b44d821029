"""Setup handlers: share links, presets, the target picker and per-session keys."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import gradio as gr
import pytest

from fake_services.services import KEYS
from playground.policy import Policy
from playground.ui import picker, readiness_view
from playground.ui.handlers import RunHandlers
from playground.ui.page import PageHandlers
from playground.ui.presets import ROUTES, presets
from playground.ui.session import Sessions
from playground.ui.share import page_url, read_share, share_link
from providers.settings import Settings
from tests.conftest import REPO
from tests.ui_support import final_results, form, run_compare

NIM = "nim:microsoft/phi-3.5-mini-instruct"


def page(settings: Settings, policy: Policy | None = None) -> PageHandlers:
    return PageHandlers(Sessions(settings, policy or Policy()))


def test_share_link_round_trip() -> None:
    link = share_link("http://host:7860/", [NIM, "ollama:phi3:medium"], "你知道长沙吗？ & more",
                      "Answer in Chinese.")
    assert link.startswith("http://host:7860/?targets=nim:microsoft/phi-3.5-mini-instruct,"
                           "ollama:phi3:medium&prompt=")
    from urllib.parse import parse_qsl, urlsplit
    shared = read_share(dict(parse_qsl(urlsplit(link).query)))
    assert shared.targets == [NIM, "ollama:phi3:medium"]
    assert shared.prompt == "你知道长沙吗？ & more" and shared.system == "Answer in Chinese."


def test_share_link_limits_and_page_url() -> None:
    shared = read_share({"targets": ",".join(f"ollama:m{i}" for i in range(9)) + ",ollama:m0",
                         "prompt": "x" * 200_000, "api_key": "sk-should-be-ignored"})
    assert len(shared.targets) == 6 and len(shared.prompt) == 100_000
    assert page_url("https://x.hf.space/?targets=a:b") == "https://x.hf.space/"
    assert page_url(None) == "/" and page_url("not a url") == "/"


def test_load_fills_the_form_from_the_link(settings) -> None:
    request = SimpleNamespace(query_params={"targets": f"{NIM},ollama:phi3.5", "prompt": "Hi"},
                              headers={"referer": "http://127.0.0.1:7860/?targets=x"})
    preset, targets, prompt, system, base, link = page(settings).on_load(request)
    assert preset["value"] is None  # a shared setup is not replaced by a preset
    assert targets["value"] == [NIM, "ollama:phi3.5"]
    labels = dict((v, k) for k, v in targets["choices"])
    assert labels[NIM] == f"{NIM} · ✓ ready"
    assert (prompt, base) == ("Hi", "http://127.0.0.1:7860/")
    assert system == {"__type__": "update"}  # not in the link: left as it is
    assert link == f"http://127.0.0.1:7860/?targets={NIM},ollama:phi3.5&prompt=Hi"


def test_presets_cover_the_lesson_and_never_need_github() -> None:
    found = presets()
    assert {p.route for p in found} == set(ROUTES) and "github" not in ROUTES
    assert all(not t.startswith("github:") for p in found for t in p.targets)
    names = " / ".join(p.name for p in found)
    for pair in ("Phi-3-mini vs Phi-3.5-mini", "Phi-3-vision vs Phi-3.5-vision",
                 "Phi-3.5-MoE vs Phi-3.5-mini"):
        assert pair in names
    onnx = next(p for p in found if p.route == "onnx" and "mini" in p.name)
    assert onnx.targets == ("onnx:phi-3-mini-4k", "onnx:phi-3.5-mini")
    assert all(not t.startswith("github:") for t in
               readiness_view.known_targets(Settings({})))


def test_apply_preset(settings) -> None:
    name = next(p.name for p in presets() if p.route == "nim" and "Chinese" in p.name)
    targets, prompt, system = page(settings).apply_preset(name)
    assert targets["value"] == ["nim:microsoft/phi-3-mini-4k-instruct", NIM]
    assert prompt == "你知道长沙吗？" and "中文" in system


def test_provider_options_say_why_not(fakes) -> None:
    settings = Settings.load(dotenv_path=None, environ={})
    labels = dict((v, k) for k, v in picker.provider_options(settings))
    assert labels["nim"] == "NVIDIA NIM (nim) — ✗ needs NVIDIA_API_KEY"
    assert labels["github"].endswith("✗ retired 2026-07-30")
    assert list(labels)[-1] == "github"  # the retired route last
    ready = dict((v, k) for k, v in picker.provider_options(Settings(fakes)))
    assert ready["ollama"].endswith("✓ ready") and ready["nim"].endswith("✓ ready")
    table = picker.providers_markdown(Settings.load(dotenv_path=None, environ=fakes))
    assert "`NVIDIA_API_KEY` ✓" in table and KEYS["NVIDIA_API_KEY"] not in table


def test_models_merge_the_service_list_with_the_catalog(settings, monkeypatch) -> None:
    handlers_ = page(settings)
    model, note = asyncio.run(handlers_.pick_provider("ollama", {}))
    labels = dict((v, k) for k, v in model["choices"])
    assert "available" in labels["phi3.5"] and "available" not in labels["phi3:medium"]
    assert "phi3.5:latest" not in labels and note.startswith("✓ ready: Ollama answers")
    nim, _ = asyncio.run(handlers_.pick_provider("nim", {}))
    assert "available" in dict((v, k) for k, v in nim["choices"])[
        "microsoft/phi-3.5-vision-instruct"]
    _, azure_note = asyncio.run(handlers_.pick_provider("azure", {}))
    assert "Could not list Azure AI Foundry's models" in azure_note
    assert KEYS["AZURE_AI_API_KEY"] not in azure_note


def test_onnx_folders_are_listed(settings) -> None:
    local = settings.with_overrides({"ONNX_MODELS_DIR": f"{REPO}/tests/fixtures/models"})
    options, _ = asyncio.run(picker.model_options("onnx", local))
    labels = dict((v, k) for k, v in options)
    assert "present locally" in labels["tiny-phi3"] and "phi-3.5-mini" in labels


def test_unconfigured_provider_falls_back_to_the_catalog() -> None:
    options, note = asyncio.run(picker.model_options("nim", Settings.load(None, environ={})))
    assert "not configured (needs NVIDIA_API_KEY in the environment or .env)" in note
    assert "microsoft/phi-3.5-mini-instruct" in [v for _, v in options]


def test_add_target(settings) -> None:
    handlers_ = page(settings)
    update = handlers_.add_target([NIM], "ollama", "phi3.5")
    assert update["value"] == [NIM, "ollama:phi3.5"]
    assert handlers_.add_target([NIM], "nim", "microsoft/phi-3.5-mini-instruct") == \
        {"__type__": "update"}
    full = [f"ollama:m{i}" for i in range(6)]
    with pytest.warns(UserWarning, match="At most 6 targets"):
        assert handlers_.add_target(full, "ollama", "phi3.5") == {"__type__": "update"}


def test_session_keys_override_the_server_for_that_session_only(fakes) -> None:
    server = Settings.load(dotenv_path=None, environ={k: v for k, v in fakes.items()
                                                        if k != "NVIDIA_API_KEY"})
    sessions = Sessions(server, Policy())
    setup = PageHandlers(sessions)
    values = ["" for _ in setup.fields]
    values[[f.name for f in setup.fields].index("NVIDIA_API_KEY")] = KEYS["NVIDIA_API_KEY"]
    keys, *rest = setup.save_keys({}, *values)
    boxes, (status, provider_choices, table) = rest[:len(values)], rest[len(values):]
    assert keys == {"NVIDIA_API_KEY": KEYS["NVIDIA_API_KEY"]}
    assert boxes == [""] * len(values)  # the fields are cleared: no key stays in the page
    assert "NVIDIA_API_KEY" in status and KEYS["NVIDIA_API_KEY"] not in status + table
    assert "nim" in str(provider_choices["choices"])
    runs = RunHandlers(sessions)
    with pytest.raises(gr.Error, match="NVIDIA_API_KEY"):
        run_compare(runs, form([NIM]))  # another session: the server has no key
    frames, _ = run_compare(runs, form([NIM], keys=keys))
    assert final_results(frames)[0].status == "ok"
    assert setup.clear_keys()[0] == {}


def test_public_server_refuses_endpoints_from_the_browser(settings) -> None:
    setup = page(settings, Policy(public=True))
    assert all(f.secret for f in setup.fields)
    private = page(settings)
    assert "AZURE_AI_ENDPOINT" in [f.name for f in private.fields]
    with pytest.raises(gr.Error, match="public server"):
        setup.save_keys({"NIM_BASE_URL": "http://169.254.169.254/"},
                        *["" for _ in setup.fields])
