"""Azure AI Foundry / AI Studio.

Two routes, chosen by the endpoint: one containing ``/openai/v1`` is Foundry's current
OpenAI-compatible API (``openai`` SDK); any other endpoint is a serverless or ``/models``
endpoint reached with the retired ``azure-ai-inference`` SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from providers.base import ChatRequest, Event, ModelEntry
from providers.openai_style import OpenAIStyleProvider
from providers.spec import EnvVar, ProviderSpec

SPEC = ProviderSpec(
    "azure", "Azure AI Foundry", "AzureFoundryProvider",
    env=(EnvVar("AZURE_AI_ENDPOINT",
                "https://<resource>.services.ai.azure.com/openai/v1 (current API) or a "
                "serverless https://<deployment>.<region>.models.ai.azure.com endpoint",
                required=True),
         EnvVar("AZURE_AI_API_KEY", "key of that endpoint", secret=True, required=True)),
    route_hint="Azure AI Foundry",
    service="Azure AI Foundry / AI Studio",
    sdk="`openai` when the endpoint contains `/openai/v1`; else `azure-ai-inference` "
        "(legacy serverless)",
    needs="endpoint + key")


class AzureFoundryProvider(OpenAIStyleProvider):
    id = "azure"
    base_url_var = "AZURE_AI_ENDPOINT"
    key_var = "AZURE_AI_API_KEY"
    _inference: Any = None

    @property
    def route(self) -> str:
        """``openai-v1`` or ``azure-ai-inference``, from the endpoint's shape."""
        return "openai-v1" if "/openai/v1" in self.base_url else "azure-ai-inference"

    def modules(self) -> tuple[str, ...]:
        return super().modules() if self.route == "openai-v1" else ("providers.azure_inference",)

    async def prepare(self, model: str) -> None:
        if self.route == "openai-v1":
            await super().prepare(model)
        elif self._inference is None:
            from providers.azure_inference import make_client  # its SDK: only when used

            self._inference = make_client(self.base_url, self.setting(self.key_var) or "")

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        if self.route == "openai-v1":
            async for event in super().stream(request):
                yield event
            return
        await self.prepare(request.model)
        from providers.azure_inference import stream_inference

        async for event in stream_inference(self._inference, request, provider=self.id,
                                            title=self.title, key_var=self.key_var or "",
                                            endpoint=self.base_url):
            yield event

    async def list_models(self) -> list[ModelEntry]:
        # Serverless endpoints serve one deployment and have no model list.
        return await super().list_models() if self.route == "openai-v1" else []

    async def aclose(self) -> None:
        await super().aclose()
        if self._inference is not None:
            await self._inference.close()
            self._inference = None
