"""The run's event handlers: Compare (an async generator over throttled frames), Stop,
and the step after a run (charts and downloads). Plain methods; ``layout`` wires them.

Compare's outputs, by name (:class:`CompareView`, in :data:`COMPARE_OUTPUTS` order): the 6
pane columns, their 6 status lines, their 6 answers, the metrics table, the run record
(``gr.State``), the 3 charts, the 2 download buttons, then the conversation's: the 6 chat
views (earlier turns), the conversation (``gr.State``), the 6 panes' sync switches and the
follow-up row. ``gr.skip()`` leaves an output as it is. Follow-ups and retries
(``conversation_view``) send the same outputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import ExitStack, aclosing
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import pandas as pd

from playground.conversation import Conversation
from playground.engine import DEFAULT_TIMEOUT_S, Comparison
from playground.limits import SlotLimiter, client_address, hold_all
from playground.metrics import TargetResult
from playground.policy import SessionLimiter
from playground.ui import readiness_view, render
from playground.ui.attach import image_paths, load_images
from playground.ui.exports import RunRecord, write_exports
from playground.ui.live import Frame, LiveRun
from playground.ui.session import Sessions, session_key
from playground.validate import InputError, check_request, number_problems, plan, whole
from providers import Target
from providers.base import ChatRequest

N_SLOTS = 6
COMPARE_OUTPUTS = {"slots": N_SLOTS, "status": N_SLOTS, "answers": N_SLOTS, "table": 1,
                   "record": 1, "charts": len(render.CHARTS), "downloads": 2,
                   "chats": N_SLOTS, "conversation": 1, "syncs": N_SLOTS, "follow": 1}
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
    chats: list[Any] = field(default_factory=lambda: [gr.skip()] * N_SLOTS)
    conversation: Any = field(default_factory=gr.skip)
    syncs: list[Any] = field(default_factory=lambda: [gr.skip()] * N_SLOTS)
    follow: Any = field(default_factory=gr.skip)

    @classmethod
    def empty(cls) -> CompareView:
        """Every output skipped (left as the page shows it); set the ones to change."""
        skips = lambda n: [gr.skip()] * n  # noqa: E731
        return cls(skips(N_SLOTS), skips(N_SLOTS), skips(N_SLOTS), gr.skip(), gr.skip(),
                   skips(len(render.CHARTS)), skips(2))

    def outputs(self) -> list[Any]:
        return [*self.slots, *self.status, *self.answers, self.table, self.record,
                *self.charts, *self.downloads, *self.chats, self.conversation,
                *self.syncs, self.follow]

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
    images = load_images(image_paths(files), problems)
    if problems:
        raise InputError(problems)
    return ChatRequest(model="", prompt=prompt or "", system=(system or "").strip() or None,
                       images=images,
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
            slot = self.hold_slots(session, request)
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

        def frame_view(frame: Frame, sent: dict[str, Any]) -> list[Any]:
            if not frame.final:
                return frame_outputs(comparison.results, frame, sent, None).outputs()
            record = RunRecord(chat, comparison.results, comparison.wall_ms, timeout)
            view = frame_outputs(comparison.results, frame, sent, record)
            view.conversation = Conversation.first_turn(chat, comparison.results,
                                                        image_paths(files))
            return view.outputs()

        # aclosing: a closed page (Gradio closes this generator) closes the stream now.
        async with aclosing(self.stream(session, slot, comparison,
                                        first_outputs(comparison.results),
                                        frame_view)) as frames:
            async for outputs in frames:
                yield outputs

    async def stream(self, session: str, slot: ExitStack, comparison: Comparison,
                     first: list[Any], frame_view: Callable[[Frame, dict[str, Any]], list[Any]]
                     ) -> AsyncIterator[list[Any]]:
        """Yield ``first``, then run ``comparison`` and yield ``frame_view`` of each frame
        (``sent``: what the page shows, for skipping repeats); releases ``slot`` at the
        end. Stop (this session's) ends it with every pane "stopped"."""
        run = LiveRun(comparison)
        self.sessions.start(session, run)
        try:
            yield first
            # Gradio asks for the next frame once it has rendered this one: starting the
            # engine here keeps that rendering (panes shown, table built) out of the
            # first TTFTs, which a 20 ms local server would see.
            run.start()
            sent: dict[str, Any] = {}
            async for frame in run.frames():
                yield frame_view(frame, sent)
        finally:
            await run.close()
            self.sessions.finish(session, run)
            slot.close()

    def hold_slots(self, session: str, request: gr.Request | None) -> ExitStack:
        """Hold a run slot of this session and one of this client's address (the
        session id is the client's choice, the address is not); InputError when either
        is taken, with nothing held."""
        address = client_address(request, self.sessions.policy.trusted_proxies)
        return hold_all(self.limiter.slot(session), self.address_limiter.slot(address))

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
    # A new conversation: no earlier turns, every pane synced, the follow-up row shown.
    return CompareView(slots, status, answers, table, record=None, charts=hidden,
                       downloads=[gr.update(visible=False)] * 2,
                       chats=[gr.update(value=[], visible=False)] * N_SLOTS,
                       conversation=None, syncs=[True] * N_SLOTS,
                       follow=gr.update(visible=True)).outputs()


TableRows = Callable[[], tuple[list[TargetResult], list[int]]]


def frame_outputs(results: Sequence[TargetResult], frame: Frame, sent: dict[str, Any],
                  record: RunRecord | None, *, panes: Sequence[int] | None = None,
                  rows: TableRows | None = None) -> CompareView:
    """One frame: changed panes and the table when due, each skipped when identical to
    what the page already shows (re-rendering costs the browser). The final frame is
    complete (an API client's result is the last frame) and carries the record.
    ``panes[i]`` is the pane of ``results[i]`` (default: the same index); ``rows``
    gives the table's rows and each row's pane (default: ``results``)."""
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
    pane_of = list(panes) if panes is not None else list(range(len(results)))
    for i in sorted(frame.changed):
        pane = pane_of[i]
        status[pane] = fresh(f"s{pane}", render.status_line(results[i]))
        answers[pane] = fresh(f"a{pane}", render.answer_text(results[i]))
    table_results, table_panes = rows() if rows else (list(results), pane_of)
    table = fresh("table", render.metrics_table(table_results)) if frame.table else gr.skip()
    if isinstance(table, pd.DataFrame):
        table = render.styled_table(table, table_panes)
    return CompareView([gr.skip()] * N_SLOTS, status, answers, table,
                       record if frame.final else gr.skip(),
                       charts=[gr.skip()] * len(render.CHARTS),
                       downloads=[gr.skip()] * 2)
