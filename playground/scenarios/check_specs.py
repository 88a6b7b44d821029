"""The checks a scenario pack can name, as pydantic models: one key per check, with a
scalar shorthand (``contains: 长沙`` means ``contains: {text: 长沙}``). The check
functions themselves are in :mod:`playground.scenarios.checks`."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from playground.scenarios import checks
from playground.scenarios.checks import CheckResult


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


