"""The legacy ``azure-ai-inference`` route (serverless ``/models`` and
``*.models.ai.azure.com`` endpoints).

Microsoft retired this SDK in favour of the ``/openai/v1`` API, but deployed serverless
endpoints still speak it. Its SSE reader silently drops in-stream error events, so a
stream that ends without a finish reason is reported as cut off.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from azure.ai.inference import models as az
from azure.ai.inference.aio import ChatCompletionsClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from providers.base import ChatRequest, Event, Finish, TextDelta, Usage
from providers.errors import BadResponseError, ProviderError, connection_error, from_status


def make_client(endpoint: str, key: str) -> ChatCompletionsClient:
    # retry_total=0: azure-core retries any status that has Retry-After, sleeping that
    # long (azure-core's RetryPolicy honours Retry-After); we never retry blindly.
    return ChatCompletionsClient(endpoint=endpoint, credential=AzureKeyCredential(key),
                                 retry_total=0, connection_timeout=30, read_timeout=600)


def sdk_messages(request: ChatRequest) -> list[Any]:
    """SystemMessage, then UserMessage/AssistantMessage per turn oldest first; a user
    turn's images as ImageContentItem data URLs in that turn."""
    messages: list[Any] = []
    if request.system:
        messages.append(az.SystemMessage(content=request.system))
    for turn in request.turns():
        if turn.role == "assistant":
            messages.append(az.AssistantMessage(content=turn.text))
        elif turn.images:
            items: list[Any] = [az.TextContentItem(text=turn.text)]
            items += [az.ImageContentItem(image_url=az.ImageUrl(url=image.data_url()))
                      for image in turn.images]
            messages.append(az.UserMessage(content=items))
        else:
            messages.append(az.UserMessage(content=turn.text))
    return messages


async def stream_inference(client: ChatCompletionsClient, request: ChatRequest, *,
                           provider: str, title: str, key_var: str,
                           endpoint: str) -> AsyncIterator[Event]:
    """Stream ``request`` through ``ChatCompletionsClient.complete(stream=True)``."""
    def translate(exc: Exception, mid_stream: bool = False) -> ProviderError:
        return translate_azure_error(exc, provider=provider, title=title, key_var=key_var,
                                     endpoint=endpoint, mid_stream=mid_stream)

    options = {"max_tokens": request.max_tokens, "temperature": request.temperature,
               "top_p": request.top_p, "seed": request.seed}
    try:
        updates = await client.complete(
            messages=sdk_messages(request), model=request.model, stream=True,
            **{k: v for k, v in options.items() if v is not None},
        )
    except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
        raise translate(exc) from exc
    finish_reason, usage, model = None, None, None
    try:
        async for update in updates:
            usage = update.usage or usage
            model = update.model or model
            for choice in update.choices or []:
                if choice.delta and choice.delta.content:
                    yield TextDelta(choice.delta.content)
                if choice.finish_reason:  # an enum whose value is the wire string
                    finish_reason = getattr(choice.finish_reason, "value", choice.finish_reason)
    except (HttpResponseError, ServiceRequestError, ServiceResponseError,
            ValueError) as exc:
        raise translate(exc, mid_stream=True) from exc
    finally:
        await updates.aclose()
    if usage is not None:
        yield Usage(usage.prompt_tokens, usage.completion_tokens, "reported")
    if finish_reason is None:
        raise BadResponseError(
            f"The stream from {title} ended without a finish reason (an in-stream error "
            "event, which this SDK drops, or a cut-off stream).", provider=provider)
    yield Finish(str(finish_reason), model)


def translate_azure_error(exc: Exception, *, provider: str, title: str, key_var: str,
                          endpoint: str, mid_stream: bool = False) -> ProviderError:
    """Translate azure-core exceptions once, by cause."""
    if isinstance(exc, HttpResponseError) and exc.status_code:
        body = exc.response.text() if exc.response is not None else exc.message
        headers = dict(exc.response.headers) if exc.response is not None else {}
        return from_status(exc.status_code, body, headers, provider=provider, title=title,
                           key_var=key_var)
    if isinstance(exc, (json.JSONDecodeError, ValueError)):
        return BadResponseError(f"{title} sent a stream this SDK cannot parse: {exc}",
                                provider=provider)
    return connection_error(title, endpoint, exc, mid_stream=mid_stream, provider=provider)
