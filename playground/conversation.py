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

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from playground.metrics import TargetResult
from playground.validate import (
    MAX_IMAGES,
    MAX_PROMPT_CHARS,
    MAX_TARGETS,
    InputError,
    number_problems,
)
from providers.base import ChatRequest, ImageInput, Turn

FORMAT = "slm-playground/conversation"
VERSION = 1
MAX_TURNS = 50  # per pane: bounds a saved document and what one session keeps
PARAM_NAMES = ("system", "max_tokens", "temperature", "top_p", "seed")


@dataclass(frozen=True)
class Params:
    """A turn's system prompt and sampling parameters (None: the service's default)."""

    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None

    def problems(self) -> list[str]:
        """Every value out of range (``playground.validate.BOUNDS``), and a system prompt
        longer than the prompt limit."""
        found = number_problems(max_tokens=self.max_tokens, temperature=self.temperature,
                                top_p=self.top_p, seed=self.seed)
        if self.system is not None and not isinstance(self.system, str):
            found.append("The system prompt must be text.")
        elif self.system and len(self.system) > MAX_PROMPT_CHARS:
            found.append(f"The system prompt has {len(self.system):,} characters; the "
                         f"limit is {MAX_PROMPT_CHARS:,}.")
        return found

    def document(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PARAM_NAMES}

    @classmethod
    def from_document(cls, data: Any) -> Params:
        if not isinstance(data, Mapping):
            raise InputError(["Parameters must be an object."])
        unknown = set(data) - set(PARAM_NAMES)
        if unknown:
            raise InputError([f"Unknown parameter(s): {', '.join(sorted(map(str, unknown)))}."])
        params = cls(**{name: data.get(name) for name in PARAM_NAMES})
        if problems := params.problems():
            raise InputError(problems)
        return params


@dataclass
class Exchange:
    """One turn of one pane: the user's text and images, the answer and its measurements.

    ``image_paths`` are the uploaded files on this server (shown in the chat view; never
    saved: a document carries the images themselves)."""

    number: int
    text: str
    params: Params
    result: TargetResult
    images: tuple[ImageInput, ...] = ()
    image_paths: tuple[str, ...] = ()
    dropped: bool = False  # left out of the history to fit a context (still shown)

    @property
    def answer(self) -> str:
        return self.result.text

    @property
    def in_history(self) -> bool:
        """Whether the next turns send this one: some answer text arrived and the user
        did not drop it to fit a context."""
        return bool(self.result.text) and not self.dropped \
            and self.result.status not in ("waiting", "running")


