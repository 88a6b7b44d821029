"""What a visitor may do: limits, and public-server mode (a Hugging Face Space, a class).

``PLAYGROUND_PUBLIC=1`` (set automatically on a Space, where ``SPACE_ID`` exists) means:
custom endpoints from the browser are refused (no server-side request forgery to
internal addresses), keys are per session only, per-session limits apply, and the
server's own keys can be withheld from visitors with ``PLAYGROUND_SHARE_SERVER_KEYS=0``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import providers
from playground.validate import MAX_PROMPT_CHARS, InputError
from providers.public import PUBLIC_FLAG, is_public
from providers.settings import Settings

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Policy:
    """Limits for one server process."""

    public: bool = False
    share_server_keys: bool = True
    max_prompt_chars: int = MAX_PROMPT_CHARS
    max_runs_per_session: int = 4

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | Settings | None = None) -> Policy:
        """The policy from ``environ`` (default: :meth:`Settings.load`, so the environment
        and ``.env`` alike); ValueError naming a variable that is out of range."""
        if environ is None:
            env = Settings.load()
        else:
            env = environ if isinstance(environ, Settings) else Settings(environ)
        public = is_public(env.get)
        return cls(
            public=public,
            share_server_keys=(env.get("PLAYGROUND_SHARE_SERVER_KEYS") or "1").lower() in _TRUE,
            max_prompt_chars=env.integer("PLAYGROUND_MAX_PROMPT_CHARS", MAX_PROMPT_CHARS,
                                         maximum=10_000_000),
            max_runs_per_session=env.integer("PLAYGROUND_MAX_RUNS_PER_SESSION",
                                             2 if public else 4, maximum=1000),
        )


def setting_names() -> tuple[set[str], set[str]]:
    """(secret variable names, other variable names) across all providers."""
    secret, plain = set(), set()
    for cls in providers.PROVIDERS.values():
        for var in cls.env:
            (secret if var.secret else plain).add(var.name)
    return secret, plain


def session_settings(server: Settings, session_values: Mapping[str, str],
                     policy: Policy) -> Settings:
    """The settings one browser session runs with.

    Session values (typed in the UI) win over the server's for that session only. In
    public mode only keys may be set from the browser; endpoints are refused.
    """
    secret, plain = setting_names()
    given = {k: v.strip() for k, v in session_values.items() if v and v.strip()}
    unknown = sorted(set(given) - secret - plain)
    if unknown:
        raise InputError([f"Unknown setting(s): {', '.join(unknown)}."])
    refused = sorted(k for k in given if k in plain)
    if policy.public and refused:
        raise InputError([f"This is a public server: custom endpoints ({', '.join(refused)}) "
                          "cannot be set from the browser; only API keys can."])
    base = server if policy.share_server_keys else server.without(secret)
    if policy.public:  # the providers' own public-mode rules (local paths, Ollama)
        given[PUBLIC_FLAG] = "1"
    return base.with_overrides(given)


class SessionLimiter:
    """Caps how many comparisons one session runs at once (thread- and task-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, session: str) -> Iterator[None]:
        """Hold one run slot for ``session``; InputError when all are taken."""
        with self._lock:
            if self._running.get(session, 0) >= self.limit:
                raise InputError([f"This session already runs {self.limit} comparison(s); "
                                  "wait for one to finish or press Stop."])
            self._running[session] = self._running.get(session, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[session] -= 1
                if not self._running[session]:
                    del self._running[session]
