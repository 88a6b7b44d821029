"""First-use work of the SDKs, done before any clock starts.

The first request an SDK makes in a process does much more than the request: lazy
imports (``anyio``'s asyncio backend, ``httpcore``'s connection classes), the ``openai``
SDK's first transform of a request body (type hints resolved and cached), its SSE
decoder and chunk models, and opening the connection. Measured on a 20 ms loopback
server, that work put 30–60 ms into the first TTFT of a fresh process. Providers call
these helpers from ``prepare()``:

* :func:`rehearse_openai` / :func:`rehearse_ollama` run the SDK's whole streaming path
  once per process against an in-memory transport (a canned answer; nothing leaves the
  process), with a body of the same shape as a real request;
* :func:`preconnect` sends one ``HEAD`` to the service's base URL through the provider's
  own HTTP client, *without credentials*, so DNS, TCP (and TLS) set-up and the real
  transport's first-use code run now, and the connection waits in the pool. No key is
  sent and nothing is generated, so it costs no quota; any answer (404, 405, 401...) or
  failure is ignored: the real request reports real problems.

None of this reads a clock; the engine times only the request itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any

from providers.base import ChatRequest
from providers.lazy import lazy_import

log = logging.getLogger("providers.warmup")
# First use: providers.lazy (a provider's module, and so this one, imports no SDK).
httpx, httpx2 = lazy_import("httpx"), lazy_import("httpx2")
ollama, openai = lazy_import("ollama"), lazy_import("openai")

PRECONNECT_TIMEOUT_S = 2.0  # a slow or silent host must not hold the comparison long
_rehearsed: set[str] = set()  # SDKs whose first-use work this process has done

_CHUNK = {"id": "warm-up", "object": "chat.completion.chunk", "created": 0, "model": "warm-up",
          "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"},
                       "logprobs": None, "finish_reason": "stop"}]}
_USAGE = {**_CHUNK, "choices": [],
          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
# A stand-in answer in the chat-completions SSE framing (constant bytes, not parsed here).
OPENAI_ANSWER = (f"data: {json.dumps(_CHUNK)}\n\ndata: {json.dumps(_USAGE)}\n\n"
                 "data: [DONE]\n\n").encode()
OLLAMA_ANSWER = (json.dumps({"model": "warm-up", "created_at": "2024-01-01T00:00:00Z",
                             "message": {"role": "assistant", "content": "ok"},
                             "done": False}) + "\n"
                 + json.dumps({"model": "warm-up", "created_at": "2024-01-01T00:00:00Z",
                               "message": {"role": "assistant", "content": ""},
                               "done": True, "done_reason": "stop", "eval_count": 1,
                               "prompt_eval_count": 1}) + "\n").encode()


def rehearsal_request(model: str) -> ChatRequest:
    """A small request with every optional field set, so a rehearsal walks the same
    request-building paths as any real request."""
    return ChatRequest(model, "warm-up", system="warm-up", max_tokens=1, temperature=0.0,
                       top_p=1.0, seed=0)


def first_time(sdk: str) -> bool:
    """True once per process for ``sdk``: its first-use work is process-wide."""
    if sdk in _rehearsed:
        return False
    _rehearsed.add(sdk)
    return True


async def rehearse_openai(body: dict[str, Any]) -> None:
    """Stream one canned answer through ``openai.AsyncOpenAI`` in memory (once per
    process): request transform and building, SSE decoding, chunk models. Never
    raises: a rehearsal that fails only leaves that work inside the first TTFT."""
    if first_time("openai"):
        await _quietly(_rehearse_openai(body), "openai")


async def _quietly(rehearsal: Coroutine[Any, Any, None], sdk: str) -> None:
    try:
        await rehearsal
    except Exception:  # noqa: BLE001 - a warm-up must never fail a target
        log.warning("the %s SDK rehearsal failed; its first request may be slower",
                    sdk, exc_info=True)


async def _rehearse_openai(body: dict[str, Any]) -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"},
                               content=OPENAI_ANSWER)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(answer)) as http:
        client = openai.AsyncOpenAI(base_url="http://warm-up.invalid/v1", api_key="warm-up",
                             http_client=http, max_retries=0)
        chunks = await client.chat.completions.create(stream=True, **body)
        async for chunk in chunks:
            for choice in chunk.choices:
                _ = (choice.delta.content, choice.finish_reason)
        await chunks.close()


async def rehearse_ollama(model: str, messages: list[dict[str, Any]],
                          options: dict[str, Any]) -> None:
    """Stream one canned answer through ``ollama.AsyncClient`` in memory (once per
    process): request building, NDJSON decoding, response models. Never raises."""
    if first_time("ollama"):
        await _quietly(_rehearse_ollama(model, messages, options), "ollama")


async def _rehearse_ollama(model: str, messages: list[dict[str, Any]],
                           options: dict[str, Any]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"},
                              content=OLLAMA_ANSWER)

    client = ollama.AsyncClient(host="http://warm-up.invalid",
                                transport=httpx.MockTransport(answer))
    try:
        parts = await client.chat(model=model, messages=messages, stream=True,
                                  options=options)
        async for part in parts:
            _ = (part.message.content, part.done, part.eval_count)
    finally:
        await client._client.aclose()


async def preconnect(http: httpx.AsyncClient | httpx2.AsyncClient, url: str) -> None:
    """One credential-free ``HEAD url`` through ``http``: the connection is set up and
    kept in the client's pool for the request that follows. Never raises."""
    try:
        async with asyncio.timeout(PRECONNECT_TIMEOUT_S):
            await http.head(url)
    except (TimeoutError, httpx.HTTPError, httpx2.HTTPError, OSError) as exc:
        log.debug("pre-connect failed (the request will say why): %s", type(exc).__name__)
