"""Scenario packs: YAML files validated with pydantic, unknown keys rejected.

A scenario compares target *groups* (e.g. "Phi-3 mini" vs "Phi-3.5 mini"), each with
ordered routes (``nim:microsoft/phi-3.5-mini-instruct``, ``ollama:phi3.5``, ...), on one
or more cases (system prompt, prompt, images and an optional document, paths relative
to the file), with parameters, repeats, warm-up runs and checks on the answers.

Reading files, with errors located by file, line and field, is in
``playground.scenarios.files``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

import providers
from playground.scenarios import checks
from playground.scenarios.checks import CheckResult
from playground.validate import (
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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


# --- checks: one key per check, with a scalar shorthand ----------------------------

def _shorthand(value: Any, key: str) -> Any:
    """``contains: text`` means ``contains: {text: text}``; ``true`` means defaults."""
    if value is True:
        return {}
    if value is False or value is None:
        raise ValueError("write true or a mapping of options (remove the check to skip it)")
    return value if isinstance(value, dict) else {key: value}


class Shorthand(Strict):
    """A check's options; a scalar stands for its ``shorthand_key`` option."""

    shorthand_key: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        return _shorthand(value, cls.shorthand_key)

    def evaluate(self, text: str) -> CheckResult:
        raise NotImplementedError


class ContainsCheck(Shorthand):
    text: str = Field(min_length=1)
    ignore_case: bool = False
    shorthand_key: ClassVar[str] = "text"

    def evaluate(self, text: str) -> CheckResult:
        return checks.contains(text, self.text, self.ignore_case)


class RegexCheck(Shorthand):
    pattern: str = Field(min_length=1)
    ignore_case: bool = False
    shorthand_key: ClassVar[str] = "pattern"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return pattern

    def evaluate(self, text: str) -> CheckResult:
        return checks.matches(text, self.pattern, self.ignore_case)


class LanguageCheck(Shorthand):
    code: Literal[checks.LANGUAGES]  # type: ignore[valid-type]
    min_share: float = Field(0.5, gt=0, le=1, description="share of letters, 0-1")
    shorthand_key: ClassVar[str] = "code"

    def evaluate(self, text: str) -> CheckResult:
        return checks.language(text, self.code, self.min_share)


class JsonCheck(Shorthand):
    required_keys: tuple[str, ...] = ()
    shorthand_key: ClassVar[str] = "required_keys"

    def evaluate(self, text: str) -> CheckResult:
        return checks.is_json(text, self.required_keys)


class MaxLengthCheck(Shorthand):
    chars: int = Field(ge=1)
    shorthand_key: ClassVar[str] = "chars"

    def evaluate(self, text: str) -> CheckResult:
        return checks.max_length(text, self.chars)


class PythonCodeCheck(Shorthand):
    must_parse: bool = False
    shorthand_key: ClassVar[str] = "must_parse"

    def evaluate(self, text: str) -> CheckResult:
        return checks.python_code(text, self.must_parse)


CHECK_KINDS = ("contains", "regex", "language", "is_json", "max_length", "python_code")


class CheckSpec(Strict):
    """Exactly one of the check kinds, plus an optional display name."""

    name: str | None = None
    contains: ContainsCheck | None = None
    regex: RegexCheck | None = None
    language: LanguageCheck | None = None
    is_json: JsonCheck | None = None
    max_length: MaxLengthCheck | None = None
    python_code: PythonCodeCheck | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_empty_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for kind in CHECK_KINDS:
                if kind in data and data[kind] is None:
                    raise ValueError(f"'{kind}:' needs a value (see the scenario format)")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> CheckSpec:
        given = [kind for kind in CHECK_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"a check needs exactly one of {', '.join(CHECK_KINDS)}"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    def evaluate(self, text: str) -> CheckResult:
        """Run the check on an answer; an empty answer fails every check."""
        kind = next(getattr(self, k) for k in CHECK_KINDS if getattr(self, k) is not None)
        result = kind.evaluate(text)
        passed, detail = (result.passed, result.detail) if text else (False, "no answer")
        return CheckResult(self.name or result.name, passed, detail)


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


class Case(Strict):
    """One prompt sent to every group."""

    id: str = Field(pattern=SLUG)
    title: str = ""
    system: str | None = None
    prompt: str = Field(min_length=1)
    images: tuple[str, ...] = Field((), description="image files, relative to the YAML file")
    document: str | None = Field(None, description="a text file put before the prompt")
    parameters: Parameters | None = Field(None, description="overrides for this case")
    checks: tuple[CheckSpec, ...] = ()

    @field_validator("images")
    @classmethod
    def _images_exist(cls, images: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        base = _base_dir(info)
        for name in images:
            try:
                load_image(base / name)
            except UnsupportedInputError as exc:
                raise ValueError(f"{exc.message} (looked in {base})") from exc
        return images

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
        return self.checks + case.checks

    def case_prompt(self, case: Case) -> str:
        """The prompt as sent: the document (if any), a blank line, then the prompt."""
        if case.document is None:
            return case.prompt
        document = (self.base_dir / case.document).read_text(encoding="utf-8")
        return f"{document.rstrip()}\n\n{case.prompt}"


def _base_dir(info: ValidationInfo) -> Path:
    return Path((info.context or {}).get("base_dir", "."))
