"""Keys out of answer text: an upstream that echoes the key it was sent into the answer
must not show it on the page, in exports or in the history.

Streams arrive in pieces, so a key can be split across chunks. :class:`AnswerScrubber`
replaces every whole key with ``***`` and holds back a chunk's tail while it could be
the start of a key (at least :data:`HOLD_FROM` characters of one), until the next chunk
says whether it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from providers.base import Event, TextDelta

HOLD_FROM = 4  # a shorter tail shown early reveals nothing a key's public prefix does not


class AnswerScrubber:
    """Redacts ``secrets`` (exact values) from one target's streamed text."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = sorted((s for s in secrets if s), key=len, reverse=True)
        self._context = max((len(s) for s in self.secrets), default=1) - 1
        self._shown = ""  # the last characters already shown (a key may start there)
        self._held = ""

    def feed(self, text: str) -> str:
        """The next piece of the answer that is safe to show now (may be "")."""
        if not self.secrets:
            return text
        pending = self._mask(self._shown, self._held + text)
        keep = self._tail_to_hold(self._shown + pending, limit=len(pending))
        out, self._held = pending[:len(pending) - keep], pending[len(pending) - keep:]
        self._shown = (self._shown + out)[-self._context:] if self._context else ""
        return out

    def event(self, event: Event) -> Event:
        """``event`` with its text made safe (other events pass unchanged)."""
        if isinstance(event, TextDelta) and event.text and self.secrets:
            return TextDelta(self.feed(event.text), event.tokens)
        return event

    def flush(self) -> str:
        """What is held at the end of a finished stream (it turned out not to be a key);
        a stream cut short drops it instead (it may be the start of one)."""
        held, self._held = self._held, ""
        return held

    def _mask(self, shown: str, pending: str) -> str:
        """``pending`` with every character of a key replaced: one ``***`` per run. A key
        that began in ``shown`` loses its remaining characters (at most HOLD_FROM - 1 of
        its first characters were shown)."""
        combined = shown + pending
        hits = [(at, at + len(secret)) for secret in self.secrets
                for at in _occurrences(combined, secret)]
        if not hits:
            return pending
        masked = [False] * len(pending)
        for begin, end in hits:
            for i in range(max(begin, len(shown)), end):
                masked[i - len(shown)] = True
        out, i = [], 0
        while i < len(pending):
            if masked[i]:
                while i < len(pending) and masked[i]:
                    i += 1
                out.append("***")
            else:
                out.append(pending[i])
                i += 1
        return "".join(out)

    def _tail_to_hold(self, text: str, limit: int) -> int:
        """Length (at most ``limit``) of the longest tail of ``text`` that is the start
        of some key, counted from HOLD_FROM characters."""
        longest = 0
        for secret in self.secrets:
            start = max(0, len(text) - len(secret) + 1)
            at = text.find(secret[:HOLD_FROM], start)
            while at != -1:
                tail = text[at:]
                if secret.startswith(tail):
                    longest = max(longest, len(tail))
                    break
                at = text.find(secret[:HOLD_FROM], at + 1)
        return min(longest, limit)


def _occurrences(text: str, secret: str) -> list[int]:
    found, at = [], text.find(secret)
    while at != -1:
        found.append(at)
        at = text.find(secret, at + 1)
    return found
