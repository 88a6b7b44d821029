"""What a visitor may do: limits, and public-server mode (a Hugging Face Space, a class).

``PLAYGROUND_PUBLIC=1`` (set automatically on a Space, where ``SPACE_ID`` exists) means:
custom endpoints from the browser are refused (no server-side request forgery to
internal addresses), keys are per session only, per-session limits apply, and the
server's own keys can be withheld from visitors with ``PLAYGROUND_SHARE_SERVER_KEYS=0``.
It also turns on the limits a client cannot choose around (``playground.limits``): runs
per client address and a budget of requests on the server's own keys.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import providers
from playground.limits import ANY_PROXY, SlotLimiter, parse_proxies
from playground.validate import MAX_PROMPT_CHARS, InputError
from providers.images import MAX_FILE_BYTES
from providers.public import PUBLIC_FLAG, is_public
from providers.settings import MIN_SECRET_CHARS, Settings

_TRUE = ("1", "true", "yes", "on")
MAX_UPLOAD_MB = MAX_FILE_BYTES // 2**20  # an upload is at most one image's limit
KEY_CLIENT_IDLE_S = 600  # a session's own-key clients are closed after this idle time
MIN_KEY_CHARS, MAX_KEY_CHARS = MIN_SECRET_CHARS, 4096


@dataclass(frozen=True)
class Policy:
    """Limits for one server process. A cap of None means no cap."""

    public: bool = False
    share_server_keys: bool = True
    max_prompt_chars: int = MAX_PROMPT_CHARS
    max_runs_per_session: int = 4
    # Keyed by the client's address (playground.limits.client_address), which a client
    # cannot choose the way it chooses its session id.
    max_runs_per_address: int | None = None
    max_scenarios_per_address: int | None = None
    # Upstream requests on the server's own keys, across all visitors.
    server_key_budget_per_min: int | None = None
    server_key_budget_per_day: int | None = None
    trusted_proxies: tuple[str, ...] = ()
    max_upload_mb: int = MAX_UPLOAD_MB
    key_client_idle_s: int = KEY_CLIENT_IDLE_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | Settings | None = None) -> Policy:
        """The policy from ``environ`` (default: :meth:`Settings.load`, so the environment
        and ``.env`` alike; README: public mode); ValueError naming a variable that is
        out of range."""
        if environ is None:
            env = Settings.load()
        else:
            env = environ if isinstance(environ, Settings) else Settings(environ)
        public = is_public(env.get)
        proxies = env.get("PLAYGROUND_TRUSTED_PROXIES")
        return cls(
            public=public,
            share_server_keys=(env.get("PLAYGROUND_SHARE_SERVER_KEYS") or "1").lower() in _TRUE,
            max_prompt_chars=env.integer("PLAYGROUND_MAX_PROMPT_CHARS", MAX_PROMPT_CHARS,
                                         maximum=10_000_000),
            max_runs_per_session=env.integer("PLAYGROUND_MAX_RUNS_PER_SESSION",
                                             2 if public else 4, maximum=1000),
            max_runs_per_address=_cap(env, "PLAYGROUND_MAX_RUNS_PER_ADDRESS",
                                      4 if public else None),
            max_scenarios_per_address=_cap(env, "PLAYGROUND_MAX_SCENARIOS_PER_ADDRESS",
                                           1 if public else None),
            server_key_budget_per_min=_cap(env, "PLAYGROUND_SERVER_KEY_BUDGET_PER_MIN",
                                           60 if public else None),
            server_key_budget_per_day=_cap(env, "PLAYGROUND_SERVER_KEY_BUDGET_PER_DAY",
                                           1000 if public else None),
            trusted_proxies=(parse_proxies(proxies) if proxies else
                             (ANY_PROXY,) if env.get("SPACE_ID") else ()),
            max_upload_mb=env.integer("PLAYGROUND_MAX_UPLOAD_MB", MAX_UPLOAD_MB, maximum=10_000),
            key_client_idle_s=env.integer("PLAYGROUND_KEY_CLIENT_IDLE_S", KEY_CLIENT_IDLE_S,
                                          maximum=86_400),
        )


def _cap(env: Mapping[str, str] | Settings, name: str, default: int | None) -> int | None:
    """A limit from the environment: unset or empty is ``default``, ``off`` is no cap,
    else a whole number >= 0."""
    text = (env.get(name) or "").strip().lower()
    if not text:
        return default
    if text in ("off", "none", "unlimited"):
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise ValueError(f"{name} must be a whole number from 0 to 999,999,999 or 'off' "
                         f"(got {text[:20]!r}).")
    return int(text)


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
    problems = [p for name, value in sorted(given.items())
                for p in value_problems(name, value, secret=name in secret)]
    if problems:
        raise InputError(problems)
    refused = sorted(k for k in given if k in plain)
    if policy.public and refused:
        raise InputError([f"This is a public server: custom endpoints ({', '.join(refused)}) "
                          "cannot be set from the browser; only API keys can."])
    base = server if policy.share_server_keys else server.without(secret)
    if policy.public:  # the providers' own public-mode rules (local paths, Ollama)
        given[PUBLIC_FLAG] = "1"
    return base.with_overrides(given)


def value_problems(name: str, value: str, *, secret: bool) -> list[str]:
    """Why a session value cannot be used (never quoting it): control characters in
    anything (a newline would end an HTTP header), whitespace inside a key, and keys
    too short to be a key or too long. Too-short words must not enter the redaction
    list, where they would censor every other visitor's log lines."""
    if any(unicodedata.category(c).startswith("C") for c in value):
        return [f"{name} contains a control character (a line break?); paste the value "
                "again."]
    if not secret:
        return []
    if any(c.isspace() for c in value):
        return [f"{name} contains a space; an API key has none. Paste the key again."]
    if not MIN_KEY_CHARS <= len(value) <= MAX_KEY_CHARS:
        return [f"{name} must be {MIN_KEY_CHARS} to {MAX_KEY_CHARS:,} characters long; "
                "paste the whole key."]
    return []


class SessionLimiter(SlotLimiter):
    """Caps how many comparisons one session runs at once (thread- and task-safe)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit, "This session already runs {limit} comparison(s); wait "
                                "for one to finish or press Stop.")
