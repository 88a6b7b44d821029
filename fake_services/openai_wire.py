"""Builders for the OpenAI-style SSE stream in each vendor's flavour.

Each builder reproduces the byte layout of a sample in ``tests/fixtures/protocol/``
(``tests/test_fake_wire.py`` rebuilds the samples byte for byte):

* ``openai``: ``openai/stream-with-usage.recorded.sse`` (separate usage chunk)
* ``vllm``: ``nvidia-nim/stream-with-usage.vllm-style.sse`` (``usage: null`` on chunks)
* ``azure_serverless``: ``azure-ai-inference/stream-phi35-serverless.sse`` (usage in the
  finish chunk)
* ``azure_openai``: ``github-models/stream-azure-style-with-usage.sse`` (prompt-filter
  frame first, content-filter results, alphabetical keys)
* ``llamacpp``: llama-cpp-python 0.3.36's server (``_convert_text_completion_chunks_to_chat``
  in ``llama_chat_format.py``): a role-only first chunk, one chunk per token (``""`` for a
  token that is part of a UTF-8 character), a finish chunk with ``delta: {}``, never usage
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FLAVOURS = ("openai", "vllm", "azure_serverless", "azure_openai", "llamacpp")
_SAFE = {"filtered": False, "severity": "safe"}
_FILTERS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}


@dataclass(frozen=True)
class StreamSpec:
    """What one streamed answer contains; ``usage`` is (prompt, completion) tokens."""

    pieces: Sequence[str]
    model: str = "microsoft/phi-3.5-mini-instruct"
    flavour: str = "openai"
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = None
    include_usage: bool = True
    id: str = "chatcmpl-fake0001"
    created: int = 1727346168
    fingerprint: str = "fp_fake"


def sse(payload: Any) -> bytes:
    """One SSE event: ``data: <compact JSON>`` and a blank line, LF only."""
    text = payload if isinstance(payload, str) else json.dumps(
        payload, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


DONE = b"data: [DONE]\n\n"


def chat_stream(spec: StreamSpec) -> list[bytes]:
    """The SSE events (first, content..., finish, usage?, [DONE]) for ``spec``."""
    build = {"openai": _openai, "vllm": _vllm, "azure_serverless": _azure_serverless,
             "azure_openai": _azure_openai, "llamacpp": _llamacpp}[spec.flavour]
    return [sse(event) for event in build(spec)] + [DONE]


def role_event_count(spec: StreamSpec) -> int:
    """How many events precede the first content piece (role and filter frames)."""
    return 2 if spec.flavour == "azure_openai" else 1


def _usage(spec: StreamSpec, order: Sequence[str]) -> dict[str, int]:
    assert spec.usage is not None
    prompt, completion = spec.usage
    values = {"prompt_tokens": prompt, "completion_tokens": completion,
              "total_tokens": prompt + completion}
    return {k: values[k] for k in order}


def _openai(spec: StreamSpec) -> list[dict[str, Any]]:
    head = {"id": spec.id, "object": "chat.completion.chunk", "created": spec.created,
            "model": spec.model, "system_fingerprint": spec.fingerprint}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": finish}]}

    events = [choice({"role": "assistant", "content": "", "refusal": None})]
    events += [choice({"content": piece}) for piece in spec.pieces]
    events.append(choice({}, spec.finish_reason))
    if spec.include_usage and spec.usage:
        usage = _usage(spec, ("prompt_tokens", "completion_tokens", "total_tokens"))
        usage["completion_tokens_details"] = {"reasoning_tokens": 0}
        events.append({**head, "choices": [], "usage": usage})
    return events


def _vllm(spec: StreamSpec) -> list[dict[str, Any]]:
    head = {"id": spec.id, "object": "chat.completion.chunk", "created": spec.created,
            "model": spec.model}
    tail = {"usage": None} if spec.include_usage else {}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None,
                                "finish_reason": finish}
        if finish:
            item["stop_reason"] = None
        return {**head, "choices": [item], **tail}

    events = [choice({"role": "assistant", "content": ""})]
    events += [choice({"content": piece}) for piece in spec.pieces]
    events.append(choice({"content": ""}, spec.finish_reason))
    if spec.include_usage and spec.usage:
        usage = _usage(spec, ("prompt_tokens", "total_tokens", "completion_tokens"))
        events.append({**head, "choices": [], "usage": usage})
    return events


def _azure_serverless(spec: StreamSpec) -> list[dict[str, Any]]:
    head = {"id": spec.id, "object": "chat.completion.chunk", "created": spec.created,
            "model": spec.model}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                     "logprobs": None}]}

    events = [choice({"role": "assistant", "content": ""})]
    events += [choice({"content": piece}) for piece in spec.pieces]
    last = choice({"content": ""}, spec.finish_reason)
    if spec.usage:  # Phi serverless: usage rides on the finish chunk, always
        last["usage"] = _usage(spec, ("prompt_tokens", "total_tokens", "completion_tokens"))
    return events + [last]


def _azure_openai(spec: StreamSpec) -> list[dict[str, Any]]:
    tail = {"created": spec.created, "id": spec.id, "model": spec.model,
            "object": "chat.completion.chunk", "system_fingerprint": spec.fingerprint}

    def choice(delta: dict[str, Any], filters: dict[str, Any],
               finish: str | None = None) -> dict[str, Any]:
        return {"choices": [{"content_filter_results": filters, "delta": delta,
                             "finish_reason": finish, "index": 0, "logprobs": None}],
                **tail, "usage": None}

    prompt_filter = {**_FILTERS, "jailbreak": {"filtered": False, "detected": False}}
    events: list[dict[str, Any]] = [{
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": prompt_filter}],
    }]
    events.append(choice({"content": "", "refusal": None, "role": "assistant"}, {}))
    events += [choice({"content": piece}, _FILTERS) for piece in spec.pieces]
    events.append(choice({}, {}, spec.finish_reason))
    if spec.include_usage and spec.usage:
        prompt, completion = spec.usage
        usage = {"completion_tokens": completion, "completion_tokens_details": {
            "accepted_prediction_tokens": 0, "audio_tokens": 0, "reasoning_tokens": 0,
            "rejected_prediction_tokens": 0}, "prompt_tokens": prompt,
            "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
            "total_tokens": prompt + completion}
        events.append({"choices": [], **tail, "usage": usage})
    return events


def _llamacpp(spec: StreamSpec) -> list[dict[str, Any]]:
    head = {"id": spec.id, "model": spec.model, "created": spec.created,
            "object": "chat.completion.chunk"}

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                     "finish_reason": finish}]}

    events = [choice({"role": "assistant"})]
    events += [choice({"content": piece}) for piece in spec.pieces]
    return events + [choice({}, spec.finish_reason)]
