"""The ``openai`` provider against a real llama.cpp server (llama-cpp-python 0.3.36)
serving the tiny Phi-3 GGUF on loopback, through the CLI and the engine.

The server streams no usage (it ignores ``stream_options``), so every count here comes
from its tokenizer after the streams and must equal its own non-streamed ``usage``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

import providers
from playground.engine import Comparison, ProviderPool
from providers.base import ChatRequest, ImageInput
from providers.settings import Settings
from tests.conftest import REPO
from tests.llama_server import ALIAS, LlamaServer, llama_server, raw_ttft_ms
from tests.support import compare
from tests.test_cli import playground

pytestmark = pytest.mark.realserver

TARGET = f"openai:{ALIAS}"
# (system, prompt) -> answer, from tests/fixtures/README.md (greedy decoding).
ANSWERS = {
    (None, "Say hello."): "Hello! I am a tiny test model.",
    (None, "What is 2 + 2?"): "2 + 2 = 4.",
    (None, "Tell me a story."): "Once upon a time there was a tiny model that loved to count "
                                "tokens one by one until the end.",
    (None, "你知道长沙吗？"): "长沙是湖南的省会。",
    ("You are a pirate.", "Say hello."): "Arr! Hello, matey.",
}
WARM_UP = 3
WHITE_PNG = ImageInput((Path(REPO) / "tests" / "fixtures" / "images" / "white.png").read_bytes(),
                       "image/png", "white.png")


@pytest.fixture(scope="module")
def queued() -> Iterator[LlamaServer]:
    """A server that serves concurrent requests one after another."""
    with llama_server(interrupt_requests=False) as server:
        yield server


@pytest.fixture(scope="module")
def interrupting() -> Iterator[LlamaServer]:
    """A server with llama-cpp-python's default: a new request ends the running one."""
    with llama_server(interrupt_requests=True) as server:
        yield server


def settings_for(server: LlamaServer) -> Settings:
    return Settings({"OPENAI_COMPAT_BASE_URL": server.base_url})


def messages(system: str | None, prompt: str) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}]


def usage_tokens(server: LlamaServer, system: str | None, prompt: str, **options) -> int:
    return server.complete(messages(system, prompt), **options)["usage"]["completion_tokens"]


@pytest.mark.parametrize("prompt", ["Say hello.", "你知道长沙吗？"])
def test_cli_answers_with_the_servers_token_counts(queued: LlamaServer, prompt: str) -> None:
    run = playground("compare", "--prompt", prompt, "--target", TARGET, "--temperature", "0",
                     "--format", "json", env={"OPENAI_COMPAT_BASE_URL": queued.base_url})
    assert run.returncode == 0, run.stderr
    (row,) = json.loads(run.stdout)["results"]
    assert row["status"] == "ok" and row["finish_reason"] == "stop"
    assert row["text"] == ANSWERS[(None, prompt)]
    assert row["tokens_source"] == "counted"
    assert row["completion_tokens"] == usage_tokens(queued, None, prompt)
    assert row["ttft_ms"] > 0 and row["itl_p50_ms"] is not None


@pytest.mark.parametrize(("system", "prompt"), list(ANSWERS))
def test_engine_gives_every_fixture_answer(queued: LlamaServer, system: str | None,
                                           prompt: str) -> None:
    request = ChatRequest("", prompt, system=system, temperature=0)
    (result,), _ = compare(settings_for(queued), [TARGET], request, timeout_s=60)
    assert result.status == "ok", result.error
    assert result.text == ANSWERS[(system, prompt)]
    assert (result.completion_tokens, result.tokens_source) == (
        usage_tokens(queued, system, prompt), "counted")
    assert result.decode_tokens_per_s is not None and result.itl_p95_ms >= result.itl_p50_ms


