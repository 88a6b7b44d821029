"""What a conversation's panes show, from its recorded turns: each pane's chat view
(earlier questions, images and answers, saying when a turn is no longer sent) and the
metrics table's rows (one per pane and turn). Pure functions: the follow-up handlers
(``conversation_view``) and "Continue from here" (``saved_handlers``) share them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from playground.conversation import Conversation, Exchange
from playground.metrics import TargetResult
from playground.ui import render
from playground.ui.turn_inputs import Message


def table_rows(conversation: Conversation, live: dict[int, TargetResult], *, retry: bool
               ) -> tuple[list[TargetResult], list[int]]:
    """The metrics table of a conversation: one row per pane and turn, by turn then
    pane; ``live`` results (pane -> result) replace the pane's last turn (a retry) or
    follow it."""
    rows: list[tuple[int, int, TargetResult]] = []
    for index, pane in enumerate(conversation.panes):
        turns = pane.turns[:-1] if retry and index in live else pane.turns
        rows += [(exchange.number, index, exchange.result) for exchange in turns]
        if index in live:
            rows.append((live[index].turn, index, live[index]))
    rows.sort(key=lambda row: (row[0], row[1]))
    return [r for _, _, r in rows], [i for _, i, _ in rows]


def chat_messages(conversation: Conversation, index: int,
                  new: Message | None) -> list[dict[str, Any]]:
    """Pane ``index``'s chat view: every earlier turn (question, images, answer), then
    the question being answered (its answer streams below, in the pane's answer box)."""
    turns = conversation.panes[index].turns
    asked = turns if new is not None else turns[:-1]
    messages: list[dict[str, Any]] = []
    for exchange in asked:
        messages += _user_messages(exchange.text, exchange.image_paths,
                                   len(exchange.images))
        messages.append({"role": "assistant", "content": _answer_shown(exchange)})
    if new is not None:
        messages += _user_messages(new.text, new.paths, len(new.images))
    elif turns:
        last = turns[-1]
        messages += _user_messages(last.text, last.image_paths, len(last.images))
    return messages


def _answer_shown(exchange: Exchange) -> str:
    """An earlier answer, saying when the next turns do not send it (never silently)."""
    text = render.answer_text(exchange.result)
    if exchange.dropped:
        return f"{text}\n\n*(dropped to fit the context: no longer sent)*"
    if not exchange.in_history:
        return f"{text}\n\n*(no answer text: this turn is not sent again)*"
    return text


def _user_messages(text: str, paths: Sequence[str], images: int) -> list[dict[str, Any]]:
    # Images of a reopened document have no file here: they are named, not shown.
    shown = [{"role": "user", "content": {"path": path}} for path in paths]
    if images > len(paths):
        shown.append({"role": "user", "content": f"*({images} image(s))*"})
    return [*shown, {"role": "user", "content": text}]
