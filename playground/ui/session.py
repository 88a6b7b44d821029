"""Per-session state kept on the server: the session's own keys and its running
comparisons, plus the provider pool shared by every session.

Keys typed in the settings panel live in a ``gr.State`` (server-side, per browser tab);
they are never sent back to the page, logged or exported, and override the server's
settings for that session only (``playground.policy.session_settings``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import providers
from playground.engine import ProviderPool
from playground.logs import install_redaction
from playground.policy import Policy, session_settings
from playground.ui.live import LiveRun
from providers.public import PUBLIC_FLAG
from providers.settings import Settings

LOCAL_SESSION = "local"  # handlers called without a Gradio request (tests, scripts)


@dataclass(frozen=True)
class SettingField:
    """One variable the settings panel offers."""

    name: str
    help: str
    secret: bool
    provider: str


def setting_fields(policy: Policy) -> list[SettingField]:
    """Every key, plus required endpoints unless the server is public (where endpoints
    from the browser are refused: no server-side requests to internal addresses)."""
    fields: dict[str, SettingField] = {}
    for provider_id, cls in providers.PROVIDERS.items():
        for var in cls.env:
            if var.secret or (var.required and not policy.public):
                fields.setdefault(var.name, SettingField(var.name, var.help, var.secret,
                                                         provider_id))
    return list(fields.values())


def session_key(request: object | None) -> str:
    """The Gradio session hash (one per page load), or LOCAL_SESSION."""
    return getattr(request, "session_hash", None) or LOCAL_SESSION


class Sessions:
    """Server-wide state shared by all sessions: settings, policy, pools, live runs."""

    def __init__(self, settings: Settings, policy: Policy) -> None:
        # Providers read the public flag from their settings (local paths, Ollama).
        self.settings = settings.with_overrides({PUBLIC_FLAG: "1"}) if policy.public \
            else settings
        self.policy = policy
        self._redaction = install_redaction(settings)
        # A pool's SDK clients belong to one event loop (Gradio has one; tests that
        # call handlers with asyncio.run get a fresh loop each time).
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProviderPool] = \
            weakref.WeakKeyDictionary()
        self._runs: dict[str, set[LiveRun]] = {}

    def settings_for(self, values: Mapping[str, str] | None) -> Settings:
        """This session's settings (raises InputError for values the policy refuses)."""
        return session_settings(self.settings, values or {}, self.policy)

    def remember_secrets(self, settings: Settings) -> None:
        """Redact this session's keys from every log line from now on."""
        self._redaction.add(settings.secret_values())

    def pool(self) -> ProviderPool:
        """The provider pool of the running event loop."""
        loop = asyncio.get_running_loop()
        if loop not in self._pools:
            self._pools[loop] = ProviderPool(self.settings)
        return self._pools[loop]

    async def close_pool(self) -> None:
        """Close the running loop's provider clients (tests and scripts, before their
        loop ends)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.aclose()

    def start(self, session: str, run: LiveRun) -> None:
        self._runs.setdefault(session, set()).add(run)

    def finish(self, session: str, run: LiveRun) -> None:
        runs = self._runs.get(session, set())
        runs.discard(run)
        if not runs:
            self._runs.pop(session, None)

    def running(self, session: str) -> list[LiveRun]:
        return list(self._runs.get(session, ()))

    def stop(self, session: str) -> int:
        """Stop every comparison the session runs; returns how many."""
        runs = self.running(session)
        for run in runs:
            run.stop()
        return len(runs)
