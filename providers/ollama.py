"""Ollama through its native ``/api/chat`` (``ollama`` SDK), for the server's exact
counters: ``prompt_eval_count``, ``eval_count`` and their durations in nanoseconds."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from providers.answered import EVENT_HOOKS
from providers.base import ChatRequest, ConfigGap, Event, Finish, ModelEntry, Provider, TextDelta, Usage
from providers.catalog import lookup
from providers.errors import (
    BadResponseError,
    NotFoundError,
    ProviderError,
    ProviderTimeoutError,
    UnavailableError,
    connection_error,
    from_status,
    is_dns_failure,
    server_message,
)
from providers.lazy import lazy_import
from providers.spec import EnvVar, ProviderSpec
from providers.warmup import preconnect, rehearsal_request, rehearse_ollama

httpx, ollama = lazy_import("httpx"), lazy_import("ollama")  # first use: providers.lazy

SPEC = ProviderSpec(
    "ollama", "Ollama", "OllamaProvider", local=True,
    env=(EnvVar("OLLAMA_HOST", "where Ollama listens", default="http://127.0.0.1:11434"),),
    route_hint="local Ollama",
    service="Ollama, native `/api/chat` (exact server counters)",
    sdk="`ollama`", needs="a running `ollama serve`")

NS_PER_MS = 1_000_000
PUBLIC_REFUSAL = "Ollama is not offered on this public server: its owner did not set OLLAMA_HOST."


class OllamaProvider(Provider):
    id = "ollama"
    _client: ollama.AsyncClient | None = None

    def modules(self) -> tuple[str, ...]:
        return ("ollama", "httpx")

    @property
    def host(self) -> str:
        return self.setting("OLLAMA_HOST") or ""

    def public_unset(self) -> bool:
        """A public server whose owner did not set OLLAMA_HOST: visitors' prompts must
        not go to whatever listens on this machine's default port."""
        return self.public and not self.settings.get("OLLAMA_HOST")

    def configuration_gap(self) -> ConfigGap | None:
        # On a public server the default address is not used: OLLAMA_HOST is required,
        # so every check that lists missing settings stops before probing 127.0.0.1.
        if self.public_unset():
            return ConfigGap(settings=("OLLAMA_HOST",), refusal=PUBLIC_REFUSAL,
                             reason="not offered on this public server (OLLAMA_HOST is not set)")
        return super().configuration_gap()

    def public_refusal(self, model: str) -> str | None:
        return PUBLIC_REFUSAL if self.public_unset() else None

    def client(self) -> ollama.AsyncClient:
        if self._client is None:
            # The hook tells the engine when a request has its headers (providers.answered).
            self._client = ollama.AsyncClient(host=self.host, event_hooks=EVENT_HOOKS,
                                              timeout=httpx.Timeout(600, connect=10))
        return self._client

    async def prepare(self, model: str) -> None:
        """Set up the client and do the SDK's first-use work (see providers.warmup):
        an in-memory rehearsal once per process, a credential-free pre-connect once
        per client."""
        first = self._client is None
        client = self.client()
        rehearsal = rehearsal_request(model)
        await rehearse_ollama(model, ollama_messages(rehearsal), ollama_options(rehearsal))
        if first:
            await preconnect(client._client, self.host)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        try:
            parts = await self.client().chat(
                model=request.model, messages=ollama_messages(request), stream=True,
                options=ollama_options(request),
            )
            final = None
            # Closed explicitly: on a stop or timeout the SDK's generator (and with it the
            # HTTP response) would otherwise stay open until garbage collected.
            async with aclosing(parts):
                async for part in parts:
                    if part.message and part.message.content:
                        yield TextDelta(part.message.content)
                    if part.done:
                        final = part
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError,
                json.JSONDecodeError) as exc:
            raise self.translate(exc, request.model) from exc
        if final is None:
            raise BadResponseError("Ollama's stream ended without its final 'done' line "
                                   "(cut off).", provider=self.id)
        yield Usage(final.prompt_eval_count, final.eval_count, "reported")
        yield Finish(final.done_reason, request.model, server_timings(final))

    def translate(self, exc: Exception, model: str) -> ProviderError:
        """Ollama failures, with the command that fixes the common ones."""
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return NotFoundError(f"Ollama has no model {model!r}: {exc.error}. "
                                     f"Pull it with `ollama pull {model}`.", provider=self.id)
            if exc.status_code == -1:  # an {"error": ...} line after the 200 header
                return BadResponseError(f"Ollama failed mid-stream: {exc.error}",
                                        provider=self.id)
            return from_status(exc.status_code, server_message(exc.error), None,
                               provider=self.id, title=self.title)
        if isinstance(exc, json.JSONDecodeError):
            return BadResponseError("Ollama sent a malformed stream line (not JSON).",
                                    provider=self.id)
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeoutError(f"Ollama at {self.host} did not answer in time.",
                                        provider=self.id)
        if isinstance(exc, (httpx.ConnectError, ConnectionError)):
            if is_dns_failure(exc):
                return connection_error(self.title, self.host, exc, provider=self.id)
            return UnavailableError(f"Ollama is not running at {self.host}: start it with "
                                    "`ollama serve` or set OLLAMA_HOST.", provider=self.id)
        return connection_error(self.title, self.host, exc, mid_stream=True, provider=self.id)

    async def list_models(self) -> list[ModelEntry]:
        try:
            listed = await self.client().list()
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise self.translate(exc, "") from exc
        entries = []
        for model in listed.models:
            phi = lookup(self.id, model.model or "")
            entries.append(ModelEntry(
                id=model.model or "", family=phi.name if phi else None,
                vision=bool(phi and phi.vision), source="service",
                context_length=phi.context_length if phi else None))
        return entries

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client._client.aclose()
            self._client = None


def ollama_options(request: ChatRequest) -> dict[str, Any]:
    """Sampling options that were set (unset ones keep the server's defaults)."""
    options = {"temperature": request.temperature, "top_p": request.top_p,
               "num_predict": request.max_tokens, "seed": request.seed}
    return {k: v for k, v in options.items() if v is not None}


def ollama_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """The system message, then every turn oldest first; a user turn's images go in
    that message's ``images`` (bare base64 on the wire)."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for turn in request.turns():
        message: dict[str, Any] = {"role": turn.role, "content": turn.text}
        if turn.images:
            # Raw bytes: the SDK base64-encodes them (a str would be probed as a file path).
            message["images"] = [image.data for image in turn.images]
        messages.append(message)
    return messages


def server_timings(final: Any) -> dict[str, float]:
    """Ollama's own durations in ms and its decode rate (tokens/s), where present."""
    names = {"total_duration": "server_total_ms", "load_duration": "load_ms",
             "prompt_eval_duration": "prompt_eval_ms", "eval_duration": "eval_ms"}
    details: dict[str, float] = {}
    for field, name in names.items():
        value = getattr(final, field, None)
        if value:
            details[name] = value / NS_PER_MS
    if final.eval_count and final.eval_duration:
        details["server_eval_tokens_per_s"] = final.eval_count / (final.eval_duration / 1e9)
    return details
