"""Helpers for the conversation UI tests: drive a follow-up or a retry like the page does
and read its frames."""

from __future__ import annotations

import asyncio
from typing import Any

from playground.conversation import Conversation
from playground.ui.conversation_view import ConversationHandlers
from playground.ui.handlers import COMPARE_OUTPUTS, RunHandlers
from playground.ui.turn_inputs import ALL_PANES
from tests.ui_support import SKIP, run_compare, unpack

N_COMPARE = sum(COMPARE_OUTPUTS.values())
NO_OVERRIDE = ("", None, None, None, None)


def controls(*, system: str = "", max_tokens: Any = 64, temperature: Any = None,
             top_p: Any = None, seed: Any = None, timeout_s: Any = 10,
             keys: dict[str, str] | None = None,
             own: dict[int, tuple[Any, ...]] | None = None) -> list[Any]:
    """The form's values, then each pane slot's (sync, system, max tokens, temperature,
    top_p, seed); ``own[i]``: pane ``i`` unsynced with these five values."""
    values = [system, max_tokens, temperature, top_p, seed, timeout_s, keys or {}]
    for index in range(6):
        values += [False, *own[index]] if own and index in own else [True, *NO_OVERRIDE]
    return values


def turn_frames(runs: RunHandlers, turns: ConversationHandlers, conversation: Any,
                message: Any = None, *, pane: int = ALL_PANES, values: list[Any] | None = None,
                during: Any = None) -> list[dict[str, Any]]:
    """Every frame of a follow-up (``message`` given) or a retry, unpacked; the
    notice, drop button and offer under "notice" (and the box under "box")."""
    values = values if values is not None else controls()

    async def go() -> list[dict[str, Any]]:
        frames = []
        events = turns.retry(None, conversation, pane, *values) if message is None else \
            turns.follow_up(None, conversation, message, pane, *values)
        try:
            async for outputs in events:
                named = unpack(outputs[:N_COMPARE])
                named["notice"] = outputs[N_COMPARE:N_COMPARE + 3]
                named["box"] = outputs[N_COMPARE + 3] if message is not None else SKIP
                frames.append(named)
                if during is not None:
                    during(frames)
        finally:
            await runs.sessions.close_pool()
        return frames
    return asyncio.run(go())


def start(runs: RunHandlers, inputs: list[Any]) -> Any:
    """A first turn through Compare; returns the conversation it starts."""
    frames, _ = run_compare(runs, inputs)
    conversation = frames[-1]["conversation"]
    assert isinstance(conversation, Conversation)
    return conversation


def bodies(server: Any, path: str) -> list[dict[str, Any]]:
    """The JSON bodies POSTed to ``path``, oldest first."""
    return [r.json for r in server.chat_requests() if r.path == path]


def texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of each message of an OpenAI-style body (image parts left out)."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
        out.append((message["role"], content))
    return out
