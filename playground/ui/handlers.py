"""The run's event handlers: Compare (an async generator over throttled frames), Stop,
and the step after a run (charts and downloads). Plain methods; ``layout`` wires them.

Compare's outputs, by name (:class:`CompareView`, in :data:`COMPARE_OUTPUTS` order): the 6
pane columns, their 6 status lines, their 6 answers, the metrics table, the run record
(``gr.State``), the 3 charts and the 2 download buttons. ``gr.skip()`` leaves an output
as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from playground.engine import DEFAULT_TIMEOUT_S, Comparison
from playground.limits import SlotLimiter, client_address
from playground.metrics import TargetResult
from playground.policy import SessionLimiter
from playground.ui import readiness_view, render
from playground.ui.attach import image_paths
from playground.ui.exports import RunRecord, write_exports
from playground.ui.live import Frame, LiveRun
from playground.ui.session import Sessions, session_key
from playground.validate import InputError, check_request, number_problems, plan, whole
from providers import Target
from providers.base import ChatRequest
from providers.errors import ProviderError
from providers.images import load_image

N_SLOTS = 6
COMPARE_OUTPUTS = {"slots": N_SLOTS, "status": N_SLOTS, "answers": N_SLOTS, "table": 1,
                   "record": 1, "charts": len(render.CHARTS), "downloads": 2}
N_AFTER_RUN = COMPARE_OUTPUTS["charts"] + COMPARE_OUTPUTS["downloads"]  # after_run's outputs


@dataclass
class CompareView:
    """Compare's outputs by name: the components (``layout``), or one value each for
    them (the handlers). :meth:`outputs` lists them in Gradio's order."""

    slots: list[Any]
    status: list[Any]
    answers: list[Any]
    table: Any
    record: Any
    charts: list[Any]
    downloads: list[Any]

    def outputs(self) -> list[Any]:
        return [*self.slots, *self.status, *self.answers, self.table, self.record,
                *self.charts, *self.downloads]

    def after_run(self) -> list[Any]:
        """The outputs of the step after a run: the charts and the downloads."""
        return [*self.charts, *self.downloads]


def build_request(prompt: str | None, system: str | None, files: Sequence[Any] | None,
                  max_tokens: float | None, temperature: float | None, top_p: float | None,
                  seed: float | None) -> ChatRequest:
    """The request from the form; ``files`` are paths or the thumbnails' ``(path,
    caption)`` pairs. Unreadable images and numbers out of range (NaN and infinities
    included: an API client can send them) raise InputError naming each."""
    problems = number_problems(max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                               seed=seed)
    images = []
    for path in image_paths(files):
        try:
            images.append(load_image(path))
        except ProviderError as exc:
            problems.append(exc.message)
    if problems:
        raise InputError(problems)
    return ChatRequest(model="", prompt=prompt or "", system=(system or "").strip() or None,
                       images=tuple(images),
                       max_tokens=whole(max_tokens), temperature=temperature, top_p=top_p,
                       seed=whole(seed))


class NotRunnable(Exception):
    """Targets that cannot run now (readiness); ``html`` is the one message saying what
    would make each runnable, ``problems`` the request's own problems."""

    def __init__(self, html: str, problems: list[str]) -> None:
        super().__init__(html)
        self.html, self.problems = html, problems


