"""Logging that never shows a key: a filter on every handler redacts secret values.

SDKs log requests at DEBUG; whatever they print, the configured keys (and any bearer
token) are replaced by ``***`` before a record reaches a handler.
"""

from __future__ import annotations

import logging
import threading

from providers.errors import redact
from providers.settings import Settings


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets redacted: the server's keys for good,
    each session's own keys while that session lasts (see :meth:`hold`)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._lasting = set(secrets)
        self._held: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self.secrets = self._ordered()

    def _ordered(self) -> list[str]:
        every = self._lasting.union(*self._held.values())
        return sorted(every, key=len, reverse=True)  # longest first: no partial leftovers

    def add(self, secrets: list[str]) -> None:
        """Also redact these, for good (the server's keys)."""
        with self._lock:
            self._lasting |= set(secrets)
            self.secrets = self._ordered()

    def hold(self, owner: str, secrets: list[str]) -> None:
        """Redact these keys of ``owner`` (a session) until :meth:`release`."""
        with self._lock:
            self._held[owner] = frozenset(secrets)
            self.secrets = self._ordered()

    def release(self, owner: str) -> None:
        """``owner`` ended: its keys leave the list (memory stays bounded)."""
        with self._lock:
            if self._held.pop(owner, None) is not None:
                self.secrets = self._ordered()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, self.secrets)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info),
                                     self.secrets)
            record.exc_info = None
        return True


_filter = RedactingFilter([])


def install_redaction(settings: Settings) -> RedactingFilter:
    """Attach the redacting filter to every root handler (idempotent); returns it so a
    UI can add per-session keys."""
    _filter.add(settings.secret_values())
    for handler in logging.getLogger().handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
    return _filter
