"""Checks made before anything is sent: bad input gets one clear message and runs nothing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import providers
from providers import Target
from providers.base import ChatRequest
from providers.catalog import lookup
from providers.errors import ConfigError, ProviderError, UnsupportedInputError
from providers.readiness import target_readiness
from providers.settings import Settings

MAX_PROMPT_CHARS = 100_000  # the prompt and the system prompt together
MAX_TARGETS = 6
MAX_IMAGES = 20  # per conversation: every turn's images together
MAX_HISTORY_TURNS = 40  # earlier turns (20 question/answer pairs) before the new one
MAX_CONVERSATION_CHARS = 400_000  # every turn's text and the system prompt together
MAX_TOKENS = 32_768  # above every catalog model's context; bounds the answer cap too
SEED_MAX = 2**32 - 1  # an unsigned 32-bit seed: every runtime (torch, ONNX, Ollama) takes it
MAX_TIMEOUT_S = 600.0  # the idle timeout; PLAYGROUND_MAX_TARGET_S bounds a whole target
MAX_REPEATS = 50  # a scenario's measured runs per case and group
MAX_WARMUP = 5


@dataclass(frozen=True)
class Bound:
    """The allowed range of one numeric input (``low_open``: ``low`` itself excluded)."""

    label: str
    low: float
    high: float
    low_open: bool = False
    whole: bool = False
    unit: str = ""

    def describe(self) -> str:
        if self.whole:
            return f"a whole number from {_shown(int(self.low))} to {_shown(int(self.high))}"
        low = f"more than {self.low:g}" if self.low_open else f"at least {self.low:g}"
        return f"{low} and at most {self.high:,g}{self.unit}"


BOUNDS = {
    "max_tokens": Bound("Max tokens", 1, MAX_TOKENS, whole=True),
    "temperature": Bound("Temperature", 0, 2),
    "top_p": Bound("top_p", 0, 1, low_open=True),
    "seed": Bound("Seed", 0, SEED_MAX, whole=True),
    "timeout_s": Bound("The idle timeout", 0, MAX_TIMEOUT_S, low_open=True, unit=" seconds"),
    "repeats": Bound("Repeats", 1, MAX_REPEATS, whole=True),
    "warmup": Bound("Warm-up runs", 0, MAX_WARMUP, whole=True),
}


def number_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``name`` (a key of :data:`BOUNDS`); None if it is
    valid or unset. NaN and infinities are refused: JSON clients can send them, and
    comparisons with NaN are always false, so a later ``<= 0`` would let them through."""
    if value is None:
        return None
    bound = BOUNDS[name]
    wanted = f"{bound.label} must be {bound.describe()}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{wanted} (got {type(value).__name__})."
    if not math.isfinite(value):
        return f"{wanted}, not {value}."
    too_low = value <= bound.low if bound.low_open else value < bound.low
    if too_low or value > bound.high or (bound.whole and value != int(value)):
        return f"{wanted}, not {_shown(value)}."
    return None


def _shown(value: int | float) -> str:
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number that large"
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"


def number_problems(**values: Any) -> list[str]:
    """:func:`number_problem` for each named value, in order."""
    return [p for name, value in values.items() if (p := number_problem(name, value))]


def whole(value: float | None) -> int | None:
    """A validated whole number as int (call after :func:`number_problem` said yes)."""
    return None if value is None else int(value)


class InputError(ProviderError):
    """The comparison cannot start; ``problems`` lists every reason, one per line."""

    kind = "input"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def check_request(request: ChatRequest, max_prompt_chars: int = MAX_PROMPT_CHARS) -> list[str]:
    """Problems with the prompt and images themselves."""
    problems = []
    system = len(request.system or "")
    if not request.prompt.strip():
        problems.append("The prompt is empty: type a question first.")
    elif len(request.prompt) + system > max_prompt_chars:
        what = (f"The prompt has {len(request.prompt):,} characters" if not system else
                f"The prompt and the system prompt have {len(request.prompt) + system:,} "
                "characters together")
        problems.append(f"{what}; the limit is {max_prompt_chars:,}.")
    problems += conversation_problems(request)
    problems += number_problems(max_tokens=request.max_tokens, temperature=request.temperature,
                                top_p=request.top_p, seed=request.seed)
    return problems


def conversation_problems(request: ChatRequest) -> list[str]:
    """Problems with the history and the conversation as a whole: the number of earlier
    turns, empty questions, the characters and the images of every turn together (the
    roles' alternation is ChatRequest's own check, made when it is built)."""
    problems = []
    history = request.history
    if len(history) > MAX_HISTORY_TURNS:
        problems.append(f"The conversation has {len(history)} earlier turns; the limit is "
                        f"{MAX_HISTORY_TURNS} ({MAX_HISTORY_TURNS // 2} questions and answers)"
                        ": start a new conversation or drop the oldest turns.")
    if empty := [str(i + 1) for i, t in enumerate(history) if t.role == "user"
                 and not t.text.strip()]:
        problems.append(f"Earlier turn(s) {', '.join(empty)} ask nothing (empty question).")
    chars = len(request.system or "") + sum(len(turn.text) for turn in request.turns())
    if history and chars > MAX_CONVERSATION_CHARS:
        problems.append(f"The conversation has {chars:,} characters with its history; the "
                        f"limit is {MAX_CONVERSATION_CHARS:,}: drop the oldest turns.")
    images = len(request.all_images())
    if images > MAX_IMAGES:
        where = " in the conversation" if history else ""
        problems.append(f"{images} images attached{where}; the limit is {MAX_IMAGES}.")
    return problems


def image_problem(target: Target, n_images: int) -> str | None:
    """Why ``target`` cannot take ``n_images`` images, per the Phi catalog (None if it can
    or the model is not in the catalog)."""
    model = lookup(target.provider, target.model)
    if model is None or n_images == 0:
        return None
    limit = model.images_on(target.provider)
    if limit == 0:
        return (f"{target} ({model.name}) is a text-only model; remove the images or pick a "
                "vision model.")
    if n_images > limit:
        return (f"{target} ({model.name}) takes at most {limit} image(s) per request here; "
                f"{n_images} attached.")
    return None


def plan(specs: Sequence[str], request: ChatRequest, settings: Settings, *,
         max_prompt_chars: int = MAX_PROMPT_CHARS) -> list[Target]:
    """Parse and check every target and the request; raise InputError listing all problems.

    A target that cannot run now (:func:`providers.readiness.target_readiness`: no key,
    server down, model not downloaded, retired) is a problem too, with what would fix it.
    May probe a local server (at most 0.5 s per address, cached): call it off the event
    loop from async code."""
    problems = check_request(request, max_prompt_chars)
    targets: list[Target] = []
    if not specs:
        problems.append("No target selected: add at least one PROVIDER:MODEL.")
    if len(specs) > MAX_TARGETS:
        problems.append(f"{len(specs)} targets selected; the limit is {MAX_TARGETS}.")
    for spec in specs:
        try:
            target = providers.parse_target(spec)
        except ConfigError as exc:
            problems.append(exc.message)
            continue
        # The one readiness check (keys, servers, downloads) the pickers and routes use.
        if not (found := target_readiness(target, settings)).ready:
            problems.append(f"{found.target}: {found.describe()}")
            continue
        if (why := image_problem(target, len(request.all_images()))) is not None:
            problems.append(why)
        targets.append(target)
    if problems:
        raise InputError(problems)
    return targets


__all__ = ["BOUNDS", "InputError", "UnsupportedInputError", "check_request",
           "conversation_problems", "image_problem",
           "number_problem", "number_problems", "plan", "whole"]
