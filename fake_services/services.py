"""Responders that behave like each provider, and a server wired for all of them.

``provider_fakes()`` starts one FakeServer answering every provider's routes with
realistic streams (Phi-style answers at a known pace) and returns the environment
variables that point the playground at it. Tests, the browser test and the
benchmarks use it; behaviour per model can be changed with ``Behaviour``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from fake_services.nim_vlm import inline_image_problem
from fake_services.openai_wire import StreamSpec, chat_stream, role_event_count
from fake_services.server import FakeServer, Recorded, Reply, Responder, json_reply, timed

RETIRED_410 = {"error": {"code": "github_models_retirement_brownout",
                         "message": "GitHub Models has been retired."}}
OPENAI_401 = {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                        "param": None, "code": "invalid_api_key"}}
AZURE_401 = {"error": {"code": "Unauthorized", "message": "Access denied due to invalid "
                       "subscription key or wrong API endpoint."}}
NIM_401_HEADERS = {"WWW-Authenticate": 'Bearer error="invalid_token", error_description='
                   '"Bearer token is malformed", error_uri="https://tools.ietf.org/html/rfc6750"'}
VLM_PATH = "/v1/vlm/microsoft/phi-3-vision-128k-instruct"


@dataclass
class Behaviour:
    """How a fake model answers: its text pieces and their pace (seconds)."""

    pieces: list[str] | None = None
    first_s: float = 0.05
    interval_s: float = 0.01
    finish_reason: str = "stop"
    prompt_tokens: int = 20

    def answer(self, prompt: str) -> list[str]:
        if self.pieces is not None:
            return list(self.pieces)
        words = f"This is a fake answer to: {prompt[:60]}".split(" ")
        return [words[0]] + [" " + w for w in words[1:]]


@dataclass
class Behaviours:
    """Behaviour per model id (case-insensitive), with a default."""

    default: Behaviour = field(default_factory=Behaviour)
    by_model: dict[str, Behaviour] = field(default_factory=dict)

    def __call__(self, model: str) -> Behaviour:
        return self.by_model.get(model.lower(), self.default)

    def set(self, model: str, **changes: object) -> None:
        self.by_model[model.lower()] = replace(self(model), **changes)


def user_prompt(body: dict) -> str:
    """The user's text from an OpenAI- or Ollama-style body."""
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return content


def conversation_problem(messages: object) -> str | None:
    """Why ``messages`` is not a conversation a Phi chat template takes (vLLM's and
    llama.cpp's templates refuse these too): an optional system message first, then
    user and assistant turns alternating from a user turn to a user turn; images
    (``image_url`` parts, Ollama ``images``) only in user turns. None when it is one.
    (Inline ``<img>`` text is read only by NIM's VLM route: ``nim_vlm``.)"""
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    turns = messages[1:] if messages[0].get("role") == "system" else messages
    for index, message in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if message.get("role") != expected:
            return (f"Conversation roles must alternate user/assistant/user/assistant/...: "
                    f"turn {index + 1} is {message.get('role')!r}")
        content = message.get("content")
        has_image = bool(message.get("images")) or (
            isinstance(content, list) and any(p.get("type") == "image_url" for p in content)
        )
        if expected == "assistant" and has_image:
            return f"turn {index + 1}: an assistant message carries no images"
    if len(turns) % 2 == 0:
        return "the last message must be the user's"
    return None


def bearer_ok(request: Recorded, key: str | None) -> bool:
    return key is None or request.headers.get("Authorization") == f"Bearer {key}"


def openai_chat(behaviours: Behaviours, *, flavour: str = "openai", key: str | None = None,
                unauthorized: Reply | None = None, model: str | None = None,
                inline_images: bool = False) -> Responder:
    """A chat-completions endpoint streaming ``flavour`` frames at each model's pace
    (``inline_images``: it reads ``<img`` tags in the text, as NIM's VLM route does)."""
    def respond(request: Recorded) -> Reply:
        if not bearer_ok(request, key):
            return unauthorized or json_reply(401, OPENAI_401)
        body = request.json
        problem = conversation_problem(body.get("messages"))
        if problem is None and inline_images:
            problem = inline_image_problem(body["messages"])
        if problem is not None:
            return json_reply(400, {"error": {"message": problem, "type": "BadRequestError",
                                              "code": 400}})
        served = model or body.get("model", "")
        how = behaviours(served)
        pieces = how.answer(user_prompt(body))
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        spec = StreamSpec(pieces, model=served, flavour=flavour, finish_reason=how.finish_reason,
                          usage=(how.prompt_tokens, len(pieces)), include_usage=include)
        events = chat_stream(spec)
        lead = role_event_count(spec)
        at = timed(len(events), lead=lead, first_s=how.first_s, interval_s=how.interval_s,
                   tail=len(events) - lead - len(pieces))
        return Reply(events, content_type="text/event-stream", at=at)
    return respond


def ollama_chat(behaviours: Behaviours) -> Responder:
    """Ollama's ``/api/chat`` NDJSON stream with its final counters (ns durations)."""
    def respond(request: Recorded) -> Reply:
        body = request.json
        if (problem := conversation_problem(body.get("messages"))) is not None:
            return json_reply(400, {"error": problem})
        model = body["model"]
        if model.startswith("missing"):
            return json_reply(404, {"error": f"model '{model}' not found"})
        how = behaviours(model)
        pieces = how.answer(user_prompt(body))
        lines = ollama_lines(model, pieces, how)
        at = timed(len(lines), lead=0, first_s=how.first_s, interval_s=how.interval_s, tail=1)
        return Reply(lines, content_type="application/x-ndjson", at=at)
    return respond


