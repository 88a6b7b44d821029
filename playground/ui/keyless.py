"""The keyless path on the Compare tab: when no API key is set, say so once and offer
what runs without one: two Phi models downloaded to this computer (ONNX int4, with a
progress bar; an interrupted download resumes), or a model server the visitor runs
(Ollama, any OpenAI-compatible server). Also shows the server's preload of models
(``PLAYGROUND_PRELOAD_MODELS``) while it runs.

Handlers are methods of :class:`KeylessPanel`; :func:`build` makes the components and
:func:`wire` connects them (``layout`` calls both).
"""

from __future__ import annotations

import html
from typing import Any

import gradio as gr

from playground import local_models
from playground.ui import local_panel, preload_view, presets, readiness_view
from playground.ui.session import Sessions
from providers.readiness import Readiness, provider_readiness, target_readiness
from providers.settings import Settings

PAIR = ("phi-3-mini-4k", "phi-3.5-mini")  # the lesson's comparison, both known models
PAIR_PRESET_ROUTE = "onnx"
CLOUD_TITLES = "NVIDIA NIM and Azure AI Foundry"
NOTICE_TITLE = "No API key is set: start without one"


def pair_preset() -> presets.Preset:
    """The lesson preset comparing the two downloadable models on this computer."""
    return next(p for p in presets.presets() if p.route == PAIR_PRESET_ROUTE
                and p.targets == tuple(f"onnx:{name}" for name in PAIR))


def _size(name: str) -> str:
    return f"{local_models.known_model(name).approx_bytes / local_models.GB:.2f} GB"


def download_label() -> str:
    sizes = " + ".join(_size(n) for n in PAIR)
    return f"Download Phi-3-mini and Phi-3.5-mini (int4, {sizes})"


def notice_markdown() -> str:
    """What the Compare tab says once when no key is set."""
    return (f"No key is set on this server or in this tab, so {CLOUD_TITLES} cannot run "
            "here (keys go in `.env` or in the **Settings** tab). Without one:\n\n"
            "1. **Compare two Phi models on this computer** (CPU, ONNX Runtime GenAI, int4): "
            "download them once below (an interrupted download resumes where it stopped), "
            "then press *Use them*.\n"
            "2. **Or point at a model server you run**: see its state below.")


def models_markdown(settings: Settings) -> str:
    """One line per model of the pair: downloaded, partly downloaded, or not yet (size)."""
    lines = []
    rows = {r["name"]: r for r in local_models.local_models(settings)}
    for name in PAIR:
        row = rows[name]
        if row["present"]:
            state = "✓ downloaded"
        elif row["partial"]:
            state = f"◐ partly downloaded (the rest of {_size(name)} resumes)"
        else:
            state = f"✗ not downloaded ({_size(name)})"
        lines.append(f"`onnx:{name}` {state}")
    return " · ".join(lines)


def servers_markdown(settings: Settings) -> str:
    """How to use Ollama or an OpenAI-compatible server, each with its state now."""
    ollama, openai = (_now(provider_readiness(p, settings)) for p in ("ollama", "openai"))
    return "\n".join([
        f"- **Ollama**: `ollama serve`, then `ollama pull phi3.5` and `ollama pull phi3`; "
        f"targets `ollama:phi3.5`, `ollama:phi3` (`OLLAMA_HOST` says where). Now: {ollama}",
        "- **An OpenAI-compatible server** (llama.cpp's `llama-server`, vLLM, LM Studio): "
        "set `OPENAI_COMPAT_BASE_URL` (e.g. `http://127.0.0.1:8080/v1`) in `.env` or the "
        f"Settings tab; targets `openai:MODEL`. Now: {openai}"])


def _now(item: Readiness) -> str:
    """``✓ ready: …`` / ``✗ server not running — Ollama is not running at …``."""
    head = readiness_view.mark(item)
    if not item.ready and item.message == readiness_view.short_state(item):
        return html.escape(head)  # "✗ needs X" says it all
    return html.escape(f"{head} — {item.message}")


