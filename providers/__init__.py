"""Provider registry: provider id -> class, imported on first use, and ``PROVIDER:MODEL``
target parsing.

Which providers exist is listed in :mod:`providers.registry`, and what each one reads
is declared at the top of its module (``SPEC``); :data:`PROVIDERS` imports a provider's
module only when its class is first asked for, and its SDK only when it is used.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from providers.errors import ConfigError
from providers.registry import MODULES, module_of

if TYPE_CHECKING:
    from providers.base import Provider
    from providers.settings import Settings


class LazyProviders(MutableMapping[str, "type[Provider]"]):
    """Provider id -> class, in :data:`~providers.registry.MODULES` order. Listing ids
    (``in``, ``iter``, ``len``) imports nothing; getting a class imports its module.
    Tests may add or remove entries (``monkeypatch.setitem``)."""

    def __init__(self) -> None:
        self._ids: list[str] = list(MODULES)
        self._loaded: dict[str, type[Provider]] = {}

    def __getitem__(self, provider_id: str) -> type[Provider]:
        if provider_id not in self._loaded:
            if provider_id not in self._ids:
                raise KeyError(provider_id)
            module = module_of(provider_id)
            self._loaded[provider_id] = getattr(module, module.SPEC.class_name)
        return self._loaded[provider_id]

    def __setitem__(self, provider_id: str, cls: type[Provider]) -> None:
        if provider_id not in self._ids:
            self._ids.append(provider_id)
            # A registered id put back (a test's monkeypatch undone) keeps its place.
            order = list(MODULES)
            self._ids.sort(key=lambda i: order.index(i) if i in MODULES else len(order))
        self._loaded[provider_id] = cls

    def __delitem__(self, provider_id: str) -> None:
        if provider_id not in self._ids:
            raise KeyError(provider_id)
        self._ids.remove(provider_id)
        self._loaded.pop(provider_id, None)

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._ids))

    def __len__(self) -> int:
        return len(self._ids)


PROVIDERS = LazyProviders()


@dataclass(frozen=True)
class Target:
    """One model on one provider, written ``PROVIDER:MODEL`` (the model id may itself
    contain colons, as Ollama tags do: ``ollama:phi3:medium``)."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_target(spec: str) -> Target:
    """Parse ``PROVIDER:MODEL``; raise ConfigError with a clear message otherwise."""
    provider, sep, model = spec.strip().partition(":")
    if not sep or not provider or not model.strip():
        raise ConfigError(
            f"Target {spec!r} is not PROVIDER:MODEL (for example ollama:phi3.5 or "
            f"nim:microsoft/phi-3.5-mini-instruct)."
        )
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise ConfigError(
            f"Unknown provider {provider!r} in target {spec!r}; choose one of "
            f"{', '.join(sorted(PROVIDERS))}."
        )
    return Target(provider, model.strip())


def create(provider_id: str, settings: Settings) -> Provider:
    """A new provider instance bound to ``settings``."""
    return PROVIDERS[provider_id](settings)
