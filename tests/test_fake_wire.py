"""The fakes speak the vendors' sample bytes: each builder rebuilds its sample exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_services.openai_wire import StreamSpec, chat_stream
from fake_services.services import Behaviour, ollama_lines

# Copied into the repository with their sources: tests/fixtures/protocol/README.md.
PROTOCOL = Path(__file__).resolve().parent / "fixtures" / "protocol"

SAMPLES = [
    ("openai/stream-with-usage.recorded.sse", "openai"),
    ("openai/stream-finish-length.recorded.sse", "openai"),
    ("nvidia-nim/stream-with-usage.vllm-style.sse", "vllm"),
    ("azure-ai-inference/stream-phi35-serverless.sse", "azure_serverless"),
    ("github-models/stream-azure-style-with-usage.sse", "azure_openai"),
]


def spec_from_sample(raw: bytes, flavour: str) -> StreamSpec:
    """Read back what a sample says (pieces, ids, usage) to rebuild it."""
    objects = [json.loads(e[6:]) for e in raw.split(b"\n\n") if e and e != b"data: [DONE]"]
    chunks = [o for o in objects if o.get("id")]
    first = chunks[0]
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks
              if c["choices"] and c["choices"][0]["finish_reason"] is None
              and "role" not in c["choices"][0]["delta"]]
    finish = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    usage = [o["usage"] for o in objects if o.get("usage")][-1]
    return StreamSpec(pieces, model=first["model"], flavour=flavour,
                      finish_reason=finish["choices"][0]["finish_reason"],
                      usage=(usage["prompt_tokens"], usage["completion_tokens"]),
                      id=first["id"], created=first["created"],
                      fingerprint=first.get("system_fingerprint", ""))


@pytest.mark.parametrize(("name", "flavour"), SAMPLES)
def test_builder_rebuilds_sample_byte_for_byte(name: str, flavour: str) -> None:
    raw = (PROTOCOL / name).read_bytes()
    assert b"".join(chat_stream(spec_from_sample(raw, flavour))) == raw


def test_ollama_lines_follow_the_sample_field_order() -> None:
    sample = [json.loads(line) for line in
              (PROTOCOL / "ollama/chat-stream.ndjson").read_text().splitlines()]
    built = [json.loads(line) for line in ollama_lines("phi3.5", ["The", " sky"], Behaviour())]
    assert list(built[0]) == list(sample[0])
    assert list(built[-1]) == list(sample[-1])
    raw = b"".join(ollama_lines("phi3.5", ["a"], Behaviour()))
    assert b"\n\n" not in raw and raw.endswith(b"\n")  # NDJSON: no blank lines
