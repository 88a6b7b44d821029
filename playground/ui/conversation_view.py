"""Follow-ups, retries and "New conversation" in the Compare tab: plain handlers that
``layout`` wires.

A follow-up is a comparison whose request differs per pane (each target's own earlier
answers, its own system prompt and parameters when unsynced): the engine runs the
(target, request) pairs and the pages' frames come from ``handlers.frame_outputs``,
as for Compare. Each turn's outputs are Compare's (:class:`handlers.CompareView`) then
the context notice, the drop-oldest button and its offer (``gr.State``), then, for a
follow-up, its box (emptied once the turn is sent).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any

import gradio as gr

from playground import context_fit
from playground.conversation import Conversation, Exchange
from playground.engine import Comparison
from playground.metrics import TargetResult
from playground.ui import render
from playground.ui.conversation_panes import chat_messages, table_rows
from playground.ui.exports import RunRecord
from playground.ui.handlers import N_SLOTS, CompareView, RunHandlers, frame_outputs
from playground.ui.live import Frame
from playground.ui.session import session_key
from playground.ui.turn_inputs import (
    PANE_INPUTS,
    Message,
    apply_controls,
    message_of,
    panes_of,
    timeout_of,
)
from playground.validate import InputError, plan
from providers import parse_target
from providers.base import ChatRequest
from providers.errors import ProviderError

N_SHARED = 7  # system, max tokens, temperature, top_p, seed, idle timeout, keys
N_NOTICE = 3  # the context notice, the drop button, the drop offer


class ConversationHandlers:
    """Follow-up, retry, drop-oldest and New conversation, on Compare's run handlers
    (their session limits, slots and Stop)."""

    def __init__(self, runs: RunHandlers) -> None:
        self.runs = runs
        # Conversations answering now: a second turn of the same one waits its turn.
        self._busy: weakref.WeakSet[Conversation] = weakref.WeakSet()

    async def follow_up(self, request: gr.Request, conversation: Conversation | None,
                        message: Any, pane: Any, *controls: Any) -> AsyncIterator[list[Any]]:
        """Send ``message`` (the follow-up box: text and images) to every pane
        (``pane`` -1) or to one; ``controls``: the shared parameters, the idle timeout,
        the session's keys, then each pane slot's :data:`PANE_INPUTS`."""
        # aclosing (each level): a closed page closes the streams at once.
        async with aclosing(self._turn(request, conversation, pane, controls,
                                       message)) as frames:
            async for outputs in frames:
                sent = outputs[-1] is not None
                yield [*outputs[:-1], gr.update(value=None) if sent else gr.skip()]

    async def retry(self, request: gr.Request, conversation: Conversation | None, pane: Any,
                    *controls: Any) -> AsyncIterator[list[Any]]:
        """Ask the last turn again in every pane (``pane`` -1) or in one, with the pane's
        parameters as they are now; the new answer replaces the old one in its history."""
        async with aclosing(self._turn(request, conversation, pane, controls,
                                       None)) as frames:
            async for outputs in frames:
                yield outputs[:-1]

    async def _turn(self, request: gr.Request | None, conversation: Conversation | None,
                    pane: Any, controls: Sequence[Any], message: Any
                    ) -> AsyncIterator[list[Any]]:
        """One turn; each list ends with a marker (not an output): None until sent."""
        session, retry = session_key(request), message is None
        try:
            if conversation is None:
                raise InputError(["No conversation yet: run a comparison first."])
            indexes = panes_of(conversation, pane)
            if conversation in self._busy:
                raise InputError(["This conversation is still answering: wait for it "
                                  "or press Stop."])
            shared, panes = controls[:N_SHARED], controls[N_SHARED:]
            timeout = timeout_of(shared[5])
            if problems := apply_controls(conversation, shared[:5], panes) + \
                    conversation.turn_problems(indexes, retry=retry):
                raise InputError(problems)
            new = None if retry else message_of(message, self.runs.sessions.policy
                                                .max_prompt_chars)
            pairs = [(index, _request(conversation, index, new)) for index in indexes]
            settings = await asyncio.to_thread(self._plan, conversation, pairs, shared[6])
            # Before sending: a history too long for a target's context is said, with
            # the offer to drop its oldest turns, never cut silently.
            fits = await context_fit.check_all(
                [(parse_target(conversation.panes[i].target), r) for i, r in pairs], settings)
            if overflow := context_fit.overflow_problems(fits):
                offer = {i: fit.drop_pairs for (i, _), fit in zip(pairs, fits)
                         if not fit.fits and fit.fits_after_drop and fit.drop_pairs}
                yield [*[gr.skip()] * len(CompareView.empty().outputs()),
                       *_notice(overflow, offer), None]
                return
            slot = self.runs.hold_slots(session, request)
            self.runs.sessions.remember_secrets(session, settings)
        except InputError as exc:
            raise gr.Error(render.problems_html(list(dict.fromkeys(exc.problems))),
                           title="Nothing was sent", print_exception=False) from None
        except ProviderError as exc:  # a local model's context cannot be read
            raise gr.Error(render.problems_html([exc.message]), title="Nothing was sent",
                           print_exception=False) from None
        self._busy.add(conversation)
        try:
            async with aclosing(self._run(session, slot, conversation, pairs, new, timeout,
                                          settings)) as frames:
                async for outputs in frames:
                    yield [*outputs, *_notice([], {}), True]
        finally:
            self._busy.discard(conversation)

    def _plan(self, conversation: Conversation, pairs: list[tuple[int, ChatRequest]],
              keys: Any) -> Any:
        """Readiness and the request checks of each pane's target (a text-only target
        refuses images, as a first turn does); the session's settings."""
        settings = self.runs.sessions.settings_for(keys)
        problems: list[str] = []
        for index, chat in pairs:
            try:
                plan([conversation.panes[index].target], chat, settings,
                     max_prompt_chars=self.runs.sessions.policy.max_prompt_chars)
            except InputError as exc:
                problems += exc.problems
        if problems:
            raise InputError(problems)
        return settings

    async def _run(self, session: str, slot: Any, conversation: Conversation,
                   pairs: list[tuple[int, ChatRequest]], new: Message | None,
                   timeout: float, settings: Any) -> AsyncIterator[list[Any]]:
        indexes = [index for index, _ in pairs]
        comparison = Comparison.of_pairs(
            [(parse_target(conversation.panes[i].target), r) for i, r in pairs],
            self.runs.sessions.pool(), timeout_s=timeout, settings=settings)
        for index, result in zip(indexes, comparison.results):
            turns = conversation.panes[index].turns
            result.turn = (turns[-1].number if new is None else turns[-1].number + 1) \
                if turns else 1
        live = dict(zip(indexes, comparison.results))

        def rows() -> tuple[list[TargetResult], list[int]]:
            return table_rows(conversation, live, retry=new is None)

        def frame_view(frame: Frame, sent: dict[str, Any]) -> list[Any]:
            view = frame_outputs(comparison.results, frame, sent, None, panes=indexes,
                                 rows=rows)
            if frame.final:
                _record(conversation, pairs, comparison.results, new)
                view.record = RunRecord(pairs[0][1], comparison.results, comparison.wall_ms,
                                        timeout)
                # The turn is recorded in place (Gradio hands a handler the session's
                # own State object) and the State is not sent back: a Compare started
                # meanwhile (a new conversation) must not be overwritten by this one.
            return view.outputs()

        first = _first_view(conversation, live, new, rows())
        async with aclosing(self.runs.stream(session, slot, comparison, first,
                                             frame_view)) as frames:
            async for outputs in frames:
                yield outputs

    def drop_oldest(self, conversation: Conversation | None,
                    offer: dict[int, int] | None) -> list[Any]:
        """Drop, in each pane the context check named, the oldest turns it said must go
        (the user asked: never silently); outputs: conversation, notice, button, offer."""
        if conversation is None or not offer:
            return [gr.skip(), *_notice([], {})]
        done = []
        for index, pairs in offer.items():
            if 0 <= index < len(conversation.panes):
                dropped = conversation.drop_oldest(index, pairs)
                done.append(f"{conversation.panes[index].target}: dropped the oldest "
                            f"{dropped} turn(s); they stay shown but are no longer sent.")
        note = "  \n".join(done) + "  \nSend again."
        return [conversation, gr.update(value=note, visible=True),
                gr.update(visible=False), {}]

    def new_conversation(self) -> list[Any]:
        """Start over: the panes, their chats, the table and the conversation cleared."""
        view = CompareView.empty()
        view.slots = [gr.update(visible=False)] * N_SLOTS
        view.status, view.answers = [""] * N_SLOTS, [""] * N_SLOTS
        view.table = render.styled_table(render.metrics_table([]))
        view.record, view.conversation = None, None
        view.charts = [gr.update(visible=False)] * len(render.CHARTS)
        view.downloads = [gr.update(visible=False)] * 2
        view.chats = [gr.update(value=[], visible=False)] * N_SLOTS
        view.syncs, view.follow = [True] * N_SLOTS, gr.update(visible=False)
        return [*view.outputs(), *_notice([], {})]


