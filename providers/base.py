"""What every provider shares: the request, the stream events and the provider base class.

A provider turns one :class:`ChatRequest` into an async stream of events:
:class:`TextDelta` pieces, at most one :class:`Usage`, :class:`Notice` messages and a
final :class:`Finish`. Failures are raised as :class:`providers.errors.ProviderError`
(the error event of the stream). Timing, retries policy, logging and rendering live in
the engine (``playground.engine``), never here.
"""

from __future__ import annotations

import base64
import sys
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Union

from providers.errors import ConfigError
from providers.public import is_public
from providers.settings import Settings
from providers.spec import EnvVar, ProviderSpec

TokensSource = Literal["reported", "counted", "estimated"]


@dataclass(frozen=True)
class ImageInput:
    """One image attached to the user turn, as raw bytes with its MIME type."""

    data: bytes
    mime: str = "image/png"
    name: str = "image"

    def base64(self) -> str:
        """The image as bare base64 text (Ollama's wire form)."""
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        """The image as a ``data:`` URL (OpenAI ``image_url`` wire form)."""
        return f"data:{self.mime};base64,{self.base64()}"


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation: the user's (text and images) or the answer
    the same target gave (``assistant``; never images)."""

    role: Literal["user", "assistant"]
    text: str
    images: tuple[ImageInput, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ("user", "assistant"):
            raise ValueError(f"a turn's role is 'user' or 'assistant', not {self.role!r}")
        if self.role == "assistant" and self.images:
            raise ValueError("an answer carries no images")


@dataclass(frozen=True)
class ChatRequest:
    """One chat request: a new user turn (``prompt`` and ``images``) after ``history``.

    ``history`` holds the earlier turns of this target's own conversation, oldest first,
    alternating user / assistant and starting with a user turn (empty for a first turn).
    Each target of a comparison may get its own request (its own answers in its history,
    its own system prompt and parameters). ``max_tokens`` counts generated tokens;
    ``temperature``/``top_p``/``seed`` are sent only when set, so each service keeps its
    own defaults otherwise. ``first_turn`` is the conversation turn (1-based) that
    ``history`` starts with: above 1 once the oldest turns were dropped to fit a context
    window (:mod:`playground.context_fit`), so the turn numbers shown stay the same.
    """

    model: str
    prompt: str
    system: str | None = None
    images: tuple[ImageInput, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    history: tuple[Turn, ...] = ()
    first_turn: int = 1

    def __post_init__(self) -> None:
        if self.first_turn < 1:
            raise ValueError(f"first_turn is 1-based, not {self.first_turn}")
        for index, turn in enumerate(self.history):
            expected = "user" if index % 2 == 0 else "assistant"
            if turn.role != expected:
                raise ValueError(f"history turn {index + 1} should be the {expected}'s, "
                                 f"not the {turn.role}'s")
        if len(self.history) % 2:
            raise ValueError("the history ends with a user turn that has no answer")

    def turns(self) -> tuple[Turn, ...]:
        """Every turn to send, oldest first: the history, then the new user turn."""
        return (*self.history, Turn("user", self.prompt, self.images))

    def all_images(self) -> tuple[ImageInput, ...]:
        """Every image in the conversation, in the order the turns carry them."""
        return tuple(image for turn in self.turns() for image in turn.images)


@dataclass(frozen=True)
class TextDelta:
    """New answer text (never cumulative). ``tokens`` is set by in-process runtimes
    that know exactly how many generated ids produced this piece."""

    text: str
    tokens: int | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts for the whole request and where they come from."""

    prompt_tokens: int | None
    completion_tokens: int | None
    source: TokensSource = "reported"


@dataclass(frozen=True)
class Notice:
    """Something the user should know about this target's run (e.g. an image was
    downscaled to fit the service's limit). Shown next to the answer."""

    message: str


@dataclass(frozen=True)
class Finish:
    """The end of a stream.

    ``reason`` is the service's finish reason (``stop``, ``length``, ...);
    ``model`` the model id the service says it used; ``details`` extra measured
    values from the service or runtime (e.g. Ollama's ``load_ms``, ``eval_ms``),
    each key ending in its unit.
    """

    reason: str | None
    model: str | None = None
    details: Mapping[str, float | int | str] = field(default_factory=dict)


Event = Union[TextDelta, Usage, Notice, Finish]


@dataclass(frozen=True)
class ModelEntry:
    """A model a provider can serve, for pickers: id plus what is known about it."""

    id: str
    family: str | None = None
    vision: bool = False
    max_images: int = 0
    context_length: int | None = None
    source: Literal["catalog", "service", "local"] = "catalog"
    note: str = ""


