"""The page: components and event wiring only; every handler lives in ``handlers``,
``page`` or ``local_panel``.

Queue settings (documented in the README): the Compare event may run
``PLAYGROUND_CONCURRENCY`` comparisons at once (default 24; Gradio's per-event default
is 1, which would make visitors wait for each other); one process on 2 cores keeps 20
concurrent comparisons within ~13 % of ideal (measured with Gradio 6.31). Other events share
``default_concurrency_limit=8``. The queue holds at most ``PLAYGROUND_QUEUE_SIZE``
waiting events (default 100), then refuses new ones at once instead of piling up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from playground.policy import Policy
from playground.preload import start_preload
from playground.ui import (
    arena_tab,
    attach,
    compare_form,
    conversation_layout,
    keyless,
    local_panel,
    preload_view,
    readiness_view,
    render,
    saved_view,
    scenarios_tab,
    style,
)
from playground.ui.conversation_view import ConversationHandlers
from playground.ui.handlers import N_SLOTS, CompareView, RunHandlers
from playground.ui.page import PageHandlers
from playground.ui.saved_handlers import SavedHandlers
from playground.ui.session import Sessions, session_capacity
from providers.settings import Settings

TITLE = "SLM Playground"
# One line at 1280 px: every line above the panes pushes the answers down.
INTRO = ("One prompt (and images) to up to six models at once: watch the answers race and "
         "compare time to first token, total time, tokens and speed.")


def launch_options(policy: Policy | None = None) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch`` (Gradio 6 takes styling and the upload
    limit at launch; a Space runs ``python app.py``, which launches with these).

    Uploads larger than ``PLAYGROUND_MAX_UPLOAD_MB`` (default 20, one image's limit)
    are refused by Gradio's upload route before they are stored.

    Gradio keeps a copy of every component's config per session (about 1 MB for this
    page) for an hour after the tab closes; ``PLAYGROUND_SESSION_CAPACITY`` (default
    1000) caps how many sessions are kept, oldest first out, so memory stays bounded
    on a busy Space. Gradio's own run history is off: it would keep every prompt and
    answer in the visitor's browser; the playground has its exports and history.
    """
    policy = policy or Policy.from_env()
    return {"theme": gr.themes.Soft(), "css": style.css(N_SLOTS),
            "footer_links": ["api", "gradio"],
            "state_session_capacity": session_capacity(),
            "max_file_size": policy.max_upload_mb * 2**20, "run_history": False}


def queue_options() -> dict[str, Any]:
    return {"default_concurrency_limit": 8,
            "max_size": Settings.load().integer("PLAYGROUND_QUEUE_SIZE", 100,
                                                maximum=100_000)}


def compare_concurrency() -> int:
    return Settings.load().integer("PLAYGROUND_CONCURRENCY", 24, maximum=1000)


