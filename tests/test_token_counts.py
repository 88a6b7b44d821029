"""Token counts, inter-token latency and cause-naming messages for streams without
usage, against fakes that send llama-cpp-python's and vLLM's chunks (one per token,
"" for a token that is only part of a UTF-8 character)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from fake_services.faults import mid_stream
from fake_services.openai_wire import DONE
from fake_services.server import FakeServer, Recorded, Reply, Responder
from fake_services.services import Behaviours, openai_chat, tokenize, wire_llamacpp
from playground.cli.compare import render
from playground.metrics import RESULT_FIELDS
from providers.base import ChatRequest
from providers.settings import Settings
from tests.support import compare

# 长沙是湖南的省会。 as the tiny Phi-3 streams it: 3 byte tokens per character, the first
# two of each arrive as empty chunks. 27 tokens, 9 non-empty chunks.
ZH_PIECES = [p for ch in "长沙是湖南的省会。" for p in ("", "", ch)]


def llamacpp_env(fakes: dict[str, str], server: FakeServer, behaviours: Behaviours,
                 **kw: bool) -> Settings:
    base = wire_llamacpp(server, behaviours, **kw)
    return Settings({**fakes, "OPENAI_COMPAT_BASE_URL": base})


def test_llamacpp_answer_is_counted_by_its_tokenizer(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ZH_PIECES
    behaviours.default.interval_s = 0.002
    (result,), _ = compare(llamacpp_env(fakes, server, behaviours), ["openai:tiny"])
    assert result.status == "ok" and result.text == "长沙是湖南的省会。"
    assert (result.completion_tokens, result.tokens_source) == (27, "counted")
    asked = [r.json for r in server.requests if r.path == "/llamacpp/extras/tokenize"]
    assert asked == [{"input": "长沙是湖南的省会。", "model": "tiny"},
                     {"input": "", "model": "tiny"}]
    # The fake adds a BOS token like llama-cpp-python; the count of "" is subtracted.
    span_s = (result.last_delta_ms - result.ttft_ms) / 1000
    assert result.decode_tokens_per_s == pytest.approx(26 / span_s)


def test_tokenizer_is_asked_only_after_every_stream_ended(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ["a", "b"]
    behaviours.set("slow", pieces=["x"] * 6, interval_s=0.05)
    settings = llamacpp_env(fakes, server, behaviours)
    results, wall_ms = compare(settings, ["openai:fast", "openai:slow"])
    assert [r.tokens_source for r in results] == ["counted", "counted"]
    assert [r.completion_tokens for r in results] == [2, 6]
    chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    last_write = max(t for r in chats for t in r.sent_at)
    counts = [r for r in server.requests if r.path.endswith("/tokenize")]
    assert counts and min(r.received_at for r in counts) > last_write
    # The wall time is the streams', not the tokenizer round trips after them.
    assert all(r.total_ms <= wall_ms for r in results)


def test_no_tokenizer_no_usage_gives_no_token_count(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ZH_PIECES
    settings = llamacpp_env(fakes, server, behaviours, tokenizer=False)
    (result,), _ = compare(settings, ["openai:tiny"])
    assert result.status == "ok" and result.text == "长沙是湖南的省会。"
    # 9 non-empty chunks are not 9 tokens (the model made 27): no count at all.
    assert result.completion_tokens is None and result.tokens_source is None
    assert result.decode_tokens_per_s is None and result.chars_per_s is not None


def test_vllm_chunks_are_estimated_tokens_empty_ones_included(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ZH_PIECES
    server.on("POST", "/vllm/v1/chat/completions", openai_chat(behaviours, flavour="vllm"))
    settings = Settings({**fakes, "OPENAI_COMPAT_BASE_URL": f"{server.url}/vllm/v1",
                         "OPENAI_COMPAT_STREAM_USAGE": "0"})
    (result,), _ = compare(settings, ["openai:tiny"])
    assert (result.completion_tokens, result.tokens_source) == (27, "estimated")
    assert result.prompt_tokens is None


def test_a_tokenizer_beats_a_chunk_estimate(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ["ab", "", "c"]
    server.on("POST", "/vllm/v1/chat/completions", openai_chat(behaviours, flavour="vllm"))
    server.on("POST", "/vllm/tokenize", tokenize(behaviours, field="content", bos=False))
    settings = Settings({**fakes, "OPENAI_COMPAT_BASE_URL": f"{server.url}/vllm/v1",
                         "OPENAI_COMPAT_STREAM_USAGE": "0"})
    (result,), _ = compare(settings, ["openai:tiny"])
    assert (result.completion_tokens, result.tokens_source) == (3, "counted")
    asked = [r.json["content"] for r in server.requests if r.path == "/vllm/tokenize"]
    assert asked == ["abc", ""]


def test_inter_token_latency_percentiles(server, fakes, behaviours) -> None:
    behaviours.default.pieces = [f" w{i}" for i in range(12)]
    behaviours.default.interval_s = 0.04
    (result,), _ = compare(llamacpp_env(fakes, server, behaviours), ["openai:tiny"])
    assert len(result.gaps_ms) == 11
    # Generous bounds: the fake paces at 40 ms; a loaded machine adds jitter, not speed.
    assert 20 <= result.itl_p50_ms <= 120 and result.itl_p50_ms <= result.itl_p95_ms
    assert result.itl_p95_ms <= max(result.gaps_ms)
    span_ms = result.last_delta_ms - result.ttft_ms
    assert sum(result.gaps_ms) == pytest.approx(span_ms)
    assert "gaps_ms" not in result.as_dict()


def test_exports_carry_itl_and_the_token_source(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ["a", "", "b", "c"]
    results, wall_ms = compare(llamacpp_env(fakes, server, behaviours), ["openai:tiny"])
    row = json.loads(render(results, wall_ms, "json"))["results"][0]
    assert {"itl_p50_ms", "itl_p95_ms", "tokens_source"} <= set(row)
    assert row["tokens_source"] == "counted" and row["itl_p50_ms"] > 0
    header, line = render(results, wall_ms, "csv").splitlines()[:2]
    assert header.split(",") == [*RESULT_FIELDS, "partial"]
    assert "counted" in line.split(",")
    table = render(results, wall_ms, "table")
    assert "itl_p50_ms" in table and "counted" in table


def test_empty_200_stream_names_the_likely_cause(server, fakes, behaviours) -> None:
    base = wire_llamacpp(server, behaviours)
    server.on("POST", "/llamacpp/v1/chat/completions", lambda r: mid_stream(
        openai_chat(behaviours, flavour="llamacpp"), "empty", "sse")(r))
    (result,), _ = compare(Settings({**fakes, "OPENAI_COMPAT_BASE_URL": base}), ["openai:x"])
    assert result.status == "error" and result.error_kind == "bad_response"
    assert "accepted the request but sent nothing" in result.error
    assert "longer than its context" in result.error and "images" in result.error


def cut_short(behaviours: Behaviours, model: str) -> Responder:
    """``model``'s stream ends with [DONE] and no finish_reason, as llama-cpp-python ends
    an interrupted one; other models answer in full."""
    full = openai_chat(behaviours, flavour="llamacpp")
    unfinished = mid_stream(full, "no_terminator", "sse")

    def respond(request: Recorded) -> Reply:
        if request.json["model"] != model:
            return full(request)
        reply = unfinished(request)
        return replace(reply, events=[*reply.events, DONE])
    return respond


def test_cut_off_while_another_target_ran_says_one_at_a_time(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ["one", " two", " three", " four", " five"]
    behaviours.default.interval_s = 0.05
    base = wire_llamacpp(server, behaviours)
    server.on("POST", "/llamacpp/v1/chat/completions", cut_short(behaviours, "a"))
    settings = Settings({**fakes, "OPENAI_COMPAT_BASE_URL": base})
    results, _ = compare(settings, ["openai:a", "openai:b", "nim:c"])
    first, second, other = results
    assert first.status == "error" and first.partial
    assert "one request at a time" in first.error and "--interrupt_requests False" in first.error
    assert "openai:b" in first.error and "nim:c" not in first.error
    assert second.status == "ok" and other.status == "ok"


def test_cut_off_alone_keeps_the_plain_message(server, fakes, behaviours) -> None:
    behaviours.default.pieces = ["one", " two", " three"]
    base = wire_llamacpp(server, behaviours)
    server.on("POST", "/llamacpp/v1/chat/completions", cut_short(behaviours, "a"))
    (result,), _ = compare(Settings({**fakes, "OPENAI_COMPAT_BASE_URL": base}), ["openai:a"])
    assert result.status == "error" and "cut off" in result.error
    assert "one request at a time" not in result.error


@pytest.mark.parametrize("target", ["openai:quiet", "ollama:quiet"])
def test_empty_answer_with_finish_reason_is_ok_with_a_notice(server, fakes, behaviours,
                                                             target: str) -> None:
    behaviours.set("quiet", pieces=[])
    settings = llamacpp_env(fakes, server, behaviours)
    (result,), _ = compare(settings, [target], ChatRequest("", "Say nothing."))
    assert result.status == "ok" and result.text == "" and result.finish_reason == "stop"
    assert any(n.startswith("empty answer") for n in result.notices), result.notices
