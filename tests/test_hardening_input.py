"""Issue 12, findings 1, 4, 7 and 9 below the HTTP layer: the engine's own bounds (no
NaN timeout reaches asyncio, an overall deadline per target, the answer cap before a
chunk is kept), sizes and ranges in the request, and public mode's local paths and
Ollama rule (test_hardening_api.py covers finding 1 through Gradio's HTTP API)."""

from __future__ import annotations

import asyncio
import html

import gradio as gr
import pytest

import providers
from playground.engine import Comparison, ProviderPool
from playground.engine_limits import configured_max_target_s, max_answer_chars
from playground.policy import Policy
from playground.ui.picker import listed_models
from playground.validate import InputError, check_request, plan
from providers.base import ChatRequest
from providers.settings import Settings
from tests.test_cli import playground
from tests.ui_support import form, handlers, run_compare

NIM = "nim:microsoft/phi-3.5-mini-instruct"
NAN, INF = float("nan"), float("inf")


def run_engine(settings: Settings, targets: list[str], request: ChatRequest, **kw):
    async def go():
        pool = ProviderPool(settings)
        comparison = Comparison(request, [providers.parse_target(t) for t in targets], pool,
                                **kw)
        try:
            return await comparison.run()
        finally:
            await pool.aclose()
    return asyncio.run(go())


# --- finding 1: the engine itself, the UI handler, YAML -----------------------------

@pytest.mark.parametrize("bad", [NAN, INF, -INF, 0, -1, True])
def test_the_engine_never_hands_asyncio_a_bad_timeout(settings, bad) -> None:
    target = [providers.parse_target(NIM)]
    with pytest.raises(ValueError, match="finite number of seconds above 0"):
        Comparison(ChatRequest("", "hi"), target, ProviderPool(settings), timeout_s=bad)
    with pytest.raises(ValueError, match="max_target_s"):
        Comparison(ChatRequest("", "hi"), target, ProviderPool(settings), max_target_s=bad)


@pytest.mark.parametrize(("raw", "seconds"), [("", 300.0), ("45", 45.0), ("nan", 300.0),
                                              ("inf", 300.0), ("-5", 300.0), ("soon", 300.0)])
def test_max_target_setting(raw, seconds) -> None:
    assert configured_max_target_s({"PLAYGROUND_MAX_TARGET_S": raw}) == seconds


def test_a_trickling_target_hits_the_overall_deadline_and_keeps_its_text(
        settings, behaviours) -> None:
    # Each piece comes well inside the idle timeout; the whole answer takes ~20 s.
    behaviours.set("slow/trickle", pieces=["drip "] * 400, first_s=0.01, interval_s=0.05)
    behaviours.default.pieces = ["Quick."]
    slow, quick = run_engine(settings, ["nim:slow/trickle", NIM], ChatRequest("", "hi"),
                             timeout_s=10, max_target_s=1.0)
    assert slow.status == "error" and slow.error_kind == "timeout"
    assert "did not finish within 1 s (PLAYGROUND_MAX_TARGET_S" in slow.error
    assert slow.partial and slow.text.startswith("drip ") and "partial" in slow.error
    assert quick.status == "ok" and quick.text == "Quick."


@pytest.mark.parametrize(("field", "value", "says"), [
    ("timeout_s", NAN, "idle timeout must be more than 0 and at most 600 seconds, not nan"),
    ("timeout_s", INF, "not inf"),
    ("max_tokens", NAN, "Max tokens must be a whole number from 1 to 32,768, not nan"),
    ("max_tokens", 10**9, "not 1,000,000,000"),
    ("seed", INF, "Seed must be a whole number from 0 to 4,294,967,295, not inf"),
    ("temperature", NAN, "Temperature must be at least 0 and at most 2, not nan"),
    ("top_p", -INF, "top_p must be more than 0 and at most 1, not -inf"),
])
def test_ui_handler_refuses_non_finite_and_out_of_range(settings, server, field, value,
                                                        says) -> None:
    with pytest.raises(gr.Error) as caught:
        run_compare(handlers(settings), form([NIM], **{field: value}))
    assert says in html.unescape(caught.value.message)
    assert caught.value.title == "Nothing was sent" and server.requests == []


def test_scenario_repeats_from_the_page_are_checked() -> None:
    from playground.ui.scenarios_tab import ScenarioTab
    from playground.ui.session import Sessions
    tab = ScenarioTab(Sessions(Settings({}), Policy()))
    for bad in (NAN, INF, 2.5, -3, 10**6):
        with pytest.raises(InputError, match="Repeats must be a whole number from 1 to 50"):
            tab.repeats_for(bad)
    assert tab.repeats_for(3) == 3 and tab.repeats_for(0) is None