@dataclass(frozen=True)
class ConfigGap:
    """What keeps a provider from running here (:meth:`Provider.configuration_gap`):
    required variables without a value, or optional packages not installed; a provider
    with its own wording adds ``reason`` (a few words) and ``refusal`` (the error)."""

    settings: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    reason: str = ""
    refusal: str = ""


class Provider(ABC):
    """Base class of every provider module.

    Subclasses declare ``id`` and implement :meth:`stream`. A class whose module's
    ``SPEC`` (:class:`~providers.spec.ProviderSpec`) has its ``id`` takes ``title``,
    ``env`` (the variables it reads), ``local`` (runs on this machine's CPU) and
    ``status_note`` from there, so what the registry reads before the provider is used
    and what the class does cannot drift; any other subclass (tests) declares them itself.
    """

    id: ClassVar[str]
    title: ClassVar[str]
    env: ClassVar[tuple[EnvVar, ...]] = ()
    local: ClassVar[bool] = False
    status_note: ClassVar[str] = ""
    install_hint: ClassVar[str] = ""  # how to get what missing_packages() names

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        spec = getattr(sys.modules.get(cls.__module__), "SPEC", None)
        if isinstance(spec, ProviderSpec) and spec.id == cls.__dict__.get("id"):
            cls.title, cls.env, cls.local = spec.title, spec.env, spec.local
            cls.status_note = spec.status_note

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def setting(self, name: str) -> str | None:
        """A declared setting's value, falling back to its default."""
        var = next(v for v in self.env if v.name == name)
        return self.settings.get(name) or var.default

    def missing_settings(self) -> list[str]:
        """Names of required variables that have no value."""
        return [v.name for v in self.env if v.required and not self.setting(v.name)]

    def missing_packages(self) -> list[str]:
        """Python packages this provider needs that are not installed (optional extras)."""
        return []

    def configuration_gap(self) -> ConfigGap | None:
        """What keeps this provider from running here (None when nothing does): the one
        configuration check. :meth:`check_configured` and :mod:`providers.readiness`
        only word it."""
        if missing := self.missing_settings():
            return ConfigGap(settings=tuple(missing))
        if packages := self.missing_packages():
            return ConfigGap(packages=tuple(packages))
        return None

    def check_configured(self) -> None:
        """Raise :class:`ConfigError` naming each missing variable or package."""
        gap = self.configuration_gap()
        if gap is None:
            return
        if gap.refusal:
            raise ConfigError(gap.refusal, provider=self.id)
        if gap.settings:
            raise ConfigError(
                # Neutral wording: the CLI has no Settings tab, the web UI has both.
                f"{self.title} is not configured: set {' and '.join(gap.settings)} "
                "in the environment or .env (in the web UI, also on the Settings tab).",
                provider=self.id,
            )
        raise ConfigError(f"The {self.id} provider needs {' and '.join(gap.packages)}: "
                          f"{self.install_hint}.", provider=self.id)

    @property
    def public(self) -> bool:
        """Whether this runs on a public server (``PLAYGROUND_PUBLIC``, a Space)."""
        return is_public(self.settings.get)

    def public_refusal(self, model: str) -> str | None:
        """Why a public server does not run ``model`` here (None: it may). Checked
        before anything is sent; a local runtime refuses paths here."""
        return None

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Stream the answer to ``request``; raise ProviderError on failure."""

    async def prepare(self, model: str) -> None:
        """Create clients and do one-time setup for ``model`` before the clock starts
        (local runtimes load the model here), so that a cold start never lands in a
        TTFT. Raise ProviderError if the target cannot run at all."""

    async def count_tokens(self, model: str, text: str) -> int | None:
        """Tokens in ``text`` by the service's own tokenizer, for streams that report
        no usage; None where the service has no tokenizer to ask. The engine calls it
        only after every stream of a comparison has ended."""
        return None

    def modules(self) -> tuple[str, ...]:
        """Modules this route loads on first use (its SDK). The engine imports them in a
        worker thread before :meth:`prepare`: an SDK's first import takes 0.4-0.9 s of
        CPU, which on the event loop would stall every other session's streams."""
        return ()

    def prepare_request(self, request: ChatRequest) -> tuple[ChatRequest, list[str]]:
        """Fit ``request`` to this route before the clock starts: CPU work such as
        decoding, downscaling and re-encoding images. The engine runs it in a worker
        thread (never on the event loop) and shows the returned notices with the
        answer. Returns the request to stream and those notices; by default unchanged.
        Raise ProviderError when the request cannot go to this route at all."""
        return request, []

    async def list_models(self) -> list[ModelEntry]:
        """Models the service reports it can serve (empty where it cannot list)."""
        return []

    async def aclose(self) -> None:
        """Release network clients; safe to call more than once."""
