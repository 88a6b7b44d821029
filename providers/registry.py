"""Every provider, declared once: id → module path, title and the settings it reads.

This module imports only the standard library, so the
CLI's ``--help``, :class:`~providers.settings.Settings` (which must know the secret
names to redact them) and the generated documents (``python -m playground.docs_gen``)
read it without importing any SDK. A provider's module is imported on first use
(:data:`providers.PROVIDERS`); its class takes ``id``, ``title``, ``env``, ``local``
and ``status_note`` from its entry here (:meth:`ProviderSpec.apply`), so the two
cannot disagree.

To add a provider: one :class:`ProviderSpec` in :data:`SPECS` and its module (README,
"Add a provider").
"""

from __future__ import annotations

from dataclasses import dataclass

GITHUB_RETIREMENT_DATE = "2026-07-30"  # GitHub's changelog, "GitHub Models retirement"


@dataclass(frozen=True)
class EnvVar:
    """One variable a provider reads (``default`` applies when it is unset or empty)."""

    name: str
    help: str
    default: str | None = None
    secret: bool = False
    required: bool = False


@dataclass(frozen=True)
class ProviderSpec:
    """What is known about a provider without importing it.

    ``module``/``class_name`` say where its :class:`~providers.base.Provider` lives;
    ``service``, ``sdk`` and ``needs`` are the README table's columns; ``working``
    routes are the ones a retired route's message points to (``route_hint`` names them);
    a ``retired`` one reads as retired whatever its settings.
    """

    id: str
    title: str
    module: str
    class_name: str
    env: tuple[EnvVar, ...] = ()
    local: bool = False
    status_note: str = ""
    working: bool = True
    retired: bool = False
    route_hint: str = ""
    service: str = ""
    sdk: str = ""
    needs: str = ""


SPECS: dict[str, ProviderSpec] = {spec.id: spec for spec in (
    ProviderSpec(
        "azure", "Azure AI Foundry", "providers.azure", "AzureFoundryProvider",
        env=(EnvVar("AZURE_AI_ENDPOINT",
                    "https://<resource>.services.ai.azure.com/openai/v1 (current API) or a "
                    "serverless https://<deployment>.<region>.models.ai.azure.com endpoint",
                    required=True),
             EnvVar("AZURE_AI_API_KEY", "key of that endpoint", secret=True, required=True)),
        route_hint="Azure AI Foundry",
        service="Azure AI Foundry / AI Studio",
        sdk="`openai` when the endpoint contains `/openai/v1`; else `azure-ai-inference` "
            "(legacy serverless)",
        needs="endpoint + key"),
    ProviderSpec(
        "nim", "NVIDIA NIM", "providers.nim", "NimProvider",
        env=(EnvVar("NVIDIA_API_KEY", "API key from build.nvidia.com (nvapi-...)",
                    secret=True, required=True),
             EnvVar("NIM_BASE_URL", "OpenAI-compatible chat endpoint",
                    default="https://integrate.api.nvidia.com/v1"),
             EnvVar("NIM_VLM_BASE_URL", "VLM endpoint for models that take inline <img> tags",
                    default="https://ai.api.nvidia.com/v1/vlm")),
        route_hint="NVIDIA NIM",
        service="NVIDIA NIM (hosted)",
        sdk="`openai`; Phi-3-vision on the VLM route with inline `<img>` (images over "
            "180,000 base64 characters are downscaled, with a note)",
        needs="key"),
    ProviderSpec(
        "ollama", "Ollama", "providers.ollama", "OllamaProvider", local=True,
        env=(EnvVar("OLLAMA_HOST", "where Ollama listens", default="http://127.0.0.1:11434"),),
        route_hint="local Ollama",
        service="Ollama, native `/api/chat` (exact server counters)",
        sdk="`ollama`", needs="a running `ollama serve`"),
    ProviderSpec(
        "openai", "OpenAI-compatible server", "providers.openai", "OpenAIServerProvider",
        env=(EnvVar("OPENAI_COMPAT_BASE_URL",
                    "base URL ending in /v1, e.g. http://127.0.0.1:1234/v1 (LM Studio)",
                    required=True),
             EnvVar("OPENAI_COMPAT_API_KEY", "API key, if the server wants one", secret=True),
             EnvVar("OPENAI_COMPAT_STREAM_USAGE",
                    "1 to ask for token usage in the stream (stream_options); 0 for servers "
                    "that reject it", default="1")),
        route_hint="any OpenAI-compatible server",
        service="any OpenAI-compatible server (Foundry Local, LM Studio, llama.cpp, vLLM)",
        sdk="`openai`", needs="base URL"),
    ProviderSpec(
        "onnx", "ONNX Runtime GenAI", "providers.local.onnx", "OnnxGenAIProvider", local=True,
        env=(EnvVar("ONNX_MODELS_DIR", "folder holding one sub-folder per ONNX model",
                    default="./models"),
             EnvVar("ONNX_MAX_LOADED", "most ONNX models kept loaded at once", default="2")),
        route_hint="local ONNX Runtime GenAI",
        service="ONNX Runtime GenAI in-process: Phi-3/3.5 CPU int4, text and vision; exact "
                "token counts from ids",
        sdk="`onnxruntime-genai`",
        needs="a model folder (`python -m playground models download NAME`)"),
    ProviderSpec(
        "transformers", "Hugging Face Transformers", "providers.local.transformers",
        "TransformersProvider", local=True, status_note="optional extra, CPU torch",
        env=(EnvVar("TRANSFORMERS_MAX_LOADED", "most Transformers models kept loaded at once",
                    default="1"),),
        # Not offered as a working route: it is an optional extra most installs lack.
        working=False,
        service="Hugging Face Transformers in-process (optional extra, CPU torch); exact "
                "token counts; images through the model's processor",
        sdk="`transformers` + `torch` (`pip install -r requirements-transformers.txt`)",
        needs="a local model folder (or a Hub id already in the Hugging Face cache)"),
    ProviderSpec(
        "github", "GitHub Models", "providers.github", "GitHubModelsProvider",
        status_note=f"retired by GitHub on {GITHUB_RETIREMENT_DATE}: every call answers "
                    "HTTP 410",
        env=(EnvVar("GITHUB_TOKEN", "GitHub token with Models: read (the service is retired)",
                    secret=True, required=True),
             EnvVar("GITHUB_MODELS_ENDPOINT", "GitHub Models inference endpoint",
                    default="https://models.github.ai/inference")),
        working=False, retired=True,
        service=f"GitHub Models: **retired by GitHub on {GITHUB_RETIREMENT_DATE}**; every call "
                "answers HTTP 410, which the playground reports with the routes that still work",
        sdk="`openai`", needs="token"),
)}


def working_routes() -> str:
    """The routes that still work, as a retired route's message names them:
    ``azure: (Azure AI Foundry), ... or openai: (...)`` (alphabetical)."""
    routes = [f"{s.id}: ({s.route_hint})" for s in sorted(SPECS.values(), key=lambda s: s.id)
              if s.working]
    return ", ".join(routes[:-1]) + " or " + routes[-1]


def secret_names() -> set[str]:
    """Every provider variable that holds a secret (redacted everywhere)."""
    return {v.name for spec in SPECS.values() for v in spec.env if v.secret}