def test_three_targets_at_once_on_a_queueing_server(queued: LlamaServer) -> None:
    request = ChatRequest("", "Tell me a story.", temperature=0)
    results, _ = compare(settings_for(queued), [TARGET, "openai:b", "openai:c"], request,
                         timeout_s=60)
    expected = ANSWERS[(None, "Tell me a story.")]
    tokens = usage_tokens(queued, None, "Tell me a story.")
    for result in results:
        assert result.status == "ok", result.error
        assert result.text == expected and result.completion_tokens == tokens


def test_three_targets_at_once_on_an_interrupting_server(interrupting: LlamaServer) -> None:
    request = ChatRequest("", "Tell me a story.", temperature=0)
    targets = [TARGET, "openai:b", "openai:c"]
    tokens = usage_tokens(interrupting, None, "Tell me a story.")
    interrupted = []
    for _ in range(5):  # whether a request lands mid-answer depends on the machine's pace
        results, _ = compare(settings_for(interrupting), targets, request, timeout_s=60)
        assert any(r.status == "ok" for r in results)  # nothing ends the last one
        for result in results:
            if result.status == "ok":
                assert result.text == ANSWERS[(None, "Tell me a story.")]
                assert (result.completion_tokens, result.tokens_source) == (tokens, "counted")
                continue
            assert result.error_kind == "bad_response"
            assert "one request at a time" in result.error
            assert "--interrupt_requests False" in result.error
            interrupted.append(result)
        if interrupted:
            break
    assert interrupted, "no answer was interrupted in 5 tries"


async def paired_ttfts(server: LlamaServer, rounds: int) -> tuple[list[float], list[float]]:
    """Raw-socket and engine TTFTs (ms), interleaved, with one provider pool kept across
    comparisons as the app keeps it (steady state: the first comparisons of a process
    are the TTFT benchmark's subject, bench/); WARM_UP rounds are not counted."""
    pool = ProviderPool(settings_for(server))
    request = ChatRequest("", "Say hello.", temperature=0)
    raw: list[float] = []
    engine: list[float] = []
    try:
        for round_ in range(WARM_UP + rounds):
            floor = raw_ttft_ms(server, "Say hello.")
            (result,) = await Comparison(request, [providers.parse_target(TARGET)], pool).run()
            if round_ >= WARM_UP:
                raw.append(floor)
                engine.append(result.ttft_ms)
    finally:
        await pool.aclose()
    return raw, engine


def test_ttft_is_within_15_ms_of_a_raw_socket_read(queued: LlamaServer) -> None:
    raw, engine = asyncio.run(paired_ttfts(queued, rounds=9))
    # Medians of interleaved runs: robust to a loaded machine, honest about the typical run.
    gap = statistics.median(engine) - statistics.median(raw)
    assert -15 <= gap <= 15, (raw, engine)


def test_prompt_longer_than_the_context_names_the_cause(queued: LlamaServer) -> None:
    request = ChatRequest("", "hello " * 600)  # > 512 tokens of context
    (result,), _ = compare(settings_for(queued), [TARGET], request, timeout_s=60)
    assert result.status == "error" and result.error_kind == "bad_response"
    assert "accepted the request but sent nothing" in result.error
    assert "longer than its context" in result.error


def test_image_to_a_text_only_model_names_the_cause(queued: LlamaServer) -> None:
    request = ChatRequest("", "What is in this image?", images=(WHITE_PNG,))
    (result,), _ = compare(settings_for(queued), [TARGET], request, timeout_s=60)
    assert result.status == "error"
    assert "sent nothing" in result.error and "cannot take images" in result.error


def test_empty_answer_with_finish_reason_is_ok_with_a_notice(queued: LlamaServer) -> None:
    # One token of a three-byte character: the server withholds the partial UTF-8 and
    # finishes with "length" and no text.
    request = ChatRequest("", "你知道长沙吗？", temperature=0, max_tokens=1)
    (result,), _ = compare(settings_for(queued), [TARGET], request)
    assert result.status == "ok" and result.text == "" and result.finish_reason == "length"
    assert any(note.startswith("empty answer") for note in result.notices)
