"""Any OpenAI-compatible server: Foundry Local, LM Studio, llama.cpp, vLLM, Ollama's /v1."""

from __future__ import annotations

from providers.openai_compat import OpenAIStyleProvider
from providers.settings import EnvVar


class OpenAIServerProvider(OpenAIStyleProvider):
    id = "openai"
    title = "OpenAI-compatible server"
    base_url_var = "OPENAI_COMPAT_BASE_URL"
    key_var = "OPENAI_COMPAT_API_KEY"
    env = (
        EnvVar("OPENAI_COMPAT_BASE_URL",
               "base URL ending in /v1, e.g. http://127.0.0.1:1234/v1 (LM Studio)",
               required=True),
        EnvVar("OPENAI_COMPAT_API_KEY", "API key, if the server wants one", secret=True),
        EnvVar("OPENAI_COMPAT_STREAM_USAGE",
               "1 to ask for token usage in the stream (stream_options); 0 for servers "
               "that reject it", default="1"),
    )

    @property
    def include_usage(self) -> bool:  # type: ignore[override]
        return self.setting("OPENAI_COMPAT_STREAM_USAGE") not in ("0", "false", "no")
