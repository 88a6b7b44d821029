"""Share a setup as a link: ``/?targets=a,b&prompt=...&system=...`` (never keys).

Opening the link selects the targets and fills the prompts; nothing runs until the
visitor presses Compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from playground.validate import MAX_PROMPT_CHARS, MAX_TARGETS

# Kept readable in the address bar: target ids are mostly letters, ':', '/', '.', '-'.
_SAFE = ":/,"


@dataclass(frozen=True)
class SharedSetup:
    """What a share link carries."""

    targets: list[str]
    prompt: str = ""
    system: str = ""


def share_link(base_url: str, targets: Sequence[str], prompt: str, system: str = "") -> str:
    """The link that reopens this setup; ``base_url`` is the page's address."""
    params = {"targets": ",".join(t.strip() for t in targets if t.strip())}
    if prompt:
        params["prompt"] = prompt
    if system:
        params["system"] = system
    query = urlencode(params, quote_via=quote, safe=_SAFE)
    scheme, netloc, path, _, _ = urlsplit(base_url or "/")
    return urlunsplit((scheme, netloc, path or "/", query, ""))


def read_share(query: Mapping[str, str]) -> SharedSetup:
    """The setup in a page's query parameters (already URL-decoded); extra targets
    beyond the limit and over-long prompts are cut, unknown parameters ignored."""
    targets = [t.strip() for t in query.get("targets", "").split(",") if t.strip()]
    return SharedSetup(
        targets=list(dict.fromkeys(targets))[:MAX_TARGETS],
        prompt=query.get("prompt", "")[:MAX_PROMPT_CHARS],
        system=query.get("system", "")[:MAX_PROMPT_CHARS],
    )


def page_url(referer: str | None, fallback: str = "/") -> str:
    """The page's address without its query, from the browser's Referer header."""
    if not referer:
        return fallback
    scheme, netloc, path, _, _ = urlsplit(referer)
    if not scheme or not netloc:
        return fallback
    return urlunsplit((scheme, netloc, path or "/", "", ""))
