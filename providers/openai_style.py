"""How to talk to an OpenAI-style chat-completions service, with the ``openai`` SDK.

GitHub Models, Azure AI Foundry's ``/openai/v1``, NVIDIA NIM and any OpenAI-compatible
local server speak this wire; their modules only say *who* to talk to (base URL, key).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from providers.answered import EVENT_HOOKS
from providers.base import ChatRequest, Event, Finish, ModelEntry, Provider, TextDelta, Usage
from providers.errors import (
    BadResponseError,
    CutOffError,
    ProviderError,
    ProviderTimeoutError,
    connection_error,
    from_status,
)
from providers.lazy import lazy_import
from providers.warmup import preconnect, rehearsal_request, rehearse_openai

httpx2, openai = lazy_import("httpx2"), lazy_import("openai")  # first use: providers.lazy
# SDK-side timeouts are a backstop only: the engine enforces the user's timeout.
SDK_TIMEOUT_S, SDK_CONNECT_TIMEOUT_S = 600.0, 30.0


def sdk_timeout() -> httpx2.Timeout:
    """The SDK clients' timeouts (built on first use: httpx2 loads with the SDK)."""
    return httpx2.Timeout(SDK_TIMEOUT_S, connect=SDK_CONNECT_TIMEOUT_S)


def openai_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """The system message, then every turn of the conversation oldest first (its own
    earlier answers as ``assistant`` messages); a user turn with images sends them as
    ``image_url`` parts with data URLs, in that turn."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for turn in request.turns():
        if turn.images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": turn.text}]
            parts += [{"type": "image_url", "image_url": {"url": image.data_url()}}
                      for image in turn.images]
            messages.append({"role": turn.role, "content": parts})
        else:
            messages.append({"role": turn.role, "content": turn.text})
    return messages


def sampling_options(request: ChatRequest) -> dict[str, Any]:
    """The sampling keys that were set; unset ones are omitted, not sent as null."""
    options = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
    }
    return {k: v for k, v in options.items() if v is not None}


class OpenAIStyleProvider(Provider):
    """Base for providers reached with ``openai.AsyncOpenAI``.

    Subclasses set ``base_url_var`` and ``key_var`` (names of their settings) and may
    override :meth:`translate` to add service-specific meaning to errors.
    """

    base_url_var: ClassVar[str]
    key_var: ClassVar[str | None] = None
    include_usage: ClassVar[bool] = True
    _client: openai.AsyncOpenAI | None = None
    _connected: frozenset[str] = frozenset()  # URLs pre-connected with the current client

    def modules(self) -> tuple[str, ...]:
        return ("openai", "httpx2")

    @property
    def base_url(self) -> str:
        return (self.setting(self.base_url_var) or "").rstrip("/")

    def client(self) -> openai.AsyncOpenAI:
        """One SDK client per provider instance (keep-alive across requests).

        SDK retries are off: a retry would hide a rate limit and skew every timing.
        """
        if self._client is None:
            key = (self.setting(self.key_var) if self.key_var else None) or "no-key"
            # The SDK's own default client, plus the hook that tells the engine when a
            # request has its response headers (providers.answered).
            http = openai.DefaultAsyncHttpxClient(timeout=sdk_timeout(), event_hooks=EVENT_HOOKS)
            self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=key,
                                              max_retries=0, timeout=sdk_timeout(),
                                              http_client=http)
        return self._client

    async def prepare(self, model: str) -> None:
        """Set up the client and do the SDK's first-use work (see providers.warmup):
        an in-memory rehearsal once per process, a credential-free pre-connect once
        per client."""
        client = self.client()
        client.chat.completions  # the SDK builds its resources lazily (~80 ms)
        await rehearse_openai(self.request_body(rehearsal_request(model)))
        url = self.preconnect_url(model)
        if url not in self._connected:
            self._connected = self._connected | {url}
            await preconnect(client._client, url)

    def preconnect_url(self, model: str) -> str:
        """Where ``model``'s request will go (its host is what matters)."""
        return self.base_url

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The chat-completions body for ``request`` (without ``stream``)."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": openai_messages(request),
            **sampling_options(request),
        }
        if self.include_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        try:
            chunks = await self.client().chat.completions.create(
                stream=True, **self.request_body(request)
            )
        except openai.APIError as exc:
            raise self.translate(exc) from exc
        async for event in self.events(chunks):
            yield event

    async def events(self, chunks: Any) -> AsyncIterator[Event]:
        """Turn an SDK chunk stream into events, translating failures."""
        try:
            async for event in chunk_events(chunks, self.title):
                yield event
        except openai.APIConnectionError as exc:
            raise transport_error(exc.__cause__ or exc, self.title) from exc
        except openai.APIError as exc:
            raise self.translate(exc) from exc
        except (httpx2.TransportError, json.JSONDecodeError) as exc:
            raise transport_error(exc, self.title) from exc
        finally:
            await chunks.close()

    def translate(self, exc: openai.APIError) -> ProviderError:
        """Map an SDK error to a ProviderError; subclasses add service hints."""
        return translate_openai_error(exc, provider=self.id, title=self.title,
                                      key_var=self.key_var, base_url=self.base_url)

    async def list_models(self) -> list[ModelEntry]:
        try:
            page = await self.client().models.list()
        except openai.APIError as exc:
            raise self.translate(exc) from exc
        return [ModelEntry(id=m.id, source="service") async for m in page]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._connected = frozenset()


