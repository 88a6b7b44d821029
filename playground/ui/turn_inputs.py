"""The inputs of a follow-up or a retry, read and checked before anything is sent.

The page sends the form's parameters (what synced panes use), then each pane's own
controls (:data:`PANE_INPUTS`, six per pane slot); an API client sends the same list.
Every number is checked here (finite, in range) and every text bounded, so a bad value
gets one clear message naming the pane, whatever sent it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from playground.conversation import Conversation, Params
from playground.engine import DEFAULT_TIMEOUT_S
from playground.ui.attach import image_paths, load_images
from playground.validate import MAX_IMAGES, MAX_TARGETS, InputError, number_problems, whole
from providers.base import ImageInput

# Each pane slot's controls, in the order the page sends them.
PANE_INPUTS = ("sync", "system", "max_tokens", "temperature", "top_p", "seed")
ALL_PANES = -1  # the ``pane`` input of a follow-up typed once for every pane


@dataclass(frozen=True)
class Message:
    """The user's new turn: text and images (the uploaded files' paths)."""

    text: str
    images: tuple[ImageInput, ...]
    paths: tuple[str, ...]


def params_of(system: Any, max_tokens: Any, temperature: Any, top_p: Any, seed: Any,
              where: str = "") -> tuple[Params, list[str]]:
    """Parameters from form values, and their problems (each prefixed with ``where``)."""
    problems = number_problems(max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                               seed=seed)
    if system is not None and not isinstance(system, str):
        problems.append("The system prompt must be text.")
        system = None
    params = Params((system or "").strip() or None, None, None, None, None)
    if not problems:
        params = Params(params.system, whole(max_tokens), temperature, top_p, whole(seed))
        problems = params.problems()
    return params, [f"{where}{p}" for p in problems]


def apply_controls(conversation: Conversation, shared: Sequence[Any],
                   panes: Sequence[Any]) -> list[str]:
    """Set the conversation's shared parameters and each pane's sync switch and own
    parameters from the page's values; returns every problem (nothing is set then)."""
    params, problems = params_of(*shared)
    if len(panes) != len(PANE_INPUTS) * MAX_TARGETS:
        return problems + [f"Expected {len(PANE_INPUTS)} values for each of the "
                           f"{MAX_TARGETS} pane slots, got {len(panes)} values."]
    settings = []
    for index, pane in enumerate(conversation.panes):
        sync, *own = panes[index * len(PANE_INPUTS):(index + 1) * len(PANE_INPUTS)]
        if not isinstance(sync, bool):
            problems.append(f"Pane {index + 1}: sync must be true or false.")
        overrides, found = params_of(*own, where=f"Pane {index + 1} ({pane.target}): ")
        problems += found if sync is False else []  # a synced pane's fields are unused
        settings.append((sync is not False, overrides))
    if problems:
        return problems
    conversation.shared = params
    for pane, (synced, overrides) in zip(conversation.panes, settings):
        pane.synced, pane.overrides = synced, overrides if not synced else pane.overrides
    return []


def timeout_of(timeout_s: Any) -> float:
    timeout = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
    if problems := number_problems(timeout_s=timeout):
        raise InputError(problems)
    return float(timeout)


def message_of(value: Any, max_chars: int) -> Message:
    """The follow-up box's value (``{"text", "files"}``, or plain text from an API
    client) as a message; InputError for empty or oversized text, unreadable images."""
    if isinstance(value, str):
        value = {"text": value, "files": []}
    if not isinstance(value, Mapping) or not isinstance(value.get("text") or "", str):
        raise InputError(["The follow-up must be text (and images)."])
    text, files = value.get("text") or "", value.get("files") or []
    problems = []
    if not text.strip():
        problems.append("The follow-up is empty: type a question first.")
    elif len(text) > max_chars:
        problems.append(f"The follow-up has {len(text):,} characters; the limit is "
                        f"{max_chars:,}.")
    paths = image_paths(files if isinstance(files, list) else [files])
    if len(paths) > MAX_IMAGES:
        problems.append(f"{len(paths)} images attached; the limit is {MAX_IMAGES}.")
        paths = []
    images = load_images(paths, problems)
    if problems:
        raise InputError(problems)
    return Message(text, images, tuple(paths))


def panes_of(conversation: Conversation | None, pane: Any) -> list[int]:
    """The panes a follow-up or retry goes to: all (``ALL_PANES``) or one, by index."""
    if conversation is None or not conversation.panes:
        raise InputError(["No conversation yet: run a comparison first."])
    if pane is None or pane == ALL_PANES:
        return list(range(len(conversation.panes)))
    if isinstance(pane, bool) or not isinstance(pane, (int, float)) or pane != int(pane) \
            or not 0 <= pane < len(conversation.panes):
        raise InputError([f"Pane must be {ALL_PANES} (every pane) or 0 to "
                          f"{len(conversation.panes) - 1}, not {pane!r}."])
    return [int(pane)]