@dataclass
class Pane:
    """One target's side of the conversation."""

    target: str
    turns: list[Exchange] = field(default_factory=list)
    synced: bool = True
    overrides: Params = field(default_factory=Params)

    def history(self, before: int | None = None) -> tuple[Turn, ...]:
        """The turns to send before a new one (the first ``before`` turns only, when
        given: a retry resends the last turn after the ones before it)."""
        sent: list[Turn] = []
        for exchange in self.turns[:before]:
            if exchange.in_history:
                sent += [Turn("user", exchange.text, exchange.images),
                         Turn("assistant", exchange.answer)]
        return tuple(sent)

    def params(self, shared: Params) -> Params:
        return shared if self.synced else self.overrides


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
        """The JSON-able document (module docstring); never keys or server paths."""
        return {"format": FORMAT, "version": VERSION, "shared": self.shared.document(),
                "panes": [_pane_document(p) for p in self.panes]}

    @classmethod
    def from_document(cls, data: Any) -> Conversation:
        """Read a document back; InputError naming what is wrong (format, counts,
        parameters out of range, images that are not base64)."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise InputError([f"Not a conversation document (format {FORMAT!r})."])
        if data.get("version") != VERSION:
            raise InputError([f"Conversation document version {data.get('version')!r} "
                              f"is not supported (this version reads {VERSION})."])
        panes = data.get("panes")
        if not isinstance(panes, list) or not 1 <= len(panes) <= MAX_TARGETS:
            raise InputError([f"A conversation has 1 to {MAX_TARGETS} panes."])
        return cls([_pane_from(p) for p in panes], Params.from_document(data.get("shared")))


_RESULT_EXTRA = ("notices", "details", "resolved_model")
_NUMBER = (int, float)
# What from_document takes back of a saved result, and the type each must have.
_RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "status": (str,), "error_kind": (str,), "error": (str,), "finish_reason": (str,),
    "tokens_source": (str,), "resolved_model": (str,), "partial": (bool,),
    "prompt_tokens": (int,), "completion_tokens": (int,), "ttft_ms": _NUMBER,
    "total_ms": _NUMBER, "decode_tokens_per_s": _NUMBER, "itl_p50_ms": _NUMBER,
    "itl_p95_ms": _NUMBER, "chars_per_s": _NUMBER, "notices": (list,), "details": (dict,),
}


def _pane_document(pane: Pane) -> dict[str, Any]:
    return {"target": pane.target, "synced": pane.synced,
            "overrides": pane.overrides.document(),
            "turns": [_exchange_document(e) for e in pane.turns]}


def _exchange_document(exchange: Exchange) -> dict[str, Any]:
    result = {k: v for k, v in exchange.result.public().items() if k != "text"}
    result.update({name: getattr(exchange.result, name) for name in _RESULT_EXTRA})
    images = [{"name": i.name, "mime": i.mime, "data": i.base64()} for i in exchange.images]
    return {"turn": exchange.number, "user": {"text": exchange.text, "images": images},
            "params": exchange.params.document(), "answer": exchange.answer,
            "result": result, "in_history": exchange.in_history}


def _pane_from(data: Any) -> Pane:
    if not isinstance(data, Mapping) or not isinstance(data.get("target"), str):
        raise InputError(["Each pane needs a target (PROVIDER:MODEL)."])
    turns = data.get("turns", [])
    if not isinstance(turns, list) or len(turns) > MAX_TURNS:
        raise InputError([f"A pane has at most {MAX_TURNS} turns."])
    pane = Pane(data["target"], synced=bool(data.get("synced", True)),
                overrides=Params.from_document(data.get("overrides", {})))
    pane.turns = [_exchange_from(pane.target, t, n) for n, t in enumerate(turns, 1)]
    return pane


def _exchange_from(target: str, data: Any, number: int) -> Exchange:
    if not isinstance(data, Mapping) or not isinstance(data.get("user"), Mapping):
        raise InputError([f"{target}: turn {number} is not a turn object."])
    user, answer = data["user"], data.get("answer", "")
    text = user.get("text")
    if not isinstance(text, str) or not isinstance(answer, str):
        raise InputError([f"{target}: turn {number} needs text and an answer as text."])
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError([f"{target}: turn {number}'s text is over {MAX_PROMPT_CHARS:,} "
                          "characters."])
    images = user.get("images", [])
    if not isinstance(images, list) or len(images) > MAX_IMAGES:
        raise InputError([f"{target}: turn {number} has more than {MAX_IMAGES} images."])
    shown = data.get("turn")
    if isinstance(shown, int) and not isinstance(shown, bool) and 1 <= shown <= 10 * MAX_TURNS:
        number = shown  # numbers stay as shown after the oldest turns were dropped
    return Exchange(number, text, Params.from_document(data.get("params", {})),
                    _result_from(target, number, data.get("result"), answer),
                    tuple(_image_from(target, number, i) for i in images),
                    dropped=data.get("in_history") is False and bool(answer))


def _result_from(target: str, number: int, saved: Any, answer: str) -> TargetResult:
    """The saved measurements, each of the type the engine writes (numbers finite)."""
    saved = saved if isinstance(saved, Mapping) else {}
    provider, _, model = target.partition(":")
    values: dict[str, Any] = {"target": target, "provider": provider, "model": model}
    for name, kinds in _RESULT_TYPES.items():
        value = saved.get(name)
        if value is None:
            continue
        if isinstance(value, bool) != (kinds == (bool,)) or not isinstance(value, kinds) \
                or (isinstance(value, float) and not math.isfinite(value)):
            raise InputError([f"{target}: turn {number}'s {name} is not valid."])
        values[name] = value
    return TargetResult(**values, turn=number, text=answer)


def _image_from(target: str, number: int, data: Any) -> ImageInput:
    try:
        raw = base64.b64decode(data["data"], validate=True)
        return ImageInput(raw, str(data.get("mime", "image/png")), str(data.get("name", "image")))
    except (TypeError, KeyError, binascii.Error):
        raise InputError([f"{target}: an image of turn {number} is not base64 data."]) \
            from None


__all__ = ["FORMAT", "MAX_TURNS", "Conversation", "Exchange", "Pane", "Params"]
