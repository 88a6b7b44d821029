"""The parts of a conversation (:mod:`playground.conversation`): a turn's parameters, one
turn of one pane, one pane. Plain data, no Gradio."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playground.metrics import TargetResult
from playground.validate import MAX_PROMPT_CHARS, InputError, number_problems
from providers.base import ImageInput, Turn

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
