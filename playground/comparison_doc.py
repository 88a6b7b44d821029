"""A saved comparison as a JSON document, and a tolerant reader of one.

The document (``FORMAT``, ``VERSION``) holds every pane (one per target) with its turns:
the user's words, the images described (name, type, size), the parameters that turn was
sent with, and the engine's result (answer text, metrics, notices). It never holds a
key: :func:`scrubbed` replaces every secret value in every string before it is stored
or exported.

The reader (:func:`panes`) accepts the conversation document of the Compare tab and the
single-turn document :func:`from_record` builds; fields it does not know are ignored and
wrong types are read as missing, so a damaged file shows what it can instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from playground.metrics import TargetResult
from playground.results import comparison_document
from providers.errors import redact

FORMAT = "slm-playground/comparison"
VERSION = 1
TITLE_CHARS = 80
# Request parameters a turn may carry (per-pane overrides use the same names).
PARAMETERS = ("system", "max_tokens", "temperature", "top_p", "seed", "timeout_s")
# Metrics shown in tables and charts, in order (TargetResult's public names).
METRICS = ("ttft_ms", "total_ms", "prompt_tokens", "completion_tokens", "tokens_source",
           "decode_tokens_per_s", "itl_p50_ms", "itl_p95_ms", "chars_per_s", "finish_reason")


@dataclass(frozen=True)
class TurnView:
    """One turn of one pane as the exports show it."""

    number: int
    user: str
    answer: str
    status: str
    error: str
    images: list[dict[str, Any]]
    parameters: dict[str, Any]
    metrics: dict[str, Any]
    notices: list[str]


@dataclass(frozen=True)
class PaneView:
    """One target's conversation."""

    target: str
    turns: list[TurnView]
    overrides: dict[str, Any] = field(default_factory=dict)


def now_iso() -> str:
    """The current UTC time, to the second (a label, not a measurement)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def from_record(request: Any, results: Sequence[TargetResult], wall_ms: float | None,
                timeout_s: float, started: str | None = None) -> dict[str, Any]:
    """The document of a one-turn comparison (``request`` a ChatRequest; images are
    described, not embedded)."""
    parameters = {"system": request.system, "max_tokens": request.max_tokens,
                  "temperature": request.temperature, "top_p": request.top_p,
                  "seed": request.seed, "timeout_s": timeout_s}
    images = [{"name": i.name, "mime": i.mime, "bytes": len(i.data)} for i in request.images]
    summary = comparison_document(results, wall_ms)
    rows = summary["results"]
    panes = []
    for row, result in zip(rows, results):
        row["notices"] = list(result.notices)
        row["turn"] = 1
        panes.append({"target": result.target, "overrides": {},
                      "turns": [{"turn": 1, "user": request.prompt, "images": images,
                                 "parameters": parameters, "result": row}]})
    return {"format": FORMAT, "version": VERSION, "created": started or now_iso(),
            "wall_ms": summary["wall_ms"],
            "parameters": parameters, "panes": panes}


def scrubbed(document: Any, secrets: Iterable[str]) -> Any:
    """``document`` with every secret value replaced by ``***`` in every string (keys
    and values of mappings alike); other values pass unchanged."""
    secrets = [s for s in secrets if s]
    if isinstance(document, str):
        return redact(document, secrets)
    if isinstance(document, Mapping):
        return {scrubbed(str(k), secrets): scrubbed(v, secrets) for k, v in document.items()}
    if isinstance(document, (list, tuple)):
        return [scrubbed(v, secrets) for v in document]
    return document


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _turn(raw: Any, number: int, defaults: Mapping[str, Any]) -> TurnView:
    turn = _mapping(raw)
    result = _mapping(turn.get("result"))
    given = _mapping(turn.get("parameters"))
    parameters = {k: given.get(k, defaults.get(k)) for k in PARAMETERS
                  if given.get(k, defaults.get(k)) is not None}
    user = turn.get("user", turn.get("prompt"))
    count = turn.get("turn", result.get("turn"))
    return TurnView(
        number=count if isinstance(count, int) and not isinstance(count, bool) else number,
        user=_text(user), answer=_text(result.get("text", turn.get("answer"))),
        status=_text(result.get("status")) or "unknown", error=_text(result.get("error")),
        images=[_mapping(i) for i in _items(turn.get("images"))],
        parameters=parameters,
        metrics={k: result.get(k) for k in METRICS},
        notices=[n for n in _items(result.get("notices")) if isinstance(n, str)])


def panes(document: Any) -> list[PaneView]:
    """The panes of a saved comparison, each with its turns in order."""
    doc = _mapping(document)
    defaults = _mapping(doc.get("parameters"))
    found = []
    for raw in _items(doc.get("panes")):
        pane = _mapping(raw)
        overrides = _mapping(pane.get("overrides"))
        pane_defaults = {**defaults, **{k: v for k, v in overrides.items() if v is not None}}
        turns = [_turn(t, n, pane_defaults) for n, t in enumerate(_items(pane.get("turns")), 1)]
        found.append(PaneView(_text(pane.get("target")) or "?", turns, overrides))
    return found


def title(document: Any) -> str:
    """A short title: the explicit one, else the first user turn (one line)."""
    doc = _mapping(document)
    given = _text(doc.get("title")).strip()
    if not given:
        firsts = (p.turns[0].user for p in panes(doc) if p.turns and p.turns[0].user)
        given = next(firsts, "") or "Comparison"
    line = " ".join(given.split())
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1] + "…"


def turn_count(document: Any) -> int:
    """The most turns any pane has."""
    return max((len(p.turns) for p in panes(document)), default=0)


def metric_rows(document: Any) -> list[dict[str, Any]]:
    """One row per pane per turn: target, turn, status, then :data:`METRICS`."""
    return [{"target": p.target, "turn": t.number, "status": t.status, **t.metrics,
             "error": t.error}
            for p in panes(document) for t in p.turns]
