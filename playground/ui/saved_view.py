"""Save and share on the page: the read-only viewer a link ``/?comparison=ID`` opens (top
of the Compare tab), the Save button, link and HTML download under the results, and the
list of saved comparisons. Components and wiring only; handlers in ``saved_handlers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.html_export import STYLE
from playground.ui.saved_handlers import SavedHandlers


@dataclass
class SavedUI:
    """The components this module adds (``build_viewer`` then ``build_save_row``)."""

    viewer: Any
    view: Any
    continue_btn: Any
    viewer_html: Any
    opened: Any
    owner: Any
    save_btn: Any = None
    link: Any = None
    html_btn: Any = None
    history: Any = None


def build_viewer() -> SavedUI:
    """The read-only viewer, hidden unless the page was opened with a comparison link."""
    with gr.Column(visible=False, elem_id="saved-viewer") as viewer:
        view = gr.HTML("", elem_id="saved-view", css_template=STYLE)
        with gr.Row():
            continue_btn = gr.Button("Continue from here", variant="primary", scale=0,
                                     elem_id="continue-btn")
            viewer_html = gr.DownloadButton("Download HTML", visible=False, size="sm",
                                            scale=0, elem_id="saved-dl-html")
    # The owner token a public server signs (saved_handlers); None elsewhere.
    owner = gr.BrowserState(None, storage_key="slm-playground-saved-owner")
    return SavedUI(viewer, view, continue_btn, viewer_html, opened=gr.State(None),
                   owner=owner)


def build_save_row(ui: SavedUI) -> None:
    """Save, the share link, the HTML download and the saved list (under the results)."""
    with gr.Row():
        ui.save_btn = gr.Button("Save and share", scale=0, elem_id="save-btn")
        ui.html_btn = gr.DownloadButton("Download HTML", visible=False, size="sm", scale=0,
                                        elem_id="dl-html")
        ui.link = gr.Textbox(label="Link to this saved comparison (read-only, never keys)",
                             buttons=["copy"], interactive=False, visible=False, scale=4,
                             elem_id="saved-link")
    with gr.Accordion("Saved comparisons", open=False, elem_id="saved-list"):
        ui.history = gr.Markdown(elem_id="saved-history")


def wire(demo: gr.Blocks, handlers: SavedHandlers, ui: SavedUI, *, view: Any,
         panes: list[Any], form: dict[str, Any], base_url: Any, keys: Any) -> None:
    """Connect the events: page load (a link opens the viewer; the list), Save,
    Continue (``view``: Compare's outputs; ``panes``: each pane slot's conversation
    controls), and the HTML download following the Compare tab's comparison."""
    demo.load(handlers.open_link, None, [ui.viewer, ui.view, ui.opened, ui.viewer_html],
              api_visibility="private")
    demo.load(handlers.show_history, ui.owner, ui.history, api_visibility="private")
    ui.save_btn.click(handlers.save, [view.conversation, view.record, base_url, keys,
                                      ui.owner],
                      [ui.link, ui.history, ui.owner], api_visibility="private",
                      show_progress="hidden")
    shared = [form[name] for name in ("system", "max_tokens", "temperature", "top_p", "seed")]
    own = [p.own for p in panes] + [f for p in panes for f in p.fields]
    # One step: the sync switches, each pane's own group and its saved settings. A
    # switch set here only shows or hides its group (its ``.change``); the form's values
    # fill a pane's fields on the user's ``.input`` alone (conversation_layout).
    ui.continue_btn.click(handlers.continue_from, ui.opened,
                          [*view.outputs(), form["targets"], *shared, *own, ui.viewer],
                          api_visibility="private")
    for state in (view.record, view.conversation):
        state.change(handlers.html_download, [view.conversation, view.record], ui.html_btn,
                     api_visibility="private", show_progress="hidden")
