"""Reading scenario files, with errors that name the file, the line and the field.

PyYAML gives every node a start mark; pydantic gives every error a location path
(``cases, 0, checks, 1, language, code``). Walking the node tree along that path finds
the line to blame; a missing key points at the mapping that lacks it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from playground.scenarios import check_specs
from playground.scenarios import model as scenarios
from playground.scenarios.model import SCENARIOS_DIR, Scenario
from playground.scenarios.yaml_bounds import load_bounded


@dataclass(frozen=True)
class Problem:
    """One error in one scenario file."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ScenarioFileError(Exception):
    """A scenario file that cannot be used; ``problems`` lists every located error."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


def _known_keys() -> set[str]:
    models = [m for module in (scenarios, check_specs) for m in vars(module).values()
              if isinstance(m, type) and issubclass(m, BaseModel)]
    return {name for m in models for name in m.model_fields}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file; raise ScenarioFileError listing every problem."""
    path = Path(path)
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFileError([Problem(shown, 1, "", f"cannot read the file ({exc})")]) from exc
    try:
        root, data = load_bounded(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise ScenarioFileError([Problem(shown, line, "", f"not valid YAML: {reason}")]) from exc
    if not isinstance(data, dict) or root is None:
        raise ScenarioFileError([Problem(shown, 1, "", "a scenario file is a YAML mapping "
                                         "(id, title, groups, cases, ...)")])
    problems = [Problem(shown, line, "", message) for line, message in _duplicate_keys(root)]
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": path.parent})
    except ValidationError as exc:
        problems += [_locate(shown, root, error) for error in _primary(exc.errors())]
        scenario = None
    if problems:
        raise ScenarioFileError(sorted(problems, key=lambda p: p.line))
    assert scenario is not None
    scenario._path = path.resolve()
    return scenario


def scenario_files(directory: str | Path = SCENARIOS_DIR) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files of a folder, sorted by name."""
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_all(paths: Iterable[Path]) -> tuple[list[Scenario], list[Problem]]:
    """Every scenario that loads, and the problems of those that do not."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_scenario(path))
        except ScenarioFileError as exc:
            problems += exc.problems
    return loaded, problems


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError, RuntimeError):  # outside cwd, or cannot be resolved
        return str(path)


def _primary(errors: list[Any]) -> list[Any]:
    """Drop pydantic's "too short" that only follows from an invalid item inside it."""
    def has_inner(outer: Any) -> bool:
        size = len(outer["loc"])
        return any(len(e["loc"]) > size and e["loc"][:size] == outer["loc"] for e in errors)
    return [e for e in errors if not (e["type"] == "too_short" and has_inner(e))]


def _locate(shown: str, root: yaml.Node, error: dict[str, Any]) -> Problem:
    """A pydantic error as a Problem at the line of the key or item its location names;
    a missing key points at the mapping that lacks it."""
    node, line, path = root, root.start_mark.line + 1, []
    for part in error["loc"]:
        path.append(f"[{part}]" if isinstance(part, int) else str(part))
        found = _child(node, part)
        if found is not None:
            marker, node = found
            line = marker.start_mark.line + 1
    field = ".".join(path).replace(".[", "[")
    return Problem(shown, line, field, _message(error))


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(the node whose line to show, the node to descend into) for one location part."""
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return node.value[part], node.value[part]
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                return key, value
    return None


def _message(error: dict[str, Any]) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, sorted(_known_keys()), n=1)
        return f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    if kind == "missing":
        return "required key is missing"
    return message.removeprefix("Value error, ")


def _duplicate_keys(node: yaml.Node) -> list[tuple[int, str]]:
    """PyYAML keeps the last of two equal keys silently; report both lines instead."""
    found: list[tuple[int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.value in seen:
                found.append((line, f"duplicate key {key.value!r} (first at line {seen[key.value]})"))
            seen.setdefault(key.value, line)
            found += _duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found += _duplicate_keys(item)
    return found
