"""Provider registry: provider id -> class, and ``PROVIDER:MODEL`` target parsing."""

from __future__ import annotations

from dataclasses import dataclass

from providers.azure import AzureFoundryProvider
from providers.base import Provider
from providers.errors import ConfigError
from providers.github import GitHubModelsProvider
from providers.nim import NimProvider
from providers.ollama import OllamaProvider
from providers.openai import OpenAIServerProvider
from providers.settings import Settings

PROVIDERS: dict[str, type[Provider]] = {
    cls.id: cls
    for cls in (
        AzureFoundryProvider,
        NimProvider,
        OllamaProvider,
        OpenAIServerProvider,
        GitHubModelsProvider,
    )
}


def register(cls: type[Provider]) -> type[Provider]:
    """Add a provider class to the registry (used by the local-runtime modules)."""
    PROVIDERS[cls.id] = cls
    return cls


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


# The local runtimes call register() on import (after it is defined); their heavy
# imports (onnxruntime-genai's model loading, torch) stay lazy inside them.
from providers.local import onnx, transformers  # noqa: E402, F401