class RunHandlers:
    """Compare, Stop and the after-run step, sharing the server's :class:`Sessions`."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions
        self.limiter = SessionLimiter(sessions.policy.max_runs_per_session)
        # A session id is the client's choice; its address is not (limits.py).
        self.address_limiter = SlotLimiter(
            sessions.policy.max_runs_per_address,
            "Your address already runs {limit} comparisons at once (this server's limit "
            "per visitor); wait for one to finish.")

    def _plan(self, targets: Sequence[str] | None, request: ChatRequest,
              keys: dict[str, str] | None) -> tuple[list[Target], Any]:
        settings = self.sessions.settings_for(keys)
        refusal = readiness_view.compare_refusal(targets, settings)
        if refusal:
            max_chars = self.sessions.policy.max_prompt_chars
            raise NotRunnable(refusal, check_request(request, max_chars))
        planned = plan(list(targets or []), request, settings,
                       max_prompt_chars=self.sessions.policy.max_prompt_chars)
        return planned, settings

    async def compare(self, targets: list[str] | None, prompt: str, system: str,
                      files: list[str] | None, max_tokens: float | None,
                      temperature: float | None, top_p: float | None, seed: float | None,
                      timeout_s: float | None, keys: dict[str, str] | None,
                      request: gr.Request = None) -> AsyncIterator[list[Any]]:
        """Run one comparison and stream its frames; bad input raises gr.Error and sends
        nothing."""
        session = session_key(request)
        timeout = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        try:
            if problems := number_problems(timeout_s=timeout):
                raise InputError(problems)
            chat = build_request(prompt, system, files, max_tokens, temperature, top_p, seed)
            # In a thread: readiness may probe a local server (short timeout, cached).
            planned, settings = await asyncio.to_thread(self._plan, targets, chat, keys)
            slot = self._slots(session, request)
            self.sessions.remember_secrets(session, settings)
        except InputError as exc:
            raise gr.Error(render.problems_html(list(dict.fromkeys(exc.problems))),
                           title="Nothing was sent", print_exception=False) from None
        except NotRunnable as exc:
            parts = [render.problems_html(exc.problems)] if exc.problems else []
            raise gr.Error("<br>".join([*parts, exc.html]), title="Nothing was sent",
                           print_exception=False) from None
        comparison = Comparison(chat, planned, self.sessions.pool(), timeout_s=timeout,
                                settings=settings)
        run = LiveRun(comparison)
        self.sessions.start(session, run)
        try:
            yield first_outputs(comparison.results)
            # Gradio asks for the next frame once it has rendered this one: starting the
            # engine here keeps that rendering (panes shown, table built) out of the
            # first TTFTs, which a 20 ms local server would see.
            run.start()
            sent: dict[str, Any] = {}
            async for frame in run.frames():
                record = RunRecord(chat, comparison.results, comparison.wall_ms, timeout) \
                    if frame.final else None
                yield frame_outputs(comparison.results, frame, sent, record)
        finally:
            await run.close()
            self.sessions.finish(session, run)
            slot.close()

    def _slots(self, session: str, request: gr.Request | None) -> ExitStack:
        """Hold a run slot of this session and one of this client's address (the
        session id is the client's choice, the address is not); InputError when either
        is taken, with nothing held."""
        held = ExitStack()
        try:
            held.enter_context(self.limiter.slot(session))
            held.enter_context(self.address_limiter.slot(
                client_address(request, self.sessions.policy.trusted_proxies)))
        except InputError:
            held.close()
            raise
        return held

    async def end_session(self, request: gr.Request = None) -> None:
        """The tab closed: its keys and the clients built on them are dropped."""
        await self.sessions.end(session_key(request))

    async def stop(self, request: gr.Request = None) -> None:
        """Stop this session's comparison; its panes and table then show "stopped"."""
        self.sessions.stop(session_key(request))

    def after_run(self, record: RunRecord | None) -> list[Any]:
        """Charts of TTFT, total time and decode tokens/s, and the CSV/JSON downloads."""
        if record is None:
            return [gr.skip()] * N_AFTER_RUN
        colours = render.chart_colours(record.results)
        order = list(colours)  # bars in target order, not A-Z
        frames = [render.chart_frame(record.results, metric) for metric in render.CHARTS]
        # A chart with no bar (every target failed) is hidden, not drawn empty.
        # Labels turn when more than three bars would make them collide.
        angle = 0 if len(order) <= 3 else -40
        charts = [gr.update(value=frame, sort=order, color_map=colours, x_label_angle=angle,
                            visible=not frame.empty) for frame in frames]
        csv_path, json_path = write_exports(record)
        return [*charts, gr.update(value=str(csv_path), visible=True),
                gr.update(value=str(json_path), visible=True)]


def _padded(values: list[Any], fill: Any) -> list[Any]:
    return values + [fill] * (N_SLOTS - len(values))


def first_outputs(results: Sequence[TargetResult]) -> list[Any]:
    """Show one pane per target, clear the last run's answers, charts and downloads."""
    slots = [gr.update(visible=i < len(results)) for i in range(N_SLOTS)]
    status = _padded([render.status_line(r) for r in results], "")
    answers = _padded(["" for _ in results], "")
    hidden = [gr.update(visible=False)] * len(render.CHARTS)
    table = render.styled_table(render.metrics_table(results))
    return CompareView(slots, status, answers, table, record=None, charts=hidden,
                       downloads=[gr.update(visible=False)] * 2).outputs()


def frame_outputs(results: Sequence[TargetResult], frame: Frame, sent: dict[str, Any],
                  record: RunRecord | None) -> list[Any]:
    """One frame: changed panes and the table when due, each skipped when identical to
    what the page already shows (re-rendering costs the browser). The final frame is
    complete (an API client's result is the last frame) and carries the record."""
    def fresh(key: str, value: Any) -> Any:
        if frame.final:
            return value
        old = sent.get(key)
        if isinstance(value, pd.DataFrame):
            same = isinstance(old, pd.DataFrame) and old.equals(value)
        else:
            same = old == value
        if same:
            return gr.skip()
        sent[key] = value
        return value

    status, answers = [gr.skip()] * N_SLOTS, [gr.skip()] * N_SLOTS
    for i in sorted(frame.changed):
        status[i] = fresh(f"s{i}", render.status_line(results[i]))
        answers[i] = fresh(f"a{i}", render.answer_text(results[i]))
    table = fresh("table", render.metrics_table(results)) if frame.table else gr.skip()
    if isinstance(table, pd.DataFrame):
        table = render.styled_table(table)
    return CompareView([gr.skip()] * N_SLOTS, status, answers, table,
                       record if frame.final else gr.skip(),
                       charts=[gr.skip()] * len(render.CHARTS),
                       downloads=[gr.skip()] * 2).outputs()
