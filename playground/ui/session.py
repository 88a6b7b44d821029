"""Per-session state kept on the server: the session's own keys and its running
comparisons, plus the provider pool shared by every session.

Keys typed in the settings panel live in a ``gr.State`` (server-side, per browser tab);
they are never sent back to the page, logged or exported, and override the server's
settings for that session only (``playground.policy.session_settings``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import providers
from playground.limits import ServerKeyBudget
from playground.logs import install_redaction
from playground.policy import Policy, session_settings
from playground.pool import ProviderPool
from playground.ui.live import LiveRun
from providers.public import PUBLIC_FLAG
from providers.settings import Settings

LOCAL_SESSION = "local"  # handlers called without a Gradio request (tests, scripts)
# The flows whose runs a Stop ends: Compare (and its follow-ups), and the arena's battles.
COMPARE, ARENA = "compare", "arena"


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


def session_capacity() -> int:
    """How many sessions Gradio keeps (``PLAYGROUND_SESSION_CAPACITY``, default 1000);
    the per-session keys kept here follow the same bound."""
    return Settings.load().integer("PLAYGROUND_SESSION_CAPACITY", 1000, maximum=1_000_000)


class Sessions:
    """Server-wide state shared by all sessions: settings, policy, pools, live runs,
    the server-key budget and each session's own keys while the session lasts."""

    def __init__(self, settings: Settings, policy: Policy) -> None:
        # Providers read the public flag from their settings (local paths, Ollama).
        self.settings = settings.with_overrides({PUBLIC_FLAG: "1"}) if policy.public \
            else settings
        self.policy = policy
        self._redaction = install_redaction(settings)
        self.budget = (ServerKeyBudget(settings, policy.server_key_budget_per_min,
                                       policy.server_key_budget_per_day)
                       if policy.server_key_budget_per_min is not None
                       or policy.server_key_budget_per_day is not None else None)
        # A pool's SDK clients belong to one event loop (Gradio has one; tests that
        # call handlers with asyncio.run get a fresh loop each time).
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ProviderPool] = \
            weakref.WeakKeyDictionary()
        # id(pool) -> its sweeper (weak: the loop holds the task while it runs).
        self._sweepers: weakref.WeakValueDictionary[int, asyncio.Task[None]] = \
            weakref.WeakValueDictionary()
        self._runs: dict[tuple[str, str], set[LiveRun]] = {}  # (session, scope) -> runs
        # Session -> its settings, for sessions that typed keys of their own; least
        # recently used first out past the capacity (Gradio drops those sessions too).
        self._own_keys: OrderedDict[str, Settings] = OrderedDict()
        self._capacity = session_capacity()

    def settings_for(self, values: Mapping[str, str] | None) -> Settings:
        """This session's settings (raises InputError for values the policy refuses)."""
        return session_settings(self.settings, values or {}, self.policy)

    def remember_secrets(self, session: str, settings: Settings) -> None:
        """Redact this session's own keys from every log line and answer while the
        session lasts, and remember them so that :meth:`end` can drop their clients."""
        server = set(self.settings.secret_values())
        own = [v for v in settings.secret_values() if v not in server]
        if not own:
            return
        self._redaction.hold(session, own)
        self._own_keys[session] = settings
        self._own_keys.move_to_end(session)
        while len(self._own_keys) > self._capacity:
            gone, _ = self._own_keys.popitem(last=False)
            self._redaction.release(gone)

    async def end(self, session: str) -> int:
        """The session ended (its tab closed): forget its keys and close the clients
        built on them, unless another live session uses the same keys. Returns how
        many provider instances were dropped."""
        settings = self._own_keys.pop(session, None)
        self._redaction.release(session)
        if settings is None:
            return 0
        mine = settings.secret_values()
        if any(other.secret_values() == mine for other in self._own_keys.values()):
            return 0
        return await self.pool().discard(settings)

    def pool(self) -> ProviderPool:
        """The provider pool of the running event loop (it drops idle session-key
        clients every ``key_client_idle_s``)."""
        loop = asyncio.get_running_loop()
        if loop not in self._pools:
            pool = self._pools[loop] = ProviderPool(self.settings, self.budget)
            self._sweepers[id(pool)] = loop.create_task(self._sweep(pool))
        return self._pools[loop]

    async def _sweep(self, pool: ProviderPool) -> None:
        """Close session-key clients nobody used for a whole period (so they were idle
        between one and two periods): sessions that never say they ended (an API
        client without a heartbeat) do not keep their clients for good."""
        while True:
            await asyncio.sleep(self.policy.key_client_idle_s)
            await pool.sweep()

    async def close_pool(self) -> None:
        """Close the running loop's provider clients (tests and scripts, before their
        loop ends)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            sweeper = self._sweepers.pop(id(pool), None)
            if sweeper is not None:
                sweeper.cancel()
            await pool.aclose()

    def start(self, session: str, run: LiveRun, scope: str = COMPARE) -> None:
        """``run`` is streaming for ``session``; ``scope`` is the flow it belongs to
        (:data:`COMPARE`, :data:`ARENA`): a Stop ends that flow's runs only."""
        self._runs.setdefault((session, scope), set()).add(run)

    def finish(self, session: str, run: LiveRun, scope: str = COMPARE) -> None:
        runs = self._runs.get((session, scope), set())
        runs.discard(run)
        if not runs:
            self._runs.pop((session, scope), None)

    def running(self, session: str, scope: str = COMPARE) -> list[LiveRun]:
        return list(self._runs.get((session, scope), ()))

    def stop(self, session: str, scope: str = COMPARE) -> int:
        """Stop every run of the session's ``scope`` (Compare's Stop does not end an
        arena battle in the same tab, which would then be failed and never voted);
        returns how many."""
        runs = self.running(session, scope)
        for run in runs:
            run.stop()
        return len(runs)
