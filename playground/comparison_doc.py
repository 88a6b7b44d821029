"""A saved comparison: the Compare tab's conversation document
(``playground.conversation``, format ``slm-playground/conversation``) plus when it was
saved, and a tolerant reader of one for the exports.

The document holds every pane (one per target) with its turns: the user's words and
images, the parameters the turn was sent with, the answer and the engine's measurements.
It never holds a key: :func:`scrubbed` replaces every secret value in every string
before it is stored or exported.

The reader (:func:`panes`) ignores fields it does not know and reads wrong types as
missing, so a damaged file shows what it can instead of failing; a document to continue
from is checked strictly by ``Conversation.from_document``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from playground import conversation
from playground.conversation import Conversation, Exchange, Params
from playground.metrics import TargetResult
from providers.errors import redact

FORMAT = conversation.FORMAT
VERSION = conversation.VERSION
TITLE_CHARS = 80
PARAMETERS = conversation.PARAM_NAMES
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


GIVEN = "given"  # the status of an earlier turn taken from a file: not measured here


def from_record(request: Any, results: Sequence[TargetResult]) -> dict[str, Any]:
    """The conversation document of one comparison (``request`` a ChatRequest, sent to
    every target; every pane synced). Its ``history`` (a conversation file's earlier
    turns) becomes each pane's earlier turns, status :data:`GIVEN`, with no metrics:
    they were written, not measured."""
    shared = Params(request.system, request.max_tokens, request.temperature, request.top_p,
                    request.seed)
    chat = Conversation.start([r.target for r in results], shared)
    history = request.history
    for index, result in enumerate(results):
        for pair in range(0, len(history), 2):
            user, answer = history[pair], history[pair + 1]
            given = TargetResult(result.target, result.provider, result.model, status=GIVEN,
                                 text=answer.text, notices=["from the conversation file: "
                                                            "not measured here"])
            chat.record(index, Exchange(0, user.text, shared, given, user.images))
        chat.record(index, Exchange(0, request.prompt, shared, result, request.images))
    document = chat.to_document()
    first = getattr(request, "first_turn", 1)
    for pane in document["panes"]:  # numbers as sent: after dropped turns, not from 1
        for turn in pane["turns"]:
            turn["turn"] += first - 1
            turn["result"]["turn"] = turn["turn"]
    return document


def for_saving(document: Mapping[str, Any], secrets: Iterable[str],
               saved_at: str | None = None) -> dict[str, Any]:
    """``document`` scrubbed of ``secrets``, with its title and the time it was saved."""
    clean = scrubbed(dict(document), secrets)
    clean["saved_at"] = saved_at or now_iso()
    clean["title"] = title(clean)
    return clean


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


def _params(value: Any) -> dict[str, Any]:
    given = _mapping(value)
    return {k: given[k] for k in PARAMETERS if given.get(k) is not None}


def _turn(raw: Any, number: int, pane_params: dict[str, Any]) -> TurnView:
    turn = _mapping(raw)
    result = _mapping(turn.get("result"))
    user = _mapping(turn.get("user"))
    count = turn.get("turn")
    sent = _params(turn["params"]) if isinstance(turn.get("params"), Mapping) else pane_params
    return TurnView(
        number=count if isinstance(count, int) and not isinstance(count, bool) else number,
        user=_text(user.get("text")), answer=_text(turn.get("answer")),
        status=_text(result.get("status")) or "unknown", error=_text(result.get("error")),
        images=[_mapping(i) for i in _items(user.get("images"))],
        parameters=sent,
        metrics={k: result.get(k) for k in METRICS},
        notices=[n for n in _items(result.get("notices")) if isinstance(n, str)])


def panes(document: Any) -> list[PaneView]:
    """The panes of a saved comparison, each with its turns in order."""
    doc = _mapping(document)
    shared = _params(doc.get("shared"))
    found = []
    for raw in _items(doc.get("panes")):
        pane = _mapping(raw)
        overrides = _params(pane.get("overrides"))
        synced = pane.get("synced") is not False
        params = shared if synced else overrides
        turns = [_turn(t, n, params) for n, t in enumerate(_items(pane.get("turns")), 1)]
        found.append(PaneView(_text(pane.get("target")) or "?", turns,
                              {} if synced else overrides))
    return found


def targets(document: Any) -> list[str]:
    """The targets of a saved comparison, in pane order."""
    return [p.target for p in panes(document)]


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
