"""The Scenarios tab: pick a lesson pack, see which route each group would use, run it
with live progress, a table with checks, median/p90 charts, and download the report.

``layout.build_demo`` finds this module through ``EXTRA_TABS`` and calls :func:`build`.
Handlers are plain methods of :class:`ScenarioTab`; ``build`` only wires them.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from playground.limits import SlotLimiter, client_address
from playground.policy import SessionLimiter
from playground.ui import scenarios_handlers as packs
from playground.ui import style
from playground.ui.fields import NumberField
from playground.ui.session import Sessions, session_key
from playground.validate import InputError, number_problem

TAB_TITLE = "Scenarios"
PUBLIC_MAX_REPEATS = 3  # a pack is many requests: visitors of a public server get fewer


class ScenarioTab:
    """Handlers of the tab, sharing the server's :class:`Sessions`."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self.limiter = SessionLimiter(1)  # one pack at a time per session
        # ...and per address: a session id is the client's choice (limits.py).
        self.address_limiter = SlotLimiter(
            sessions.policy.max_scenarios_per_address,
            "Your address already runs {limit} scenario(s) at once (this server's limit "
            "per visitor); wait for it to finish.")

    async def describe(self, pack_id: str | None, keys: dict[str, str] | None) -> str:
        """Markdown: the pack, its cases and the route each group would use now (or
        what would make one runnable)."""
        if not pack_id:
            return "Pick a pack to see its cases and which route each group would use."
        try:
            return await packs.describe_pack(pack_id, self.sessions.settings_for(keys))
        except InputError as exc:
            return "**This pack cannot run:**\n\n" + "\n".join(f"- {html.escape(str(p))}"
                                                             for p in exc.problems)

    def repeats_for(self, repeats: float | None) -> int | None:
        """The repeats to run (None or 0: the pack's own), capped on a public server;
        InputError for NaN, infinities, fractions and numbers out of range."""
        if repeats is None or repeats == 0:
            return PUBLIC_MAX_REPEATS if self.sessions.policy.public else None
        if problem := number_problem("repeats", repeats):
            raise InputError([problem])
        wanted = int(repeats)
        return min(wanted, PUBLIC_MAX_REPEATS) if self.sessions.policy.public else wanted

    async def run(self, pack_id: str | None, repeats: float | None,
                  keys: dict[str, str] | None,
                  request: gr.Request = None) -> AsyncIterator[list[Any]]:
        """Run the pack; yields [progress, table, chart HTML, report download]. A refused
        run (no pack, one already running, no group can run, bad settings) yields one
        message in the progress line and leaves the rest as it is: no error overlay."""
        if not pack_id:
            yield refused(["Pick a scenario pack first (the list above)."])
            return
        session = session_key(request)
        address = client_address(request, self.sessions.policy.trusted_proxies)
        try:
            settings = self.sessions.settings_for(keys)
            self.sessions.remember_secrets(session, settings)
            with self.limiter.slot(session), self.address_limiter.slot(address):
                frames = packs.run_pack(pack_id, settings, repeats=self.repeats_for(repeats),
                                        budget=self.sessions.budget)
                async for frame in frames:
                    download = gr.update(value=frame.report, visible=frame.report is not None)
                    yield [frame.progress, frame.table, frame.chart_html, download]
        except InputError as exc:
            yield refused(exc.problems)

    @staticmethod
    def stopped() -> str:
        return "Stopped. The rounds that finished are saved in the run history."


def refused(problems: list[str]) -> list[Any]:
    """The run's outputs for a refusal: the message (each line once) in the progress
    line under the Run button, not a toast (toasts pile up over the page's inputs); the
    table, chart and report are left as they are."""
    lines = [line for p in dict.fromkeys(problems) for line in str(p).splitlines()]
    text = "  \n".join(html.escape(line.strip()) for line in lines)
    return [f"✗ **Nothing was sent.** {text}", gr.skip(), gr.skip(), gr.skip()]


def build(sessions: Sessions, keys: Any) -> None:
    """The tab's components and wiring (inside a ``gr.Tab``)."""
    tab = ScenarioTab(sessions)
    gr.Markdown("One click per lesson comparison. Each group uses the first route that can "
                "run here (keys set, local model present); runs are saved in the history "
                "(`python -m playground history`).")
    with gr.Row():
        pack = gr.Dropdown(packs.pack_choices(), value=None, label="Scenario pack",
                           elem_id="scenario-pack")
        repeats = NumberField(None, label="Repeats (empty: the pack's own)",
                              precision=0, minimum=0, elem_id="scenario-repeats")
    about = gr.Markdown(elem_id="scenario-about")
    with gr.Row():
        go = gr.Button("Run scenario", variant="primary", elem_id="scenario-run")
        stop = gr.Button("Stop", variant="stop", elem_id="scenario-stop")
    progress = gr.Markdown(elem_id="scenario-progress")
    table = gr.Dataframe(packs.rows_table([]), interactive=False, max_height=360,
                         label="Answers, metrics and checks", elem_id="scenario-table")
    chart = gr.HTML(elem_id="scenario-chart")
    report = gr.DownloadButton("Download report (Markdown)", visible=False,
                               elem_id="scenario-report")
    gr.on(None, style.empty_values(1), None, repeats, queue=False, show_progress="hidden",
          api_visibility="private")
    pack.change(tab.describe, [pack, keys], about, api_visibility="private")
    run = go.click(tab.run, [pack, repeats, keys], [progress, table, chart, report],
                   api_name="run_scenario", concurrency_limit=8, concurrency_id="scenarios",
                   show_progress="minimal")
    # Closing the generator stops the run (run_pack ends it before the history closes).
    stop.click(tab.stopped, None, progress, cancels=[run], queue=False,
               api_visibility="private")