def ollama_lines(model: str, pieces: list[str], how: Behaviour) -> list[bytes]:
    """Chunks then the final ``done`` line, fields in Go struct order."""
    stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    head = {"model": model, "created_at": stamp}
    lines = [{**head, "message": {"role": "assistant", "content": p}, "done": False}
             for p in pieces]
    eval_ns = int(max(len(pieces) - 1, 1) * how.interval_s * 1e9) or 1
    lines.append({**head, "message": {"role": "assistant", "content": ""}, "done": True,
                  "done_reason": how.finish_reason,
                  "total_duration": int((how.first_s + how.interval_s * len(pieces)) * 1e9),
                  "load_duration": 1_334_875, "prompt_eval_count": how.prompt_tokens,
                  "prompt_eval_duration": int(how.first_s * 1e9),
                  "eval_count": len(pieces), "eval_duration": eval_ns})
    return [(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            for line in lines]


def tokenize(behaviours: Behaviours, field: str = "input", bos: bool = True) -> Responder:
    """A server tokenizer (llama-cpp-python's ``/extras/tokenize`` body ``input``, or
    llama.cpp's ``/tokenize`` body ``content``): a model's own answer is as many tokens
    as it has pieces, empty ones included; other text one token per character; plus a
    BOS token, as llama-cpp-python adds."""
    def respond(request: Recorded) -> Reply:
        body = request.json
        how = behaviours(body.get("model") or "")
        text = body[field]
        pieces = how.pieces
        count = len(pieces) if pieces is not None and text == "".join(pieces) else len(text)
        return json_reply(200, {"tokens": list(range(int(bos), count + int(bos)))})
    return respond


def wire_llamacpp(server: FakeServer, behaviours: Behaviours, prefix: str = "/llamacpp",
                  *, tokenizer: bool = True) -> str:
    """A llama-cpp-python-style server under ``prefix``; returns its ``/v1`` base URL."""
    server.on("POST", f"{prefix}/v1/chat/completions",
              openai_chat(behaviours, flavour="llamacpp"))
    if tokenizer:
        server.on("POST", f"{prefix}/extras/tokenize", tokenize(behaviours))
    return f"{server.url}{prefix}/v1"


def model_list(ids: list[str]) -> Responder:
    """``GET /models`` in the OpenAI list shape."""
    data = [{"id": i, "object": "model", "created": 1724316901, "owned_by": "microsoft"}
            for i in ids]
    return lambda request: json_reply(200, {"object": "list", "data": data})


def ollama_tags(names: list[str]) -> Responder:
    models = [{"name": n, "model": n, "modified_at": "2024-08-22T10:15:01.385406Z",
               "size": 2176178913, "digest": "61819fb370a3" + "0" * 52,
               "details": {"parent_model": "", "format": "gguf", "family": "phi3",
                           "families": ["phi3"], "parameter_size": "3.8B",
                           "quantization_level": "Q4_0"}} for n in names]
    return lambda request: json_reply(200, {"models": models})


KEYS = {"NVIDIA_API_KEY": "nvapi-fake-nim-key-0001", "AZURE_AI_API_KEY": "fake-azure-key-0002",
        "GITHUB_TOKEN": "github_pat_fake_token_0003", "OPENAI_COMPAT_API_KEY": "sk-fake-compat-0004"}


def wire_all(server: FakeServer, behaviours: Behaviours) -> dict[str, str]:
    """Serve every provider's routes on ``server``; return the env pointing at them."""
    nim = openai_chat(behaviours, flavour="vllm", key=KEYS["NVIDIA_API_KEY"])
    server.on("POST", "/nim/v1/chat/completions", nim)
    server.on("POST", "/nim" + VLM_PATH, openai_chat(
        behaviours, flavour="vllm", key=KEYS["NVIDIA_API_KEY"],
        model="microsoft/phi-3-vision-128k-instruct", inline_images=True))
    server.on("GET", "/nim/v1/models", model_list(
        ["microsoft/phi-3-mini-4k-instruct", "microsoft/phi-3.5-mini-instruct",
         "microsoft/phi-3.5-vision-instruct"]))
    server.on("POST", "/azure/openai/v1/chat/completions", openai_chat(
        behaviours, flavour="azure_openai", key=KEYS["AZURE_AI_API_KEY"]))
    server.on("POST", "/serverless/chat/completions", openai_chat(
        behaviours, flavour="azure_serverless", key=KEYS["AZURE_AI_API_KEY"]))
    server.on("POST", "/compat/v1/chat/completions", openai_chat(
        behaviours, key=KEYS["OPENAI_COMPAT_API_KEY"]))
    server.on("GET", "/compat/v1/models", model_list(["phi-3.5-mini-instruct"]))
    server.on("POST", "/inference/chat/completions", lambda r: json_reply(410, RETIRED_410))
    server.on("POST", "/api/chat", ollama_chat(behaviours))
    server.on("GET", "/api/tags", ollama_tags(["phi3.5:latest", "phi3:latest"]))
    return {
        **KEYS,
        "NIM_BASE_URL": f"{server.url}/nim/v1",
        "NIM_VLM_BASE_URL": f"{server.url}/nim/v1/vlm",
        "AZURE_AI_ENDPOINT": f"{server.url}/azure/openai/v1",
        "OPENAI_COMPAT_BASE_URL": f"{server.url}/compat/v1",
        "GITHUB_MODELS_ENDPOINT": f"{server.url}/inference",
        "OLLAMA_HOST": server.url,
    }


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` until true or timeout (for server-side effects in tests)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
