"""The messages between the app and an ``onnx`` worker process
(:mod:`providers.local.onnx_worker`, driven by :mod:`providers.local.onnx_process`), as
small dataclasses pickled over a ``multiprocessing.connection``. Standard library only:
the worker imports it, and nothing heavy may come along.

Parent to worker: :class:`Generate` (one request, ``rid`` chosen by the parent) and
:class:`Cancel` (the request's loop stops before its next token). Worker to parent: once
:class:`Ready` or :class:`Failed`; then per request any number of :class:`Reply` with
items (:class:`PromptSize` once, then :class:`Text` per generated id) and no outcome,
and a last one whose outcome is :class:`Finished` or :class:`WorkerError`. The parent
makes a last reply with :class:`Died` itself when the process ends under a request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class WorkerError:
    """A failure the parent raises as the ProviderError whose ``kind`` is ``kind``
    (``providers.errors.error_class``)."""

    kind: str
    message: str


@dataclass(frozen=True)
class Ready:
    """The worker has loaded its model (``load_ms``: the model and its warm-up, ms)."""

    load_ms: float


@dataclass(frozen=True)
class Failed:
    """The worker could not load its model; it exits."""

    error: WorkerError


@dataclass(frozen=True)
class Generate:
    """One chat request (the ChatRequest's fields). ``history`` holds the earlier turns
    as (role, text, number of images in that turn), oldest first; ``images`` every image
    of the conversation as (bytes, name) pairs, in the order the turns carry them (the
    new turn's last)."""

    rid: int
    prompt: str
    system: str | None
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    seed: int | None
    images: tuple[tuple[bytes, str], ...] = ()
    history: tuple[tuple[str, str, int], ...] = ()

    def turns(self) -> tuple[tuple[str, str, int], ...]:
        """Every turn as (role, text, images), the new user turn last."""
        earlier = sum(count for _, _, count in self.history)
        return (*self.history, ("user", self.prompt, len(self.images) - earlier))


@dataclass(frozen=True)
class Cancel:
    """Stop request ``rid`` (nothing more is sent for it)."""

    rid: int


@dataclass(frozen=True)
class PromptSize:
    """The prompt's tokens after the chat template (images included) and the context."""

    prompt_tokens: int
    context_length: int


@dataclass(frozen=True)
class Text:
    """The text of one generated id (may be empty: the start of a UTF-8 character)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """How generation ended: ``reason`` (``stop`` or ``length``) and exact counts."""

    reason: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Died:
    """The worker process ended under the request (made by the parent)."""


Item = Union[PromptSize, Text]
Outcome = Union[Finished, WorkerError, Died]


@dataclass(frozen=True)
class Reply:
    """Items for request ``rid``; the last reply of a request has an ``outcome``."""

    rid: int
    items: list[Item] = field(default_factory=list)
    outcome: Outcome | None = None

    @property
    def last(self) -> bool:
        return self.outcome is not None
