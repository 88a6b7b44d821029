"""The conversation's components (each pane's chat view, sync switch, own settings and
retry; the follow-up row under the panes) and their wiring. Components and events
only: the handlers are :mod:`playground.ui.conversation_view`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from playground.ui.conversation_view import ConversationHandlers, sync_fill, sync_shown
from playground.ui.fields import NumberField
from playground.ui.turn_inputs import ALL_PANES
from playground.validate import MAX_TOKENS, SEED_MAX

IMAGE_TYPES = ["image"]


@dataclass
class PaneExtras:
    """One pane slot's conversation controls."""

    chat: Any
    sync: Any
    retry: Any
    own: Any  # the group of its own settings, shown while unsynced
    fields: list[Any]  # system, max tokens, temperature, top_p, seed (PANE_INPUTS order)
    box: Any
    index: Any  # the pane's index (a hidden number: the handlers' ``pane`` input)


@dataclass
class FollowRow:
    """The follow-up row under the panes, and the conversation's state."""

    row: Any
    box: Any
    retry_all: Any
    new: Any
    stop: Any
    notice: Any
    drop: Any
    offer: Any
    all_panes: Any
    conversation: Any = field(default=None)


def chat_view(i: int) -> Any:
    """Pane ``i``'s earlier turns (hidden until a second turn); the answer being
    streamed stays in the pane's answer box below it."""
    # As tall as its turns, up to 360 px (then it scrolls, newest turn in view).
    return gr.Chatbot([], visible=False, show_label=False, height="auto", max_height=360,
                      elem_id=f"chat-{i}",
                      elem_classes="pane-chat", feedback_options=None, buttons=["copy"])


def pane_extras(i: int, chat: Any) -> PaneExtras:
    """Under pane ``i``'s answer: sync and retry, then its own settings when unsynced."""
    with gr.Row(elem_classes="pane-tools"):
        sync = gr.Checkbox(True, label="Sync with the form", elem_id=f"sync-{i}",
                           scale=3, min_width=120)
        retry = gr.Button("Retry last turn", size="sm", scale=1, min_width=90,
                          elem_id=f"retry-{i}")
    with gr.Group(visible=False, elem_id=f"own-{i}") as own:
        system = gr.Textbox(label="This pane's system prompt", lines=1, max_lines=4,
                            elem_id=f"own-system-{i}")
        with gr.Row():
            # NumberField: the handlers check every value themselves (turn_inputs).
            numbers = [
                NumberField(None, label="Max tokens", precision=0, minimum=1,
                            maximum=MAX_TOKENS, elem_id=f"own-max-tokens-{i}"),
                NumberField(None, label="Temperature", minimum=0, maximum=2,
                            elem_id=f"own-temperature-{i}"),
                NumberField(None, label="top_p", minimum=0, maximum=1,
                            elem_id=f"own-top-p-{i}"),
                NumberField(None, label="Seed", precision=0, minimum=0, maximum=SEED_MAX,
                            elem_id=f"own-seed-{i}"),
            ]
        box = gr.MultimodalTextbox(placeholder="Follow-up to this pane only",
                                   file_types=IMAGE_TYPES, file_count="multiple",
                                   show_label=False, submit_btn="Send to this pane",
                                   elem_id=f"pane-follow-{i}")
    index = NumberField(i, visible=False, elem_id=f"pane-index-{i}")
    return PaneExtras(chat, sync, retry, own, [system, *numbers], box, index)


def follow_row() -> FollowRow:
    """The follow-up box (typed once, sent to every pane), Retry all, New conversation,
    Stop; the context notice with its drop-oldest offer. Shown once a comparison ran."""
    with gr.Column(visible=False, elem_id="follow-row") as row:
        with gr.Row():
            box = gr.MultimodalTextbox(
                placeholder="Follow-up, sent to every pane (each with its own history); "
                            "attach images with the clip", file_types=IMAGE_TYPES,
                file_count="multiple", show_label=False, submit_btn="Send to all",
                scale=5, elem_id="follow-up")
            retry_all = gr.Button("Retry all", size="sm", scale=1, elem_id="retry-all")
            new = gr.Button("New conversation", size="sm", scale=1, elem_id="new-conversation")
            stop = gr.Button("Stop", variant="stop", size="sm", scale=1, elem_id="follow-stop")
        notice = gr.Markdown(visible=False, elem_id="context-notice")
        drop = gr.Button("Drop the oldest turns named above", visible=False, size="sm",
                         elem_id="drop-oldest")
    return FollowRow(row, box, retry_all, new, stop, notice, drop, gr.State({}),
                     NumberField(ALL_PANES, visible=False, elem_id="all-panes"))


def wire(turns: ConversationHandlers, panes: list[PaneExtras], follow: FollowRow,
         form: dict[str, Any], view: Any, keys: Any, concurrency: int) -> None:
    """Follow-ups, retries (all panes or one), drop-oldest, New conversation, Stop and
    the sync switches. Each turn is a comparison: it shares Compare's concurrency."""
    shared = [form["system"], form["max_tokens"], form["temperature"], form["top_p"],
              form["seed"]]
    controls = [*shared, form["timeout"], keys,
                *[c for pane in panes for c in (pane.sync, *pane.fields)]]
    notice = [follow.notice, follow.drop, follow.offer]
    turn = {"concurrency_limit": concurrency, "concurrency_id": "compare",
            "show_progress": "hidden"}
    runs = turns.runs

    def after(event: Any) -> None:
        # .success: a refused turn leaves the charts and downloads as they were.
        event.success(runs.after_run, view.record, view.after_run(), api_visibility="private")

    for box, index, name in [(follow.box, follow.all_panes, "follow_up"),
                             *[(p.box, p.index, None) for p in panes]]:
        after(box.submit(turns.follow_up, [view.conversation, box, index, *controls],
                         [*view.outputs(), *notice, box], api_name=name,
                         api_visibility="public" if name else "private", **turn))
    for button, index, name in [(follow.retry_all, follow.all_panes, "retry"),
                                *[(p.retry, p.index, None) for p in panes]]:
        after(button.click(turns.retry, [view.conversation, index, *controls],
                           [*view.outputs(), *notice], api_name=name,
                           api_visibility="public" if name else "private", **turn))
    follow.drop.click(turns.drop_oldest, [view.conversation, follow.offer],
                      [view.conversation, *notice], api_visibility="private")
    follow.new.click(turns.new_conversation, None, [*view.outputs(), *notice],
                     api_name="new_conversation")
    follow.stop.click(runs.stop, None, None, queue=False, api_name="stop_follow_up",
                      api_visibility="private")  # the same as Compare's Stop
    for pane in panes:
        # Two events, so that no order of events can undo a restore: showing follows
        # the switch whoever set it; filling from the form only when the user did.
        pane.sync.change(sync_shown, pane.sync, pane.own, queue=False,
                         show_progress="hidden", api_visibility="private")
        pane.sync.input(sync_fill, [pane.sync, *shared], pane.fields, queue=False,
                        show_progress="hidden", api_visibility="private")
