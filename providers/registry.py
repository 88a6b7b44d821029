"""Every provider, listed once: id → the module that declares and implements it.

Each provider module starts with its ``SPEC`` (:class:`~providers.spec.ProviderSpec`:
title, class, the settings it reads and which of them are secret). Those modules import
no SDK, httpx or Pillow when loaded (their SDKs load on first use, :mod:`providers.lazy`),
so reading :data:`SPECS` costs only the providers' own code: the CLI's ``--help`` reads
nothing here, :class:`~providers.settings.Settings` (which must know the secret names to
redact them) and the generated documents (``python -m playground.docs_gen``) read the
specs, and :data:`providers.PROVIDERS` hands out the classes.

To add a provider: its module with a ``SPEC``, and one line in :data:`MODULES` (README,
"Add a provider").
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

from providers.spec import EnvVar, ProviderSpec

__all__ = ["MODULES", "SPECS", "EnvVar", "ProviderSpec", "module_of", "secret_names",
           "working_routes"]

# Provider id -> its module, in the order the CLI, the web UI and the docs list them.
MODULES: dict[str, str] = {
    "azure": "providers.azure",
    "nim": "providers.nim",
    "ollama": "providers.ollama",
    "openai": "providers.openai",
    "onnx": "providers.local.onnx",
    "transformers": "providers.local.transformers",
    "github": "providers.github",
}


def module_of(provider_id: str) -> ModuleType:
    """The module of provider ``provider_id``, imported if needed (KeyError if unknown).

    Its ``SPEC`` must name the same id: a module listed under the wrong id fails here,
    not later with another provider's settings."""
    module = importlib.import_module(MODULES[provider_id])
    declared = getattr(module, "SPEC", None)
    if not isinstance(declared, ProviderSpec) or declared.id != provider_id:
        raise LookupError(f"{module.__name__} declares no SPEC for provider {provider_id!r}")
    return module


class _Specs(Mapping[str, ProviderSpec]):
    """Provider id -> :class:`ProviderSpec`, in :data:`MODULES` order. Listing ids
    (``in``, ``iter``, ``len``) imports nothing; reading a spec imports its module."""

    def __getitem__(self, provider_id: str) -> ProviderSpec:
        if provider_id not in MODULES:
            raise KeyError(provider_id)
        return module_of(provider_id).SPEC

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in MODULES

    def __iter__(self) -> Iterator[str]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)


SPECS: Mapping[str, ProviderSpec] = _Specs()


def working_routes() -> str:
    """The routes that still work, as a retired route's message names them:
    ``azure: (Azure AI Foundry), ... or openai: (...)`` (alphabetical)."""
    routes = [f"{s.id}: ({s.route_hint})" for s in sorted(SPECS.values(), key=lambda s: s.id)
              if s.working]
    return ", ".join(routes[:-1]) + " or " + routes[-1]


def secret_names() -> set[str]:
    """Every provider variable that holds a secret (redacted everywhere)."""
    return {v.name for spec in SPECS.values() for v in spec.env if v.secret}
