"""Saved comparisons: keep a whole comparison under an unguessable id, open one by its
link (``/?comparison=ID``), list what one owner saved. No Gradio: the page and the CLI
share it.

Who may see what:

* The id is the link's secret (the store makes it: ``secrets.token_urlsafe(16)``, 128
  random bits); anyone with the link may open the comparison, read-only.
* Lists are by owner. On a public server the owner comes from a token the server signs
  (:class:`OwnerKeys`) and the browser keeps: no visitor can pick one, or guess another's
  (192 random bits). Elsewhere (your own machine) the owner is None: every tab and the
  CLI share one list.
* Before it is stored every string of the document is scrubbed of the keys known to the
  server and the session (``comparison_doc.for_saving``); the store redacts the server's
  keys again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from playground import comparison_doc as doc

# What a store id can look like: URL-safe base64 (token_urlsafe(16) is 22 characters).
ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,32}")
QUERY_NAME = "comparison"
OWNER_PREFIX = "session-"
OWNER_SHAPE = re.compile(OWNER_PREFIX + r"[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}")


class ShareError(Exception):
    """A saved comparison that cannot be saved or opened; ``message`` says why, for
    people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ComparisonStore(Protocol):
    """The part of ``playground.store.Store`` this module uses."""

    def save_comparison(self, document: dict[str, Any], owner: str | None) -> str: ...

    def load_comparison(self, comparison_id: str) -> dict[str, Any] | None: ...

    def list_comparisons(self, owner: str | None, limit: int = 50) -> list[Any]: ...


class OwnerKeys:
    """Owner tokens for one server process: ``session-RANDOM.SIGNATURE``, the signature an
    HMAC-SHA256 of the random part under a key made when the process starts. The page
    keeps its token in the browser (so a list survives reloads and link clicks); a token
    this process did not make is refused, so a visitor cannot pick an owner, only get one.
    A restart starts new lists (saved links still open)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _sign(self, random_part: str) -> str:
        digest = hmac.new(self._key, random_part.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def new(self) -> str:
        """A fresh token (192 random bits, signed)."""
        random_part = secrets.token_urlsafe(24)
        return f"{OWNER_PREFIX}{random_part}.{self._sign(random_part)}"

    def valid(self, token: Any) -> bool:
        """Whether ``token`` is one this process made."""
        if not isinstance(token, str) or not OWNER_SHAPE.fullmatch(token):
            return False
        random_part, _, signature = token[len(OWNER_PREFIX):].partition(".")
        return hmac.compare_digest(signature, self._sign(random_part))

    @staticmethod
    def owner(token: str) -> str:
        """What the store keeps for ``token``: its SHA-256, so the database never holds a
        token a browser could present."""
        return "owner-" + hashlib.sha256(token.encode("ascii")).hexdigest()


def comparison_link(base_url: str, comparison_id: str) -> str:
    """The read-only link to a saved comparison (``base_url``: the page's address)."""
    scheme, netloc, path, _, _ = urlsplit(base_url or "/")
    return urlunsplit((scheme, netloc, path or "/", urlencode({QUERY_NAME: comparison_id}),
                       ""))


def checked_id(text: Any) -> str:
    """``text`` as a comparison id, or ShareError saying it cannot be one."""
    value = text.strip() if isinstance(text, str) else ""
    if not ID_SHAPE.fullmatch(value):
        raise ShareError("This link does not name a saved comparison: its id should be 16 "
                         "to 32 letters, digits, '-' or '_'. Check that the whole link "
                         "was copied.")
    return value


def save(store: ComparisonStore, document: Mapping[str, Any], owner: str | None,
         secret_values: Iterable[str]) -> str:
    """Store ``document`` scrubbed of ``secret_values`` and return its id; ShareError
    when there is nothing to save or the store refuses it (too large)."""
    if not doc.panes(document) or not doc.turn_count(document):
        raise ShareError("Nothing to save yet: run a comparison first.")
    kept = doc.for_saving(document, secret_values)
    kept["targets"], kept["turns"] = doc.targets(kept), doc.turn_count(kept)
    try:
        return store.save_comparison(kept, owner)
    except ValueError as exc:  # the store's DocumentRefused is a ValueError
        raise ShareError(getattr(exc, "message", str(exc))) from None


def load(store: ComparisonStore, text: Any) -> tuple[str, dict[str, Any]]:
    """The id and document a link names; ShareError for a malformed or unknown id."""
    comparison_id = checked_id(text)
    document = store.load_comparison(comparison_id)
    if not isinstance(document, dict):
        raise ShareError("No saved comparison has this id: the link may be cut short, or "
                         "the comparison was saved on another server.")
    return comparison_id, document


def history(store: ComparisonStore, owner: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """What ``owner`` saved, newest first: id, title, saved_at (ISO, UTC), targets, turns."""
    return [{"id": s.id, "title": s.title,
             "saved_at": s.created_at.isoformat(timespec="seconds"),
             "targets": list(s.targets), "turns": s.turns}
            for s in store.list_comparisons(owner, limit)]
