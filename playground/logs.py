"""Logging that never shows a key: a filter on every handler redacts secret values.

SDKs log requests at DEBUG; whatever they print, the configured keys (and any bearer
token) are replaced by ``***`` before a record reaches a handler.
"""

from __future__ import annotations

import logging

from providers.errors import redact
from providers.settings import Settings


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets redacted."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def add(self, secrets: list[str]) -> None:
        """Also redact these (keys typed into a session)."""
        self.secrets = sorted(set(self.secrets) | set(secrets), key=len, reverse=True)

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
