"""The provider pool: provider instances (and their HTTP clients) reused across runs,
and dropped again when the session whose keys they carry ends or falls idle.

Without dropping, every distinct key a visitor typed would keep its SDK clients (about
0.8 MB each) for the life of the process.
"""

from __future__ import annotations

import providers
from playground.limits import ServerKeyBudget
from providers.base import Provider
from providers.settings import Settings


class ProviderPool:
    """Provider instances reused across runs so HTTP connections are kept alive.

    Instances are keyed by provider id and the values of the settings that provider
    reads, so sessions with different keys never share a client. A pool belongs to
    one event loop (the SDK clients do). Instances built for other settings than the
    pool's own (a session's keys) can be closed and dropped: :meth:`discard` when the
    session ends, :meth:`sweep` when idle; one in use by a comparison is closed when
    the comparison lets go of it. ``budget`` (if any) is charged one request per
    :meth:`acquire`.
    """

    def __init__(self, settings: Settings, budget: ServerKeyBudget | None = None) -> None:
        self.settings = settings
        self.budget = budget
        self._instances: dict[tuple[str, str], Provider] = {}
        self._busy: dict[int, int] = {}  # id(instance) -> comparisons using it
        self._touched: set[tuple[str, str]] = set()  # used since the last sweep
        self._retiring: dict[int, Provider] = {}  # dropped while busy: close on release

    def _key(self, provider_id: str, settings: Settings) -> tuple[str, str]:
        cls = providers.PROVIDERS[provider_id]
        return provider_id, settings.fingerprint(v.name for v in cls.env)

    def get(self, provider_id: str, settings: Settings | None = None) -> Provider:
        """A configured provider; raises ConfigError naming any missing variable."""
        settings = settings or self.settings
        key = self._key(provider_id, settings)
        if key not in self._instances:
            instance = providers.create(provider_id, settings)
            instance.check_configured()
            self._instances[key] = instance
        self._touched.add(key)
        return self._instances[key]

    def acquire(self, provider_id: str, settings: Settings | None = None) -> Provider:
        """:meth:`get` for one request: charged to the budget (RateLimitError when it
        is spent) and kept open until :meth:`release`."""
        settings = settings or self.settings
        instance = self.get(provider_id, settings)
        if self.budget is not None:
            self.budget.charge(provider_id, settings)
        self._busy[id(instance)] = self._busy.get(id(instance), 0) + 1
        return instance

    async def release(self, instance: Provider) -> None:
        """A comparison is done with ``instance`` (from :meth:`acquire`)."""
        left = self._busy.get(id(instance), 1) - 1
        if left > 0:
            self._busy[id(instance)] = left
            return
        self._busy.pop(id(instance), None)
        retired = self._retiring.pop(id(instance), None)
        if retired is not None:
            await retired.aclose()

    async def discard(self, settings: Settings) -> int:
        """Close and drop the instances built for ``settings`` (never the pool's own);
        returns how many were dropped."""
        own = self._own_keys()
        keys = [k for k in self._instances
                if k == self._key(k[0], settings) and k not in own]
        return await self._drop(keys)

    async def sweep(self) -> int:
        """Close and drop instances built for other settings than the pool's own that
        nobody acquired since the previous sweep and nobody holds (so: idle for at least
        one sweep period); returns how many."""
        own = self._own_keys()
        idle = [k for k, instance in self._instances.items()
                if k not in own and k not in self._touched and id(instance) not in self._busy]
        self._touched.clear()
        return await self._drop(idle)

    def _own_keys(self) -> set[tuple[str, str]]:
        """The keys of instances built for the pool's own settings (never dropped)."""
        return {self._key(provider_id, self.settings) for provider_id, _ in self._instances}

    async def _drop(self, keys: list[tuple[str, str]]) -> int:
        dropped = [(key, self._instances.pop(key)) for key in keys if key in self._instances]
        for key, instance in dropped:  # all out of the pool first: closing awaits
            self._touched.discard(key)
            if id(instance) in self._busy:
                self._retiring[id(instance)] = instance
            else:
                await instance.aclose()
        return len(dropped)

    def __len__(self) -> int:
        """Open instances, including those closing when their comparison ends."""
        return len(self._instances) + len(self._retiring)

    async def aclose(self) -> None:
        """Close every provider's clients."""
        for instance in [*self._instances.values(), *self._retiring.values()]:
            await instance.aclose()
        self._instances.clear()
        self._retiring.clear()
