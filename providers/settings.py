"""Settings: environment variables, an optional ``.env`` and per-session overrides.

The one path for every variable, provider keys and the server's own ``PLAYGROUND_*``
settings alike, for the web app and the CLI. Values are looked up in this order: session
overrides (keys typed in the UI), the process environment, then ``.env``. Secret values
are known by name so that the engine can redact them from anything it shows or stores.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values

from providers.registry import secret_names as provider_secret_names
from providers.spec import EnvVar

__all__ = ["EnvVar", "MIN_SECRET_CHARS", "Settings"]
MIN_SECRET_CHARS = 8


class Settings:
    """An immutable view of configuration values."""

    def __init__(self, values: Mapping[str, str], secret_names: Iterable[str] = ()) -> None:
        self._values = {k: v for k, v in values.items() if v is not None and v != ""}
        self._secret_names = frozenset(secret_names)

    @classmethod
    def load(
        cls,
        dotenv_path: str | os.PathLike[str] | None = ".env",
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> Settings:
        """Merge ``.env`` < environment < overrides into one Settings."""
        merged: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v})
        merged.update(os.environ if environ is None else environ)
        merged.update(overrides or {})
        return cls(merged, provider_secret_names())

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name`` or ``default``."""
        return self._values.get(name, default)

    def integer(self, name: str, default: int, *, minimum: int = 1,
                maximum: int | None = None) -> int:
        """A whole-number setting (unset or empty: ``default``); ValueError naming the
        variable when it is not a number in ``[minimum, maximum]``."""
        raw = self._values.get(name)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"{name} must be a whole number; got {raw!r}.") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum:,}" if maximum is not None else ""
            raise ValueError(f"{name} must be at least {minimum:,}{upper}; got {value:,}.")
        return value

    def with_overrides(self, overrides: Mapping[str, str]) -> Settings:
        """A copy where non-empty ``overrides`` win (per-session keys)."""
        return Settings({**self._values, **overrides}, self._secret_names)

    def without(self, names: Iterable[str]) -> Settings:
        """A copy with ``names`` removed (e.g. server keys hidden from visitors)."""
        drop = set(names)
        return Settings(
            {k: v for k, v in self._values.items() if k not in drop}, self._secret_names
        )

    def secret_values(self) -> list[str]:
        """Values of every secret variable that is set, longest first (for redaction).

        Exact values of at least MIN_SECRET_CHARS only: a shorter "key" (a word such as
        ``NVIDIA``) would censor that word everywhere; no real key is that short."""
        found = {self._values[n] for n in self._secret_names if n in self._values}
        # A password inside a URL (PLAYGROUND_DB=postgresql://user:PASSWORD@host/db, a
        # base URL with credentials) is a secret too, whatever the variable is called.
        found.update(p for value in self._values.values() for p in _url_passwords(value))
        return sorted((s for s in found if len(s) >= MIN_SECRET_CHARS), key=len,
                      reverse=True)

    def fingerprint(self, names: Iterable[str]) -> str:
        """A stable digest of the given variables' values (cache key, never shown)."""
        digest = hashlib.sha256()
        for name in sorted(names):
            digest.update(f"{name}={self._values.get(name, '')}\0".encode())
        return digest.hexdigest()


def _url_passwords(value: str) -> set[str]:
    """The password of ``scheme://user:password@host...`` as written and decoded."""
    if "://" not in value or "@" not in value:
        return set()
    try:
        password = urlsplit(value).password
    except ValueError:
        return set()
    return {password, unquote(password)} if password else set()
