"""The compare engine's first phase, before any clock starts: each target's provider
taken from the pool and prepared (a local model loading), then each request fitted by
its provider (image downscaling and the like) in worker threads.

Nothing here reads the clock: a target that cannot be set up is handed to the engine's
``fail`` callback, which records it with the engine's own time mark.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence

from playground.pool import ProviderPool
from providers import Target
from providers.base import ChatRequest, Provider
from providers.errors import ProviderError, UnavailableError
from providers.settings import Settings

# fail(index, error): target ``index`` is not dispatched, because of ``error``.
FailTarget = Callable[[int, ProviderError], None]
# Index -> (the request as its provider fitted it, notices about the fitting).
FittedRequests = dict[int, tuple[ChatRequest, list[str]]]


async def prepare_providers(targets: Sequence[Target], pool: ProviderPool, settings: Settings,
                            held: list[Provider], fail: FailTarget) -> list[Provider | None]:
    """Each target's provider, acquired (into ``held``, for the engine to release) and
    prepared, in target order; None for a target whose provider cannot be set up."""
    ready: list[Provider | None] = []
    for index, target in enumerate(targets):
        try:
            provider = pool.acquire(target.provider, settings)
            held.append(provider)
            if modules := provider.modules():  # first imported off the event loop
                await asyncio.to_thread(import_all, modules)
            await provider.prepare(target.model)
            ready.append(provider)
        except ProviderError as exc:
            fail(index, exc)
            ready.append(None)
        except OSError as exc:  # a local file that cannot be read: this target only
            fail(index, UnavailableError(f"{target}: a local file cannot be read "
                                         f"({exc.strerror or type(exc).__name__})."))
            ready.append(None)
    return ready


def import_all(names: Sequence[str]) -> None:
    """Import each module (a no-op for those already imported)."""
    for name in names:
        importlib.import_module(name)


async def fit_requests(ready: list[Provider | None], requests: Sequence[ChatRequest],
                       fitted: FittedRequests, fail: FailTarget) -> None:
    """Each provider fits its request in a worker thread, all at once, into ``fitted``:
    CPU work must neither stall the event loop (every session's streams) nor land
    inside a TTFT. A target whose request cannot be fitted is failed and its entry in
    ``ready`` set to None (not dispatched)."""
    async def fit(index: int, provider: Provider) -> None:
        try:
            fitted[index] = await asyncio.to_thread(provider.prepare_request, requests[index])
        except ProviderError as exc:
            fail(index, exc)
            ready[index] = None

    await asyncio.gather(*(fit(i, p) for i, p in enumerate(ready) if p is not None))
