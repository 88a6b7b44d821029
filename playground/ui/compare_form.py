"""The Compare tab's form: lesson presets and targets, prompts, attached images, the
target picker and the parameters, Compare and Stop. Components only (by name, for
``layout`` to wire); each choice's readiness label comes from ``readiness_view``.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import readiness_view
from playground.ui.fields import NumberField
from playground.ui.handlers import N_SLOTS
from playground.ui.session import Sessions
from playground.validate import MAX_TIMEOUT_S, MAX_TOKENS, SEED_MAX


def build(sessions: Sessions) -> dict[str, Any]:
    """The form's components by name (``preset``, ``targets``, ``prompt``, ``system``,
    ``files``, the parameters, ``go``, ``stop``...), kept compact so that the answers
    start on the first screen."""
    f: dict[str, Any] = {}
    with gr.Row():
        f["preset"] = gr.Dropdown(readiness_view.preset_choices(sessions.settings), value=None,
                                  label="Lesson presets", scale=1, elem_id="preset")
        f["targets"] = gr.Dropdown(readiness_view.target_choices([], sessions.settings),
                                   value=[], multiselect=True, max_choices=N_SLOTS,
                                   allow_custom_value=True, scale=1,
                                   label="Targets (1-6, PROVIDER:MODEL)", elem_id="targets")
    f["readiness"] = gr.Markdown(elem_id="target-readiness")
    with gr.Row():
        # One line each, growing with the text (max_lines): room for the answers.
        f["prompt"] = gr.Textbox(label="Prompt", lines=1, max_lines=8, scale=3,
                                 elem_id="prompt")
        f["system"] = gr.Textbox(label="System prompt (optional)", lines=1, max_lines=4,
                                 scale=2, elem_id="system")
    # Thumbnails of the attached images; the row shows only while there are some.
    with gr.Row(elem_id="images-row", visible=False) as f["images_row"]:
        f["files"] = gr.Gallery(None, label="Images", show_label=False, columns=8,
                                height=96, object_fit="contain", allow_preview=False,
                                interactive=False, file_types=["image"], type="filepath",
                                elem_id="images")
        f["clear_images"] = gr.Button("Remove images", size="sm", scale=0,
                                      elem_id="clear-images")
    _options(f, sessions)
    with gr.Row():
        f["attach"] = gr.UploadButton("+ Attach images", file_count="multiple",
                                      file_types=["image"], type="filepath", scale=1,
                                      elem_id="attach-images")
        f["go"] = gr.Button("Compare", variant="primary", scale=3, elem_id="compare-btn")
        f["stop"] = gr.Button("Stop", variant="stop", scale=1, elem_id="stop-btn")
    return f


def _options(f: dict[str, Any], sessions: Sessions) -> None:
    """The target picker and the parameters, side by side and collapsed."""
    with gr.Row():
        with gr.Column(scale=3), gr.Accordion("Add a target from a provider's models",
                                              open=False, elem_id="picker"):
            with gr.Row():
                f["provider"] = gr.Dropdown(readiness_view.provider_options(sessions.settings),
                                            value=None,
                                            label="Provider", elem_id="provider")
                f["model"] = gr.Dropdown([], value=None, allow_custom_value=True,
                                         label="Model", elem_id="model")
                f["add"] = gr.Button("Add target", elem_id="add-target", scale=0)
            f["models_note"] = gr.Markdown(elem_id="models-note")
        with gr.Column(scale=2), gr.Accordion("Parameters", open=False,
                                              elem_id="parameters"):
            # NumberField: the handler checks each value (NaN, inf, range) itself.
            with gr.Row():
                f["max_tokens"] = NumberField(512, label="Max tokens", precision=0, minimum=1,
                                              maximum=MAX_TOKENS)
                f["temperature"] = NumberField(None, minimum=0, maximum=2,
                                               label="Temperature (empty: default)")
                f["top_p"] = NumberField(None, minimum=0, maximum=1,
                                         label="top_p (empty: default)")
            with gr.Row():
                f["seed"] = NumberField(None, label="Seed (empty: none)", precision=0,
                                        minimum=0, maximum=SEED_MAX)
                f["timeout"] = NumberField(60, label="Idle timeout per target (s)", minimum=1,
                                           maximum=MAX_TIMEOUT_S)