async def chunk_events(chunks: Any, title: str) -> AsyncIterator[Event]:
    """Events from ``ChatCompletionChunk`` objects.

    Usage may come as a separate chunk with empty ``choices`` or inside the finish
    chunk (Azure serverless Phi); empty-``choices`` frames that carry nothing (Azure's
    prompt-filter frame) are skipped. Without usage, a server documented to stream one
    chunk per token (see :func:`streams_one_chunk_per_token`) gets its token chunks
    counted, empty ones included, as an ``estimated`` Usage. A stream that ends without
    a finish reason was cut off, so it raises :class:`CutOffError` after the text.
    """
    finish_reason: str | None = None
    usage: Any = None
    model: str | None = None
    token_chunks = 0  # chunks carrying a content field, "" included (partial UTF-8)
    one_per_token = False
    frames = 0
    async for chunk in chunks:
        frames += 1
        usage = getattr(chunk, "usage", None) or usage
        model = chunk.model or model
        one_per_token = one_per_token or streams_one_chunk_per_token(chunk)
        for choice in chunk.choices or []:
            if choice.index not in (0, None):
                continue
            delta = choice.delta
            content = delta.content if delta else None
            if content:
                yield TextDelta(content)
            if content or (content is not None and not delta.role and not choice.finish_reason):
                token_chunks += 1
            finish_reason = choice.finish_reason or finish_reason
    if usage is not None:
        yield Usage(usage.prompt_tokens, usage.completion_tokens, "reported")
    elif one_per_token and token_chunks:
        yield Usage(None, token_chunks, "estimated")
    if finish_reason is None:
        raise cut_off(title, received=frames > 0)
    yield Finish(finish_reason, model or None)


def streams_one_chunk_per_token(chunk: Any) -> bool:
    """True for the servers whose documented stream sends one chunk per generated token:
    vLLM (its choices carry ``stop_reason``) and llama.cpp's ``llama-server`` (its chunks
    carry ``timings``)."""
    extra = getattr(chunk, "model_extra", None) or {}
    if "timings" in extra:
        return True
    return any("stop_reason" in (getattr(c, "model_extra", None) or {})
               for c in chunk.choices or [])


def cut_off(title: str, *, received: bool) -> CutOffError:
    """The error for a stream that ended unfinished; an empty one names its usual cause."""
    if not received:
        return CutOffError(
            f"{title} accepted the request but sent nothing: llama.cpp does this when the "
            "prompt is longer than its context or the model cannot take images.", empty=True)
    return CutOffError(f"The stream from {title} ended before the answer was finished "
                       "(no finish_reason: cut off).", empty=False)


def translate_openai_error(
    exc: openai.APIError, *, provider: str, title: str, key_var: str | None, base_url: str
) -> ProviderError:
    """Translate an ``openai`` SDK exception once, by cause."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeoutError(f"{title} did not answer in time ({base_url}).",
                                    provider=provider)
    if isinstance(exc, openai.APIConnectionError):
        return connection_error(title, base_url, exc.__cause__ or exc, provider=provider)
    if isinstance(exc, openai.APIStatusError):
        return from_status(exc.status_code, exc.response.text, exc.response.headers,
                           provider=provider, title=title, key_var=key_var)
    # An error event inside a 200 stream.
    return BadResponseError(f"{title} reported an error mid-stream: {exc.message}",
                            provider=provider)


def transport_error(exc: Exception, title: str) -> ProviderError:
    """A connection or parse failure while reading a stream."""
    if isinstance(exc, json.JSONDecodeError):
        return BadResponseError(f"{title} sent a malformed stream chunk (not JSON).")
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderTimeoutError(f"{title} stopped sending data mid-stream.")
    return connection_error(title, "", exc, mid_stream=True)
