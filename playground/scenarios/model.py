"""Scenario packs: YAML files validated with pydantic, unknown keys rejected.

A scenario compares target *groups* (e.g. "Phi-3 mini" vs "Phi-3.5 mini"), each with
ordered routes (``nim:microsoft/phi-3.5-mini-instruct``, ``ollama:phi3.5``, ...), on one
or more cases (system prompt, prompt, images and an optional document, paths relative
to the file; or ``turns``: questions asked in turn, each group answering after its own
earlier answers), with parameters, repeats, warm-up runs and checks on the answers.

Reading files, with errors located by file, line and field, is in
``playground.scenarios.files``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

import providers
from playground.scenarios.check_specs import CheckSpec, Strict
from playground.validate import (
    MAX_HISTORY_TURNS,
    MAX_PROMPT_CHARS,
    MAX_REPEATS,
    MAX_TARGETS,
    MAX_TIMEOUT_S,
    MAX_TOKENS,
    MAX_WARMUP,
    SEED_MAX,
)
from providers import Target
from providers.errors import GITHUB_RETIREMENT_DATE, UnsupportedInputError
from providers.images import load_image

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"
# Local runtimes register only when their module is installed; routes on them stay valid.
LOCAL_RUNTIMES = frozenset({"onnx", "transformers"})
SLUG = r"^[a-z0-9][a-z0-9_-]*$"


class Parameters(Strict):
    """Sampling and timing; unset values keep each service's defaults. The ranges are
    the UI's and the CLI's (playground.validate.BOUNDS); .nan and .inf are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS,
                                   description="tokens to generate at most")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=0, le=SEED_MAX)
    timeout_s: float = Field(60.0, gt=0, le=MAX_TIMEOUT_S,
                             description="idle timeout per target, seconds")


# --- groups, cases, scenario -----------------------------------------------------

def parse_route(route: str) -> Target:
    """``PROVIDER:MODEL`` to a Target; ValueError with the reason otherwise."""
    provider, sep, model = route.strip().partition(":")
    provider = provider.strip().lower()
    if not sep or not provider or not model.strip():
        raise ValueError(f"route {route!r} is not PROVIDER:MODEL (e.g. ollama:phi3.5)")
    known = set(providers.PROVIDERS) | LOCAL_RUNTIMES
    if provider not in known:
        raise ValueError(f"unknown provider {provider!r} in route {route!r}; choose one of "
                         f"{', '.join(sorted(known))}")
    return Target(provider, model.strip())


Route = Annotated[str, AfterValidator(lambda route: str(parse_route(route)))]


class Group(Strict):
    """Models compared as one column; the first route that can run is used."""

    name: str = Field(min_length=1)
    routes: tuple[Route, ...] = Field(min_length=1)
    note: str = ""

    @field_validator("routes")
    @classmethod
    def _not_only_github(cls, routes: tuple[str, ...]) -> tuple[str, ...]:
        if all(route.startswith("github:") for route in routes):
            raise ValueError(f"GitHub Models was retired on {GITHUB_RETIREMENT_DATE}; add a "
                             "route that still works (azure, nim, ollama, onnx or openai)")
        return routes

    def targets(self) -> list[Target]:
        return [parse_route(r) for r in self.routes]


