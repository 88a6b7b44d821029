"""The Arena tab: components and event wiring (handlers in ``arena_handlers``).

Nothing built here holds a model name: the pool picker starts empty (the server's pool,
``PLAYGROUND_ARENA_TARGETS``, is never put into the page), the panes are "Model A" and
"Model B", and the leaderboard starts empty and is filled by the poll. Battles run
``PLAYGROUND_CONCURRENCY`` at once like Compare; votes and polls are not capped per
event (each is one short store call in a thread), so a class is never served in turn.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.arena.battles import CHOICES
from playground.arena.pool import CLASS_VAR
from playground.arena.prompts import arena_prompts
from playground.ui import readiness_view
from playground.ui.arena_handlers import PERIODS, ArenaHandlers
from playground.ui.session import Sessions

TAB_TITLE = "Arena"
POLL_S = 3.0  # the leaderboard's poll: a vote shows on every page within a few seconds
INTRO = ("Two anonymous models answer the same prompt. Vote for the better answer; the "
         "names, the timings and your vote are shown after you vote.")


def build(sessions: Sessions, keys: Any, tab: Any, concurrency: int) -> ArenaHandlers:
    """The tab's components and events (call inside ``tab``); battles share Compare's
    ``concurrency`` limit."""
    handlers = ArenaHandlers(sessions)
    ui: dict[str, Any] = {"keys": keys, "tab": tab}
    gr.Markdown(INTRO, elem_id="arena-intro")
    _battle_form(ui, sessions)
    _panes(ui)
    _board(ui)
    _pool(ui, sessions)
    _wire(handlers, ui, concurrency)
    return handlers


def _battle_form(ui: dict[str, Any], sessions: Sessions) -> None:
    prompts = arena_prompts(sessions.settings)
    with gr.Row():
        ui["class"] = gr.Textbox(sessions.settings.get(CLASS_VAR) or "", label="Class code",
                                 placeholder="class", max_lines=1, scale=1,
                                 elem_id="arena-class")
        ui["listed"] = gr.Dropdown([(f"[{p.category}] {p.text[:70]}", i)
                                    for i, p in enumerate(prompts)], value=None,
                                   label="A prompt from the teacher's list", scale=2,
                                   elem_id="arena-listed")
        ui["category"] = gr.Textbox("", label="Category (optional)", max_lines=1, scale=1,
                                    elem_id="arena-category")
    ui["prompts"] = prompts
    with gr.Row():
        ui["prompt"] = gr.Textbox(label="Prompt", lines=1, max_lines=8, scale=4,
                                  elem_id="arena-prompt")
        ui["go"] = gr.Button("Battle", variant="primary", scale=1, elem_id="arena-go")


def _panes(ui: dict[str, Any]) -> None:
    ui["status"], ui["answers"] = [], []
    with gr.Row(elem_id="arena-panes"):
        for side in ("a", "b"):
            with gr.Column():
                ui["status"].append(gr.Markdown(elem_id=f"arena-status-{side}",
                                                elem_classes="status-line"))
                ui["answers"].append(gr.Markdown(min_height=160, container=True,
                                                 elem_id=f"arena-answer-{side}"))
    with gr.Row():
        ui["votes"] = [gr.Button(label, interactive=False, elem_id=f"arena-vote-{code}")
                       for code, label in CHOICES.items()]
    ui["reveal"] = gr.Markdown(elem_id="arena-reveal")
    ui["reveal_table"] = gr.Dataframe(None, interactive=False, visible=False, wrap=True,
                                      label="Metrics (engine-measured)",
                                      elem_id="arena-metrics")
    ui["battle"] = gr.State(None)


def _board(ui: dict[str, Any]) -> None:
    gr.Markdown("### Leaderboard", elem_id="arena-board-title")
    with gr.Row():
        ui["filter"] = gr.Textbox("", label="Category (empty: all)", max_lines=1,
                                  elem_id="arena-filter")
        ui["period"] = gr.Dropdown(list(PERIODS), value="all time", label="Battles from",
                                   elem_id="arena-period")
        ui["csv"] = gr.DownloadButton("Download CSV", visible=False, size="sm",
                                      elem_id="arena-csv")
    ui["note"] = gr.Markdown(elem_id="arena-note")
    ui["chart"] = gr.HTML(elem_id="arena-chart")
    ui["board"] = gr.Dataframe(None, interactive=False, wrap=True, label="Scores",
                               elem_id="arena-board")
    ui["rates"] = gr.Dataframe(None, interactive=False, wrap=True,
                               label="Win rate % (row beats column; a tie is half)",
                               elem_id="arena-rates")
    ui["shown"] = gr.State(None)


def _pool(ui: dict[str, Any], sessions: Sessions) -> None:
    """The teacher's pool (not on a public server, whose pool is the environment's)."""
    with gr.Accordion("Pool (teacher)", open=False, visible=not sessions.policy.public,
                      elem_id="arena-pool"):
        ui["pool"] = gr.Dropdown(readiness_view.target_choices([], sessions.settings),
                                 value=[], multiselect=True, allow_custom_value=True,
                                 label="Targets that battle in this class (PROVIDER:MODEL)",
                                 elem_id="arena-pool-targets")
        ui["use_pool"] = gr.Button("Use this pool", elem_id="arena-use-pool")
        ui["pool_note"] = gr.Markdown(elem_id="arena-pool-note")


def _wire(h: ArenaHandlers, ui: dict[str, Any], concurrency: int) -> None:
    battle_out = [*ui["status"], *ui["answers"], *ui["votes"], ui["go"], ui["reveal"],
                  ui["reveal_table"], ui["battle"]]
    ui["go"].click(h.battle, [ui["class"], ui["category"], ui["prompt"], ui["keys"]],
                   battle_out, api_name="arena_battle", concurrency_limit=concurrency,
                   concurrency_id="compare", show_progress="hidden")
    vote_out = [*ui["status"], *ui["votes"], ui["reveal"], ui["reveal_table"], ui["battle"]]
    board_in = [ui["class"], ui["filter"], ui["period"], ui["shown"]]
    board_out = [ui["note"], ui["chart"], ui["board"], ui["rates"], ui["csv"], ui["shown"]]
    # Each button passes its own label; the API's endpoint takes the choice as text
    # (a, b, tie, both_bad or a label) through a hidden field and button.
    api_choice = gr.Textbox(visible=False, elem_id="arena-choice")
    api_button = gr.Button(visible=False, elem_id="arena-api-vote")
    senders = [(button, button, None) for button in ui["votes"]]
    for trigger, choice, api_name in [*senders, (api_button, api_choice, "arena_vote")]:
        voted = trigger.click(h.vote, [choice, ui["battle"]], vote_out, api_name=api_name,
                              api_visibility="public" if api_name else "private",
                              concurrency_limit=None, show_progress="hidden")
        voted.success(h.leaderboard, board_in, board_out, api_visibility="private",
                      concurrency_limit=None, show_progress="hidden")
    ui["listed"].input(lambda i: _listed(ui["prompts"], i), ui["listed"],
                       [ui["prompt"], ui["category"]], api_visibility="private")
    ui["use_pool"].click(h.set_pool, [ui["class"], ui["pool"]], ui["pool_note"],
                         api_visibility="private")
    # Polling starts when the tab is first opened: a page that never shows the arena
    # neither polls nor opens the store.
    timer = gr.Timer(POLL_S, active=False)
    ui["tab"].select(lambda: gr.Timer(active=True), None, timer, api_visibility="private",
                     queue=False)
    gr.on([timer.tick, ui["tab"].select, ui["filter"].submit, ui["period"].input, ui["class"].submit],
          h.leaderboard, board_in, board_out, api_name="arena_leaderboard",
          concurrency_limit=None, show_progress="hidden", trigger_mode="always_last")


def _listed(prompts: list[Any], index: Any) -> tuple[Any, Any]:
    """The chosen prompt and its category (a bad index from an API client: no change)."""
    if isinstance(index, int) and 0 <= index < len(prompts):
        return prompts[index].text, prompts[index].category
    return gr.skip(), gr.skip()