class KeylessPanel:
    """Handlers of the keyless panel, sharing the server's :class:`Sessions`."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def view(self, keys: dict[str, str] | None) -> list[Any]:
        """[panel visibility, models line, servers list] for this session's settings."""
        try:
            settings = self.sessions.settings_for(keys)
        except Exception:  # values were checked when saved; fall back to the server's
            settings = self.sessions.settings
        return [gr.update(visible=readiness_view.no_key_set(settings)),
                models_markdown(self.sessions.settings), servers_markdown(settings)]

    def download_pair(self, progress: gr.Progress = gr.Progress()) -> str:
        """Download the pair's missing models one after the other (progress bar in the
        returned status line); a refusal or failure is a message, never an overlay."""
        if self.sessions.policy.public:
            return local_panel.refused(local_panel.PUBLIC_NO_DOWNLOADS)
        settings = self.sessions.settings
        missing = [n for n in PAIR
                   if not target_readiness(f"onnx:{n}", settings).ready]
        if preloading := [n for n in missing if n in preload_view.busy()]:
            return local_panel.refused(
                local_panel.PRELOADING.format(name=" and ".join(preloading)))
        for number, name in enumerate(missing, 1):
            try:
                local_panel.fetch(name, settings, progress,
                                  f"Downloading {name} ({number} of {len(missing)})")
            except local_models.DownloadError as exc:
                return local_panel.refused(f"**{name} was not downloaded.** {exc}")
        return (f"✓ Both models are on this computer: press **Use them**. "
                f"{models_markdown(settings)}")

    def use_pair(self, keys: dict[str, str] | None) -> list[Any]:
        """[status, preset, targets, prompt, system]: the pair's lesson preset, or a
        message saying what to download first (other outputs unchanged)."""
        settings = self.sessions.settings
        preset = pair_preset()
        items = [target_readiness(t, settings) for t in preset.targets]
        if not all(i.ready for i in items):
            skip = gr.skip()
            return [local_panel.refused("Download the two models first (the button on "
                                        "the left)."), skip, skip, skip, skip]
        return ["✓ Set up: press **Compare** to run both on this computer.",
                gr.update(value=preset.name),
                readiness_view.targets_update(list(preset.targets), settings),
                preset.prompt, preset.system]


def build(sessions: Sessions) -> dict[str, Any]:
    """The panel's components (inside the Compare tab), hidden when a key is set."""
    panel = KeylessPanel(sessions)
    visible = readiness_view.no_key_set(sessions.settings)
    ui: dict[str, Any] = {"panel": panel}
    # Open until the two models are here: then it is one closed line (room for answers).
    here = all(target_readiness(f"onnx:{n}", sessions.settings).ready for n in PAIR)
    with gr.Accordion(NOTICE_TITLE, open=not here, visible=visible,
                      elem_id="keyless") as ui["box"]:
        gr.Markdown(notice_markdown(), elem_id="keyless-note")
        with gr.Row():
            ui["download"] = gr.Button(download_label(), elem_id="keyless-download",
                                       interactive=not sessions.policy.public, scale=2)
            ui["use"] = gr.Button("Use them", elem_id="keyless-use", scale=1)
        ui["models"] = gr.Markdown(models_markdown(sessions.settings),
                                   elem_id="keyless-models")
        ui["status"] = gr.Markdown(elem_id="keyless-status")
        ui["servers"] = gr.Markdown(servers_markdown(sessions.settings),
                                    elem_id="keyless-servers")
    return ui


def wire(ui: dict[str, Any], form: dict[str, Any], keys: Any) -> Any:
    """Connect the panel; returns the download event (one at a time, shared with the
    Local models tab), after which the page re-labels what can run."""
    panel: KeylessPanel = ui["panel"]
    done = ui["download"].click(panel.download_pair, None, ui["status"],
                                concurrency_limit=1, concurrency_id="download",
                                api_visibility="private")
    ui["use"].click(panel.use_pair, keys,
                    [ui["status"], form["preset"], form["targets"], form["prompt"],
                     form["system"]], show_progress="hidden", api_visibility="private")
    return done