def _check_images(images: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    """Every image file exists and is a usable image (paths relative to the YAML file)."""
    base = _base_dir(info)
    for name in images:
        try:
            load_image(base / name)
        except UnsupportedInputError as exc:
            raise ValueError(f"{exc.message} (looked in {base})") from exc
    return images


class UserTurn(Strict):
    """One question of a multi-turn case. ``checks`` (when named) check this turn's
    answer; a turn that names none is not checked, except the last, which gets the
    case's checks."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    images: tuple[str, ...] = Field((), description="image files, relative to the YAML file")
    checks: tuple[CheckSpec, ...] | None = Field(None, description="checks on this answer")

    _images_exist = field_validator("images")(_check_images)


class Case(Strict):
    """One prompt (or, with ``turns``, a conversation) sent to every group; each group
    gets its own earlier answers in its history."""

    id: str = Field(pattern=SLUG)
    title: str = ""
    system: str | None = None
    prompt: str | None = Field(None, min_length=1)
    turns: tuple[UserTurn, ...] | None = Field(
        None, min_length=2, max_length=MAX_HISTORY_TURNS // 2 + 1,
        description="questions asked in turn, each after the group's own earlier answers")
    images: tuple[str, ...] = Field((), description="image files, relative to the YAML file")
    document: str | None = Field(None, description="a text file put before the (first) prompt")
    parameters: Parameters | None = Field(None, description="overrides for this case")
    checks: tuple[CheckSpec, ...] = ()

    _images_exist = field_validator("images")(_check_images)

    @model_validator(mode="after")
    def _prompt_or_turns(self) -> Case:
        if (self.prompt is None) == (self.turns is None):
            raise ValueError("a case needs either prompt or turns (one of them)")
        if self.turns is not None and self.images:
            raise ValueError("with turns, put images in the turn that shows them")
        return self

    def user_turns(self) -> tuple[UserTurn, ...]:
        """The case's questions in order (one for a single-prompt case)."""
        if self.turns is not None:
            return self.turns
        # Already validated as the case's own fields: built without validating again.
        return (UserTurn.model_construct(prompt=self.prompt or "", images=self.images,
                                         checks=None),)

    @field_validator("document")
    @classmethod
    def _document_fits(cls, document: str | None, info: ValidationInfo) -> str | None:
        if document is None:
            return None
        path = _base_dir(info) / document
        try:
            if not path.is_file():
                raise ValueError(f"document {document!r} does not exist (looked in "
                                 f"{path.parent})")
            size = len(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:  # a located problem, not a crash
            raise ValueError(f"document {document!r} cannot be read ({exc})") from None
        if size > MAX_PROMPT_CHARS:
            raise ValueError(f"document {document!r} has {size:,} characters; prompts are "
                             f"limited to {MAX_PROMPT_CHARS:,}")
        return document


class Scenario(Strict):
    """A scenario pack (one YAML file)."""

    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    description: str = ""
    parameters: Parameters = Parameters()
    repeats: int = Field(1, ge=1, le=MAX_REPEATS, description="measured runs per case and group")
    warmup: int = Field(1, ge=0, le=MAX_WARMUP, description="unmeasured runs per group, first")
    too_many_images: Literal["reduce", "refuse"] = Field(
        "reduce", description="a model that takes fewer images: send the first ones, or refuse")
    groups: tuple[Group, ...] = Field(min_length=1, max_length=MAX_TARGETS)
    checks: tuple[CheckSpec, ...] = Field((), description="checks on every case")
    cases: tuple[Case, ...] = Field(min_length=1)
    _path: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _unique_names(self) -> Scenario:
        for what, names in (("group name", [g.name for g in self.groups]),
                            ("case id", [c.id for c in self.cases])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what} {twice[0]!r} is used twice")
        return self

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def base_dir(self) -> Path:
        return self._path.parent if self._path else Path.cwd()

    def case_parameters(self, case: Case) -> Parameters:
        """The scenario's parameters with the case's overrides applied."""
        if case.parameters is None:
            return self.parameters
        return self.parameters.model_copy(update=case.parameters.model_dump(exclude_unset=True))

    def case_checks(self, case: Case) -> tuple[CheckSpec, ...]:
        """The checks on a case's (last) answer: the pack's and the case's."""
        return self.checks + case.checks

    def turn_checks(self, case: Case, turn: int) -> tuple[CheckSpec, ...]:
        """The checks on the answer to question ``turn`` (0-based): the pack's on every
        last answer, plus the turn's own checks where it names them, else (the last
        turn) the case's."""
        spec = case.user_turns()[turn]
        last = turn == len(case.user_turns()) - 1
        own = spec.checks if spec.checks is not None else (case.checks if last else ())
        return (self.checks if last else ()) + tuple(own)

    def case_prompt(self, case: Case, turn: int = 0) -> str:
        """Question ``turn`` (0-based) as sent: the first after the document (if any)
        and a blank line."""
        prompt = case.user_turns()[turn].prompt
        if case.document is None or turn > 0:
            return prompt
        document = (self.base_dir / case.document).read_text(encoding="utf-8")
        return f"{document.rstrip()}\n\n{prompt}"


def _base_dir(info: ValidationInfo) -> Path:
    return Path((info.context or {}).get("base_dir", "."))