def sync_shown(synced: Any) -> dict[str, Any]:
    """A pane's sync switch changed, by the user or by a handler (Compare, New
    conversation, Continue): its own settings show while it is unsynced. Visibility
    only: the fields are left alone, so a restore that set them is never overwritten."""
    return gr.update(visible=synced is False)


def sync_fill(synced: Any, *shared: Any) -> list[Any]:
    """The user turned a pane's sync off: its own fields start from the form's values
    (system prompt and parameters). Wired on the switch's ``.input`` (user actions
    only), so a handler that sets the switch (Continue restoring a pane's saved
    settings) never triggers it."""
    if synced is not False:
        return [gr.skip()] * (len(PANE_INPUTS) - 1)
    return list(shared)


def _request(conversation: Conversation, index: int, new: Message | None) -> ChatRequest:
    if new is not None:
        return conversation.request(index, new.text, new.images)
    last = conversation.panes[index].turns[-1]
    return conversation.request(index, last.text, last.images, retry=True)


def _record(conversation: Conversation, pairs: list[tuple[int, ChatRequest]],
            results: list[TargetResult], new: Message | None) -> None:
    for (index, chat), result in zip(pairs, results):
        pane = conversation.panes[index]
        params = pane.params(conversation.shared)
        if new is None:
            last = pane.turns[-1]
            exchange = Exchange(last.number, last.text, params, result, last.images,
                                last.image_paths)
        else:
            exchange = Exchange(0, new.text, params, result, new.images, new.paths)
        conversation.record(index, exchange, retry=new is None)


def _first_view(conversation: Conversation, live: dict[int, TargetResult],
                new: Message | None, rows: tuple[list[TargetResult], list[int]]) -> list[Any]:
    view = CompareView.empty()
    for index, result in live.items():
        view.status[index] = render.status_line(result)
        view.answers[index] = ""
        view.chats[index] = gr.update(value=chat_messages(conversation, index, new),
                                      visible=True)
    view.table = render.styled_table(render.metrics_table(rows[0]), rows[1])
    view.charts = [gr.update(visible=False)] * len(render.CHARTS)
    view.downloads = [gr.update(visible=False)] * 2
    return view.outputs()


def _notice(problems: list[str], offer: dict[int, int]) -> list[Any]:
    """The context notice, the drop button (shown when dropping would make it fit) and
    the offer (pane -> oldest turns to drop)."""
    if not problems:
        return [gr.update(value="", visible=False), gr.update(visible=False), {}]
    return [gr.update(value="**Nothing was sent.** " + "  \n".join(problems), visible=True),
            gr.update(visible=bool(offer)), offer]
