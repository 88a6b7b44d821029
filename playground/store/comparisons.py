"""Saved comparisons (issue 15): a whole comparison as one JSON document, under an
unguessable id, listed only to the session owner that saved it.

The document is the caller's (conversation, answers, metrics, parameters, targets; never
keys); the store reads three keys from it for lists: ``title`` (text), ``targets`` (a list
of target names) and ``turns`` (a list, counted, or a whole number). Secret values known
to the settings are replaced by ``***`` before it is written.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, insert, select

from playground.store.database import writing
from playground.store.errors import DocumentRefused
from playground.store.schema import comparisons
from providers.errors import redact

MAX_DOCUMENT_BYTES = 5_000_000  # UTF-8 JSON, images included
MAX_OWNER_CHARS = 200
MAX_TITLE_CHARS = 200
MAX_LIST = 500
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class ComparisonSummary:
    """One saved comparison as a list shows it (``created_at``: aware, UTC)."""

    id: str
    title: str
    created_at: datetime
    targets: list[str]
    turns: int


def _summary_fields(document: dict[str, Any]) -> dict[str, Any]:
    turns = document.get("turns", 0)
    count = len(turns) if isinstance(turns, list) else turns
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise DocumentRefused("A comparison's \"turns\" is a list of turns or a whole number.")
    targets = document.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise DocumentRefused("A comparison's \"targets\" is a list of target names.")
    title = str(document.get("title") or "")[:MAX_TITLE_CHARS]
    return {"title": title, "targets": json.dumps(targets, ensure_ascii=False),
            "turns": count}


def _owner(owner: str | None) -> str | None:
    if owner is not None and not 0 < len(owner) <= MAX_OWNER_CHARS:
        raise ValueError(f"An owner key has 1 to {MAX_OWNER_CHARS} characters.")
    return owner


class SavedComparisons:
    """The saved-comparison half of :class:`playground.store.Store` (needs ``engine``,
    ``secrets``)."""

    engine: Engine
    secrets: list[str]

    def save_comparison(self, document: dict[str, Any], owner: str | None) -> str:
        """Keep ``document`` and return its new id (``secrets.token_urlsafe(16)``).

        ``owner`` is the opaque key of the session that saves it (never a secret), or
        None for nobody's. DocumentRefused when the document is not a JSON object or is
        over :data:`MAX_DOCUMENT_BYTES` once encoded.
        """
        if not isinstance(document, dict):
            raise DocumentRefused("A saved comparison is a JSON object.")
        try:
            text = json.dumps(document, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise DocumentRefused(f"This comparison cannot be saved as JSON ({exc}).") from None
        size = len(text.encode("utf-8"))
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentRefused(
                f"This comparison is {size / 1e6:.1f} MB; a saved comparison is at most "
                f"{MAX_DOCUMENT_BYTES / 1e6:.0f} MB. Remove large images or some turns first.")
        fields = _summary_fields(document)
        comparison_id = secrets.token_urlsafe(16)
        with writing(self.engine) as db:
            db.execute(insert(comparisons).values(
                id=comparison_id, owner=_owner(owner), created_at=datetime.now(timezone.utc),
                document=redact(text, self.secrets),
                **{k: redact(v, self.secrets) if isinstance(v, str) else v
                   for k, v in fields.items()}))
        return comparison_id

    def load_comparison(self, comparison_id: str) -> dict[str, Any] | None:
        """The saved document, or None when there is no such id (whoever asks: the id is
        the share link's secret)."""
        if not isinstance(comparison_id, str) or not ID_PATTERN.fullmatch(comparison_id):
            return None
        with self.engine.connect() as db:
            text = db.execute(select(comparisons.c.document)
                              .where(comparisons.c.id == comparison_id)).scalar_one_or_none()
        return None if text is None else json.loads(text)

    def list_comparisons(self, owner: str, limit: int = 50) -> list[ComparisonSummary]:
        """The comparisons ``owner`` saved, newest first (at most ``limit``, ≤ 500)."""
        limit = max(0, min(int(limit), MAX_LIST))
        query = (select(comparisons.c.id, comparisons.c.title, comparisons.c.created_at,
                        comparisons.c.targets, comparisons.c.turns)
                 .where(comparisons.c.owner == _owner(owner))
                 .order_by(comparisons.c.created_at.desc(), comparisons.c.id).limit(limit))
        with self.engine.connect() as db:
            found = db.execute(query).all()
        return [ComparisonSummary(r.id, r.title, r.created_at, json.loads(r.targets), r.turns)
                for r in found]
