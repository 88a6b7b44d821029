"""NVIDIA NIM (hosted API catalog): OpenAI-compatible chat, plus the VLM route.

Phi-3-vision is served on ``{NIM_VLM_BASE_URL}/<model>`` where the URL selects the
model and images travel inline in the text as ``<img src="data:...">``; NVIDIA's
reference refuses more than 180,000 characters of base64 inline (NVIDIA's API reference
for the Phi-3-vision model).

The VLM server reads ``<img`` tags from the text of every message, so a ``<img`` that is
not ours (a user pasting HTML, an earlier answer quoting a tag) would be read as an
image: the route writes it as ``&lt;img`` (the model still reads the text) and says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from providers.base import ChatRequest, Event, ImageInput, Notice
from providers.catalog import NIM_VLM_MODELS
from providers.images import base64_chars, fit_base64
from providers.lazy import lazy_import
from providers.openai_style import OpenAIStyleProvider, sampling_options
from providers.spec import EnvVar, ProviderSpec

openai = lazy_import("openai")  # first use: providers.lazy

SPEC = ProviderSpec(
    "nim", "NVIDIA NIM", "NimProvider",
    env=(EnvVar("NVIDIA_API_KEY", "API key from build.nvidia.com (nvapi-...)",
                secret=True, required=True),
         EnvVar("NIM_BASE_URL", "OpenAI-compatible chat endpoint",
                default="https://integrate.api.nvidia.com/v1"),
         EnvVar("NIM_VLM_BASE_URL", "VLM endpoint for models that take inline <img> tags",
                default="https://ai.api.nvidia.com/v1/vlm")),
    route_hint="NVIDIA NIM",
    service="NVIDIA NIM (hosted)",
    sdk="`openai`; Phi-3-vision on the VLM route with inline `<img>` (images over "
        "180,000 base64 characters are downscaled, and a `<img` already in the text is "
        "written `&lt;img`, each with a note)",
    needs="key")

VLM_INLINE_LIMIT = 180_000  # base64 characters per image, NVIDIA's documented limit
# The start of an image tag as the VLM server would find it in a message's text; any
# case, as an HTML reader would (its exact matching is not documented, so be broad).
IMG_TAG_START = re.compile(r"<(?=img)", re.IGNORECASE)
STRAY_IMG_NOTE = ("{count} `<img` in the conversation's text written as `&lt;img`, so that "
                  "NVIDIA's VLM route does not read it as an image tag (the model still "
                  "reads the text).")


class NimProvider(OpenAIStyleProvider):
    id = "nim"
    base_url_var = "NIM_BASE_URL"
    key_var = "NVIDIA_API_KEY"

    def uses_vlm_route(self, model: str) -> bool:
        return model.lower() in NIM_VLM_MODELS

    def prepare_request(self, request: ChatRequest) -> tuple[ChatRequest, list[str]]:
        """Downscale images that exceed the VLM route's inline limit, in whichever turn
        they are (CPU-heavy: the engine runs this in a worker thread before the clock
        starts)."""
        if not self.uses_vlm_route(request.model) or not request.all_images():
            return request, []
        return fit_conversation(request)

    def preconnect_url(self, model: str) -> str:
        if self.uses_vlm_route(model):
            return (self.setting("NIM_VLM_BASE_URL") or "").rstrip("/")
        return self.base_url

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        if not self.uses_vlm_route(request.model):
            async for event in super().stream(request):
                yield event
            return
        body, notes = vlm_body(request)
        for note in notes:
            yield Notice(note)
        url = f"{(self.setting('NIM_VLM_BASE_URL') or '').rstrip('/')}/{request.model}"
        from openai import AsyncStream  # here: the SDK loads on first use (providers.lazy)
        from openai.types.chat import ChatCompletionChunk

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


# One fitting at a time, its result remembered: six targets (or sessions) sending the same
# 39 MP photo decode it once, and only one decoded photo (~250 MB) is in memory at once.
_FIT_LOCK = threading.Lock()
_FITTED: OrderedDict[tuple[bytes, str], tuple[ImageInput, str | None]] = OrderedDict()
_FITTED_KEPT = 8  # fitted images are at most ~135 kB each


def fit_images(images: tuple[ImageInput, ...]) -> tuple[tuple[ImageInput, ...], list[str]]:
    """Every image within the route's inline limit, and a note for each one downscaled
    (CPU-heavy for a big photo: call it from a worker thread)."""
    fitted, notes = [], []
    for image in images:
        if base64_chars(image.data) <= VLM_INLINE_LIMIT:  # fits as it is
            fitted.append(image)
            continue
        key = (hashlib.sha256(image.data).digest(), image.name)
        with _FIT_LOCK:
            if key not in _FITTED:
                _FITTED[key] = fit_base64(image, VLM_INLINE_LIMIT)
                while len(_FITTED) > _FITTED_KEPT:
                    _FITTED.popitem(last=False)
            _FITTED.move_to_end(key)
            small, note = _FITTED[key]
        fitted.append(small)
        if note:
            notes.append(note)
    return tuple(fitted), notes


def fit_conversation(request: ChatRequest) -> tuple[ChatRequest, list[str]]:
    """``request`` with every image of every turn within the inline limit, and a note
    for each one downscaled."""
    notes: list[str] = []
    history = []
    for turn in request.history:
        fitted, turn_notes = fit_images(turn.images)
        history.append(dataclasses.replace(turn, images=fitted))
        notes += turn_notes
    images, new_notes = fit_images(request.images)
    fitted_request = dataclasses.replace(request, history=tuple(history), images=images)
    return fitted_request, notes + new_notes


def vlm_body(request: ChatRequest) -> tuple[dict[str, Any], list[str]]:
    """The VLM body: string content with inline ``<img>`` tags in the turn that had the
    images, every turn oldest first, no ``model`` key; any ``<img`` already in a text
    is neutralized (:func:`neutralize_img_tags`), with a note.

    Images normally arrive fitted (``prepare_request``); one that does not is fitted
    here, so a direct call still obeys the limit."""
    fitted, notes = fit_conversation(request)
    stray = 0

    def text_only(text: str) -> str:
        nonlocal stray
        escaped, found = neutralize_img_tags(text)
        stray += found
        return escaped

    messages = ([{"role": "system", "content": text_only(request.system)}]
                if request.system else [])
    for turn in fitted.turns():
        tags = [f'<img src="{image.data_url()}" />' for image in turn.images]
        messages.append({"role": turn.role, "content": " ".join([text_only(turn.text), *tags])})
    if stray:
        notes.append(STRAY_IMG_NOTE.format(count=stray))
    return {"messages": messages, "stream": True, **sampling_options(request)}, notes


def neutralize_img_tags(text: str) -> tuple[str, int]:
    """``text`` with every ``<img`` (any case) written ``&lt;img``, and how many there
    were: the VLM server then finds no image tag in it, and the model reads the same
    words."""
    return IMG_TAG_START.subn("&lt;", text)