def build_demo(settings: Settings | None = None, policy: Policy | None = None) -> gr.Blocks:
    """The whole app for ``settings`` (default: environment and ``.env``)."""
    sessions = Sessions(settings or Settings.load(), policy or Policy.from_env())
    preloading = start_preload(sessions.settings)  # PLAYGROUND_PRELOAD_MODELS, a thread
    runs, page = RunHandlers(sessions), PageHandlers(sessions)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}", elem_id="intro")
        keys = gr.State({})
        base_url = gr.State("/")
        with gr.Tab("Compare", id="compare"):
            saved_ui = saved_view.build_viewer()  # a saved comparison's link opens it here
            preload_ui = preload_view.build(preloading)  # its progress, while it runs
            keyless_ui = keyless.build(sessions)
            form = compare_form.build(sessions)
            panes = _panes()
            follow = conversation_layout.follow_row()
            table = gr.Dataframe(render.metrics_table([]), headers=render.TABLE_COLUMNS,
                                 datatype=render.TABLE_TYPES, interactive=False,
                                 max_height=320, wrap=True,
                                 column_widths=render.column_widths(),
                                 label="Metrics (engine-measured)",
                                 elem_id="metrics")
            charts, downloads, form["share"] = _results()
            saved_view.build_save_row(saved_ui)
            extras = panes["extras"]
            view = CompareView(panes["slots"], panes["status"], panes["answers"], table,
                               gr.State(None), charts, downloads,
                               chats=[p.chat for p in extras], conversation=gr.State(None),
                               syncs=[p.sync for p in extras], follow=follow.row)
            conversation_layout.wire(ConversationHandlers(runs), extras, follow, form, view,
                                     keys, compare_concurrency())
        with gr.Tab(scenarios_tab.TAB_TITLE, id="scenarios"):
            scenarios_tab.build(sessions, keys)
        with gr.Tab(arena_tab.TAB_TITLE, id="arena") as arena:
            arena_tab.build(sessions, keys, arena, compare_concurrency())
        with gr.Tab("Local models", id="local") as local_tab:
            local_download = local_panel.build(sessions, local_tab)
        with gr.Tab("Settings", id="settings"):
            settings_tab = _settings(page)
        keys_events = _wire(demo, runs, page, Page(form, view, keys, base_url, settings_tab))
        saved_view.wire(demo, SavedHandlers(sessions), saved_ui, view=view, panes=extras,
                        form=form, base_url=base_url, keys=keys)
        downloads_done = [local_download, keyless.wire(keyless_ui, form, keys)]
        readiness_view.wire(page, form, keys, keyless_ui, preload_ui,
                            [*downloads_done, *keys_events])
    demo.queue(**queue_options())
    return demo


def _panes() -> dict[str, list[Any]]:
    """Six pane slots in one grid (``style.css``): status line on top; below it the
    earlier turns (a chat view), the answer, then the pane's conversation controls."""
    panes: dict[str, list[Any]] = {"slots": [], "status": [], "answers": [], "extras": []}
    with gr.Row(elem_id="panes"):
        for i in range(N_SLOTS):
            with gr.Column(visible=False, elem_id=f"slot-{i}",
                           elem_classes="pane-slot") as slot:
                panes["status"].append(gr.Markdown(elem_id=f"status-{i}",
                                                   elem_classes="status-line"))
                with gr.Column(elem_classes="pane-body"):
                    chat = conversation_layout.chat_view(i)
                    panes["answers"].append(gr.Markdown(
                        min_height=200, container=True, elem_id=f"answer-{i}",
                        elem_classes="pane-answer"))
                    panes["extras"].append(conversation_layout.pane_extras(i, chat))
            panes["slots"].append(slot)
    return panes


def _results() -> tuple[list[Any], list[Any], Any]:
    """Charts, then the exports and the share link, below the answers and the table."""
    with gr.Row():
        # Bars take their target's colour (``color_map`` per run); the x labels name
        # them, so the colour legend is left out (``colors_in_legend=[]``).
        charts = [gr.BarPlot(None, x="label", y=metric, color="label", title=title,
                             y_title=axis, x_title=" ", y_lim=[0, None],
                             colors_in_legend=[], height=240, visible=False,
                             elem_id=f"chart-{metric}")
                  for metric, (title, axis) in render.CHARTS.items()]
    with gr.Row():
        with gr.Column(scale=1, min_width=200):
            downloads = [gr.DownloadButton("Download CSV", visible=False, size="sm",
                                           elem_id="dl-csv"),
                         gr.DownloadButton("Download JSON", visible=False, size="sm",
                                           elem_id="dl-json")]
        share = gr.Textbox(label="Share link (targets and prompts, never keys)",
                           buttons=["copy"], interactive=False, max_lines=2, scale=4,
                           elem_id="share-link")
    return charts, downloads, share


@dataclass
class SettingsTab:
    """The Settings tab's components."""

    key_boxes: list[Any]
    save: Any
    clear: Any
    status: Any
    providers: Any


