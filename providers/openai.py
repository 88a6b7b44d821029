"""Any OpenAI-compatible server: Foundry Local, LM Studio, llama.cpp, vLLM, Ollama's /v1."""

from __future__ import annotations

from typing import Any

from providers.lazy import lazy_import
from providers.openai_style import OpenAIStyleProvider
from providers.spec import EnvVar, ProviderSpec

openai = lazy_import("openai")  # first use: providers.lazy

SPEC = ProviderSpec(
    "openai", "OpenAI-compatible server", "OpenAIServerProvider",
    env=(EnvVar("OPENAI_COMPAT_BASE_URL",
                "base URL ending in /v1, e.g. http://127.0.0.1:1234/v1 (LM Studio)",
                required=True),
         EnvVar("OPENAI_COMPAT_API_KEY", "API key, if the server wants one", secret=True),
         EnvVar("OPENAI_COMPAT_STREAM_USAGE",
                "1 to ask for token usage in the stream (stream_options); 0 for servers "
                "that reject it", default="1")),
    route_hint="any OpenAI-compatible server",
    service="any OpenAI-compatible server (Foundry Local, LM Studio, llama.cpp, vLLM)",
    sdk="`openai`", needs="base URL")

# Tokenizer routes, tried in order: llama-cpp-python's server, then llama.cpp's
# llama-server. Both answer {"tokens": [...]}; each body names the text its own way.
TOKENIZE_ROUTES: tuple[tuple[str, str], ...] = (("/extras/tokenize", "input"),
                                                 ("/tokenize", "content"))


class OpenAIServerProvider(OpenAIStyleProvider):
    id = "openai"
    base_url_var = "OPENAI_COMPAT_BASE_URL"
    key_var = "OPENAI_COMPAT_API_KEY"
    # Which TOKENIZE_ROUTES entry answered (None: not asked yet; -1: none does).
    _tokenize_route: int | None = None

    @property
    def include_usage(self) -> bool:  # type: ignore[override]
        return self.setting("OPENAI_COMPAT_STREAM_USAGE") not in ("0", "false", "no")

    async def count_tokens(self, model: str, text: str) -> int | None:
        """Tokens in ``text`` by the server's own tokenizer (llama-cpp-python's
        ``/extras/tokenize`` or llama.cpp's ``/tokenize``), or None when it has none.

        Both may add a BOS token, so the count of "" is subtracted. Call it only when no
        stream is running on the server: llama-cpp-python serves it under the same lock
        as generation, and with interrupts on it would cut a running answer short.
        """
        if self._tokenize_route == -1:
            return None
        order = (range(len(TOKENIZE_ROUTES)) if self._tokenize_route is None
                 else [self._tokenize_route])
        for index in order:
            tokens = await self._tokenize(index, model, text)
            if tokens is None:
                continue
            baseline = await self._tokenize(index, model, "")
            self._tokenize_route = index
            return max(0, tokens - (baseline or 0))
        self._tokenize_route = -1
        return None

    async def _tokenize(self, index: int, model: str, text: str) -> int | None:
        """How many ids one tokenizer route returns for ``text``; None if it cannot."""
        path, field = TOKENIZE_ROUTES[index]
        root = self.base_url.removesuffix("/v1")
        try:
            answer: Any = await self.client().post(
                root + path, cast_to=object, body={field: text, "model": model})
        except openai.APIError:
            return None
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        return len(tokens) if isinstance(tokens, list) else None