# --- finding 7: sizes -----------------------------------------------------------------

def test_the_answer_cap_is_bounded_whatever_max_tokens_says() -> None:
    assert max_answer_chars(None) == 400_000 and max_answer_chars(10) == 4_000
    assert max_answer_chars(1_000) == 32_000 and max_answer_chars(10**9) == 400_000


def test_one_huge_chunk_is_cut_at_the_cap_before_it_is_kept(settings, behaviours) -> None:
    behaviours.default.pieces = ["ok ", "x" * 2_000_000, "never read"]
    (result,) = run_engine(settings, [NIM], ChatRequest("", "hi", max_tokens=10))
    assert len(result.text) == 4_000 and result.text.startswith("ok x")
    assert result.status == "error" and "kept sending past 4,000 characters" in result.error


def test_system_prompt_counts_toward_the_prompt_limit() -> None:
    together = ChatRequest("", "p" * 60_000, system="s" * 50_000)
    assert check_request(together) == ["The prompt and the system prompt have 110,000 "
                                       "characters together; the limit is 100,000."]
    assert check_request(ChatRequest("", "p" * 60_000, system="s" * 40_000)) == []
    assert "5,000,000 characters together" in check_request(
        ChatRequest("", "hi", system="s" * 4_999_998))[0]


def test_cli_refuses_huge_numbers_before_sending(fakes, server, tmp_path) -> None:
    done = playground("compare", "--prompt", "hi", "--target", NIM, "--max-tokens", "1e20",
                      "--seed", "1e23", "--timeout", "nan", env=fakes, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Max tokens must be a whole number from 1 to 32,768, not 1e+20" in done.stderr
    assert "Seed must be a whole number from 0 to 4,294,967,295, not 1e+23" in done.stderr
    assert "--timeout must be more than 0" in done.stderr and server.requests == []


# --- finding 4: local paths -----------------------------------------------------------

@pytest.fixture
def models(tmp_path):
    folder = tmp_path / "models"
    (folder / "phi-tiny").mkdir(parents=True)
    (folder / "phi-tiny" / "genai_config.json").write_text('{"model": {"type": "phi3"}}')
    return folder


PROBES = ["/root/.ssh", "/proc/self/cwd", "/nonexistent", "/proc/1/root/etc", "a" * 5_000,
          "../models/phi-tiny", "~", "phi-tiny/../phi-tiny", "phi-tiny\\x", "uploads/phi-tiny"]


def test_public_mode_refuses_every_local_path_with_one_message(fakes, server, models) -> None:
    public = Settings({**fakes, "ONNX_MODELS_DIR": str(models), "PLAYGROUND_PUBLIC": "1"})
    messages = set()
    for probe in PROBES + [str(models / "phi-tiny")]:
        with pytest.raises(InputError) as caught:
            plan([f"onnx:{probe}"], ChatRequest("", "hi"), public)
        (problem,) = caught.value.problems  # the target as typed, then the one refusal
        messages.add(problem.removeprefix(f"onnx:{probe}: "))
    assert messages == {"This public server runs ONNX Runtime GenAI models by name only (a "
                        "folder in its ONNX_MODELS_DIR), never a path: pick one from the "
                        "model list."}
    assert [str(t) for t in plan(["onnx:phi-tiny"], ChatRequest("", "hi"), public)] == \
        ["onnx:phi-tiny"]
    from providers.readiness import REFUSED, target_readiness
    assert {target_readiness(f"onnx:{p}", public).state for p in PROBES} == {REFUSED}
    assert server.requests == []


def test_public_transformers_takes_hub_ids_in_the_cache_only(tmp_path, monkeypatch) -> None:
    import huggingface_hub.constants
    cache = tmp_path / "hub"
    snapshot = cache / "models--owner--cached" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (cache / "models--owner--cached" / "refs").mkdir()
    (cache / "models--owner--cached" / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    # A folder with a Hub id's shape beside the server: never loaded as a path.
    (tmp_path / "owner" / "local").mkdir(parents=True)
    (tmp_path / "owner" / "local" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    public = providers.create("transformers", Settings({"PLAYGROUND_PUBLIC": "1"}))
    assert public.public_refusal("owner/cached") is None
    refusals = {public.public_refusal(p) for p in PROBES + ["owner/local", "a/b/c", "../x/y",
                                                           "owner/missing"]}
    assert refusals == {"This public server runs Hugging Face Transformers models by name "
                        "only (a Hub id in the server's Hugging Face cache), never a path: "
                        "pick one from the model list."}
    if public.missing_packages():  # the loader needs the optional extra installed
        pytest.skip("torch and transformers are not installed")
    key, load = public.loader("owner/cached")
    assert key == "owner/cached" and load.args[0] == str(snapshot.resolve())
    # Outside public mode a folder is still a model folder.
    private = providers.create("transformers", Settings({}))
    assert private.loader("owner/local")[0] == str((tmp_path / "owner" / "local").resolve())


def test_public_web_ui_refuses_local_paths_and_sends_nothing(fakes, server, models) -> None:
    settings = Settings({**fakes, "ONNX_MODELS_DIR": str(models)})
    for probe in ("/root/.ssh", "/nonexistent", "a" * 5_000):
        with pytest.raises(gr.Error) as caught:
            run_compare(handlers(settings, Policy(public=True)), form([f"onnx:{probe}", NIM]))
        shown = html.unescape(caught.value.message).replace(f"onnx:{probe}: ", "")
        assert "by name only (a folder in its ONNX_MODELS_DIR), never a path" in shown
        assert probe not in shown and "exist" not in shown and "denied" not in shown
    assert server.requests == []


@pytest.mark.parametrize("probe", ["/proc/1/root/x", "a" * 5_000])
def test_unreadable_paths_fail_their_target_only(fakes, behaviours, probe) -> None:
    # The engine on its own (the planner refuses such a target first, see below): a
    # path that cannot be read is that target's error, the other target still answers.
    behaviours.default.pieces = ["Fine."]
    local, remote = run_engine(Settings(fakes), [f"onnx:{probe}", NIM], ChatRequest("", "hi"))
    assert local.status == "error" and local.error_kind in ("not_found", "unavailable")
    assert remote.status == "ok" and remote.text == "Fine."


@pytest.mark.parametrize("probe", ["/proc/1/root/x", "a" * 5_000])
def test_unreadable_paths_are_refused_cleanly(fakes, server, tmp_path, probe) -> None:
    with pytest.raises(gr.Error) as caught:
        run_compare(handlers(Settings(fakes)), form([f"onnx:{probe}", NIM]))
    assert f"onnx:{probe[:50]}" in caught.value.message
    done = playground("compare", "--prompt", "hi", "--target", f"onnx:{probe}",
                      "--target", NIM, env=fakes, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("Nothing was sent") and server.requests == []


# --- finding 9: Ollama on a public server ----------------------------------------------

def test_public_ollama_needs_the_owner_to_set_ollama_host(fakes, server, monkeypatch) -> None:
    from providers import readiness

    def no_probe(*args, **kwargs):
        raise AssertionError("a public server without OLLAMA_HOST must not probe Ollama")
    unset = {k: v for k, v in fakes.items() if k != "OLLAMA_HOST"}
    public = Settings({**unset, "PLAYGROUND_PUBLIC": "1"})
    with monkeypatch.context() as patched:
        patched.setattr(readiness, "_ollama", no_probe)
        found = readiness.target_readiness("ollama:phi3.5", public)
        assert found.state == readiness.REFUSED and "not offered" in found.message
        assert readiness.provider_readiness("ollama", public).state == readiness.NEEDS_KEY
        with pytest.raises(InputError, match="Ollama is not offered on this public server"):
            plan(["ollama:phi3.5"], ChatRequest("", "hi"), public)
        entries, note = asyncio.run(listed_models("ollama", public))
        assert entries == [] and "OLLAMA_HOST is not set" in note
        (result,) = run_engine(public, ["ollama:phi3.5"], ChatRequest("", "hi"))
        assert result.status == "error" and "not offered" in result.error
    assert server.requests == []  # (and nothing listens on 11434 in the tests)
    # Set by the owner: allowed (and probed), even in public mode.
    assert plan(["ollama:phi3.5"], ChatRequest("", "hi"), Settings({**fakes,
                                                                    "PLAYGROUND_PUBLIC": "1"}))


def test_public_web_ui_refuses_ollama_without_host(fakes, server) -> None:
    unset = Settings({k: v for k, v in fakes.items() if k != "OLLAMA_HOST"})
    with pytest.raises(gr.Error, match="Ollama is not offered"):
        run_compare(handlers(unset, Policy(public=True)), form(["ollama:phi3.5", NIM]))
    assert server.requests == []
