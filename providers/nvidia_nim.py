"""NVIDIA NIM (hosted API catalog): OpenAI-compatible chat, plus the VLM route.

Phi-3-vision is served on ``{NIM_VLM_BASE_URL}/<model>`` where the URL selects the
model and images travel inline in the text as ``<img src="data:...">``; NVIDIA's
reference refuses more than 180,000 characters of base64 inline (NVIDIA's API reference
for the Phi-3-vision model).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncStream
from openai.types.chat import ChatCompletionChunk

from providers.base import ChatRequest, Event, Notice
from providers.catalog import NIM_VLM_MODELS
from providers.images import fit_base64
from providers.openai_compat import OpenAIStyleProvider, sampling_options
from providers.settings import EnvVar

VLM_INLINE_LIMIT = 180_000  # base64 characters per image, NVIDIA's documented limit


class NimProvider(OpenAIStyleProvider):
    id = "nim"
    title = "NVIDIA NIM"
    base_url_var = "NIM_BASE_URL"
    key_var = "NVIDIA_API_KEY"
    env = (
        EnvVar("NVIDIA_API_KEY", "API key from build.nvidia.com (nvapi-...)",
               secret=True, required=True),
        EnvVar("NIM_BASE_URL", "OpenAI-compatible chat endpoint",
               default="https://integrate.api.nvidia.com/v1"),
        EnvVar("NIM_VLM_BASE_URL", "VLM endpoint for models that take inline <img> tags",
               default="https://ai.api.nvidia.com/v1/vlm"),
    )

    def uses_vlm_route(self, model: str) -> bool:
        return model.lower() in NIM_VLM_MODELS

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        if not self.uses_vlm_route(request.model):
            async for event in super().stream(request):
                yield event
            return
        body, notes = vlm_body(request)
        for note in notes:
            yield Notice(note)
        url = f"{(self.setting('NIM_VLM_BASE_URL') or '').rstrip('/')}/{request.model}"
        try:
            # An absolute URL bypasses base_url; the SDK still parses the SSE for us.
            chunks = await self.client().post(
                url, cast_to=ChatCompletionChunk, body=body, stream=True,
                stream_cls=AsyncStream[ChatCompletionChunk],
                options={"headers": {"Accept": "text/event-stream"}},
            )
        except openai.APIError as exc:
            raise self.translate(exc) from exc
        async for event in self.events(chunks):
            yield event


def vlm_body(request: ChatRequest) -> tuple[dict[str, Any], list[str]]:
    """The VLM body: string content with inline ``<img>`` tags, no ``model`` key."""
    notes: list[str] = []
    tags = []
    for image in request.images:
        fitted, note = fit_base64(image, VLM_INLINE_LIMIT)
        if note:
            notes.append(note)
        tags.append(f'<img src="{fitted.data_url()}" />')
    content = " ".join([request.prompt, *tags])
    messages = [{"role": "user", "content": content}]
    if request.system:
        messages.insert(0, {"role": "system", "content": request.system})
    return {"messages": messages, "stream": True, **sampling_options(request)}, notes