@dataclass
class Page:
    """The components the Compare tab's events connect: the form (by name), Compare's
    outputs, the session's keys and base URL (``gr.State``) and the Settings tab."""

    form: dict[str, Any]
    view: CompareView
    keys: Any
    base_url: Any
    settings: SettingsTab


def _settings(page: PageHandlers) -> SettingsTab:
    gr.Markdown("Keys typed here apply to **this browser tab only**: they stay on the "
                "server for this session, are never shown again, logged or exported, and "
                "override the server's own settings for you alone.")
    boxes = [gr.Textbox(label=f"{f.name} ({f.provider})", info=f.help,
                        type="password" if f.secret else "text", elem_id=f"key-{f.name}")
             for f in page.fields]
    with gr.Row():
        save = gr.Button("Use for this session", variant="primary", elem_id="keys-save")
        clear = gr.Button("Forget session keys", elem_id="keys-clear")
    status = gr.Markdown(elem_id="keys-status")
    providers_md = gr.Markdown(elem_id="providers-table")
    return SettingsTab(boxes, save, clear, status, providers_md)


def _wire(demo: gr.Blocks, runs: RunHandlers, page: PageHandlers, ui: Page) -> list[Any]:
    f, keys, base_url, tab = ui.form, ui.keys, ui.base_url, ui.settings
    inputs = [f["targets"], f["prompt"], f["system"], f["files"], f["max_tokens"],
              f["temperature"], f["top_p"], f["seed"], f["timeout"], keys]
    outputs = ui.view.outputs()
    run = f["go"].click(runs.compare, inputs, outputs, api_name="compare",
                        concurrency_limit=compare_concurrency(), concurrency_id="compare",
                        # "hidden": a refusal's error would otherwise stay as an "Error"
                        # badge over the metrics table; the panes show progress.
                        show_progress="hidden")
    # .success, not .then: after a failed run the previous results must not come back.
    run.success(runs.after_run, ui.view.record, ui.view.after_run(), api_visibility="private")
    # Not cancels=[run]: a cancelled generator could not show "stopped"; the engine
    # stops the streams and Compare's last frame shows it (queue=False: never waits).
    f["stop"].click(runs.stop, None, None, queue=False, api_name="stop")

    setup = [f["targets"], f["prompt"], f["system"]]
    demo.load(page.on_load, None, [f["preset"], *setup, base_url, f["share"]],
              api_visibility="private")
    view = [tab.status, f["provider"], tab.providers]
    demo.load(page.settings_view, keys, view, api_visibility="private")
    for box in setup:
        box.change(page.share, [base_url, *setup], f["share"], queue=False,
                   trigger_mode="always_last",
                   show_progress="hidden", api_visibility="private")
    f["preset"].input(page.apply_preset, [f["preset"], keys], setup,
                      api_visibility="private")
    f["provider"].input(page.pick_provider, [f["provider"], keys],
                        [f["model"], f["models_note"]], api_visibility="private")
    optional = [f["temperature"], f["top_p"], f["seed"]]
    gr.on(None, style.empty_values(len(optional)), None, optional, queue=False,
          show_progress="hidden", api_visibility="private")
    thumbnails = [f["files"], f["images_row"]]
    f["attach"].upload(attach.add_images, [f["files"], f["attach"]], thumbnails,
                       api_visibility="private")
    f["clear_images"].click(attach.clear_images, None, thumbnails, api_visibility="private")
    f["add"].click(page.add_target, [f["targets"], f["provider"], f["model"], keys],
                   f["targets"], api_visibility="private")
    key_boxes = tab.key_boxes
    # "hidden": refused keys are a toast, not an "Error" badge left over the key boxes.
    saved = tab.save.click(page.save_session_keys, [keys, *key_boxes],
                           [keys, *key_boxes, *view], show_progress="hidden",
                           api_visibility="private")
    # The tab closed (its heartbeat ended): drop its keys and the clients built on them.
    demo.unload(runs.end_session)
    cleared = tab.clear.click(page.clear_keys, None, [keys, *key_boxes, *view],
                              api_visibility="private")
    return [saved, cleared]
