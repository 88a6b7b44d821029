"""A conversation across the Compare tab's panes: each pane (one target) keeps its own
turns, its own answers and, when unsynced, its own system prompt and parameters.

Plain data, no Gradio: the UI (``playground.ui.conversation_view``) builds each turn's
requests from it, and save/export serialize it with :meth:`Conversation.to_document`.

A pane's history (what its target is sent before the new user turn) is its own earlier
turns that have answer text, oldest first: a turn that failed or was stopped before any
text arrived is shown but never sent (an empty assistant message is refused by several
services); a turn stopped with part of its answer is sent with that part, as the user
saw it (Retry replaces it with a full one).

The document (``to_document`` / ``from_document``; JSON, never keys)::

    {
      "format": "slm-playground/conversation", "version": 1,
      "shared": PARAMS,              # the form's parameters, used by synced panes
      "panes": [                     # one per target, in pane order (at most 6)
        {
          "target": "PROVIDER:MODEL",
          "synced": true,            # false: the pane uses its own "overrides"
          "overrides": PARAMS,
          "turns": [                 # oldest first (at most MAX_TURNS)
            {
              "turn": 1,             # 1-based, this pane's own count
              "user": {"text": "...",
                       "images": [{"name": "cat.png", "mime": "image/png",
                                   "data": "<base64>"}]},
              "params": PARAMS,      # what this turn was sent with
              "answer": "...",       # the text received (partial on stop / error)
              "result": {...},       # the engine's measurements: TargetResult.public()
                                     # without "text", plus "notices" and "details"
              "in_history": true     # sent in the next turns' history: false when no
                                     # answer text arrived or the user dropped it
            }
          ]
        }
      ]
    }

    PARAMS = {"system": str | null, "max_tokens": int | null, "temperature": float | null,
              "top_p": float | null, "seed": int | null}

Times in ``result`` are milliseconds from the engine's ``perf_counter()`` marks
(``playground.metrics``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from playground import conversation_doc
from playground.conversation_parts import (
    FORMAT,
    MAX_TURNS,
    PARAM_NAMES,
    VERSION,
    Exchange,
    Pane,
    Params,
)
from playground.metrics import TargetResult
from providers.base import ChatRequest, ImageInput


@dataclass(eq=False)  # one conversation is one object (the UI tracks which are answering)
class Conversation:
    """Every pane's turns; ``shared`` are the parameters synced panes use."""

    panes: list[Pane] = field(default_factory=list)
    shared: Params = field(default_factory=Params)

    @classmethod
    def start(cls, targets: list[str], shared: Params) -> Conversation:
        return cls([Pane(target) for target in targets], shared)

    @classmethod
    def first_turn(cls, request: ChatRequest, results: list[TargetResult],
                   image_paths: list[str] | tuple[str, ...] = ()) -> Conversation:
        """The conversation a comparison starts: ``request`` sent to every target, whose
        ``results`` (in pane order) are each pane's first answer."""
        shared = Params(request.system, request.max_tokens, request.temperature,
                        request.top_p, request.seed)
        conversation = cls.start([r.target for r in results], shared)
        for index, result in enumerate(results):
            conversation.record(index, Exchange(1, request.prompt, shared, result,
                                                request.images, tuple(image_paths)))
        return conversation

    def request(self, index: int, text: str, images: tuple[ImageInput, ...] = (), *,
                retry: bool = False) -> ChatRequest:
        """Pane ``index``'s request for a new user turn (or, with ``retry``, for its last
        turn again, after the turns before it), with the pane's own parameters."""
        pane = self.panes[index]
        params = pane.params(self.shared)
        history = pane.history(len(pane.turns) - 1 if retry else None)
        return ChatRequest(model="", prompt=text, system=params.system, images=images,
                           max_tokens=params.max_tokens, temperature=params.temperature,
                           top_p=params.top_p, seed=params.seed, history=history)

    def turn_problems(self, indexes: list[int], *, retry: bool = False) -> list[str]:
        """Why these panes cannot take another turn (or retry their last)."""
        problems = []
        for index in indexes:
            pane = self.panes[index]
            if retry and not pane.turns:
                problems.append(f"{pane.target} has no turn to retry yet.")
            elif not retry and len(pane.turns) >= MAX_TURNS:
                problems.append(f"{pane.target} has {MAX_TURNS} turns, the limit of one "
                                "conversation: start a new conversation.")
        return problems

    def record(self, index: int, exchange: Exchange, *, retry: bool = False) -> None:
        """Add pane ``index``'s new turn, or replace its last one (``retry``)."""
        turns = self.panes[index].turns
        number = turns[-1].number if retry and turns else \
            (turns[-1].number + 1 if turns else 1)
        exchange.result.turn = number  # the table's turn: this pane's own count
        if retry and turns:
            turns[-1] = replace(exchange, number=number)
        else:
            turns.append(replace(exchange, number=number))

    def drop_oldest(self, index: int, count: int) -> int:
        """Stop sending pane ``index``'s ``count`` oldest turns that are sent (the user
        asked, to fit the model's context); they stay in the pane, the table and the
        document. Returns how many were dropped."""
        dropped = 0
        for exchange in self.panes[index].turns:
            if dropped < count and exchange.in_history:
                exchange.dropped = True
                dropped += 1
        return dropped

    def turns_done(self) -> int:
        return max((len(p.turns) for p in self.panes), default=0)

    def to_document(self) -> dict[str, Any]:
        """The JSON-able document (format: the module docstring); never keys or server
        paths (:mod:`playground.conversation_doc`)."""
        return conversation_doc.write(self.shared, self.panes)

    @classmethod
    def from_document(cls, data: Any) -> Conversation:
        """Read a document back; InputError naming what is wrong (format, counts,
        parameters out of range, measurements of the wrong type, images that are not
        base64)."""
        return cls(*conversation_doc.read(data))


__all__ = ["FORMAT", "MAX_TURNS", "PARAM_NAMES", "VERSION", "Conversation", "Exchange", "Pane",
           "Params"]
