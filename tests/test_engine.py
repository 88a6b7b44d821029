"""The engine: real concurrency, timings against known schedules, isolation of failures,
stop and timeout, UTF-8."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import providers
from fake_services.faults import inject
from fake_services.server import FakeServer
from fake_services.services import Behaviours
from playground.engine import Comparison, ProviderPool
from providers.base import ChatRequest
from providers.settings import Settings
from tests.support import compare

# (target, first token after s, then one piece every s, pieces)
SCHEDULE = [
    ("nim:sched-a", 0.10, 0.020, 20),
    ("azure:sched-b", 0.25, 0.010, 30),
    ("ollama:sched-c", 0.05, 0.030, 15),
    ("openai:sched-d", 0.40, 0.015, 25),
]


def scheduled(behaviours: Behaviours) -> dict[str, float]:
    """Apply SCHEDULE; return each target's scheduled end (s)."""
    ends = {}
    for target, first, interval, n in SCHEDULE:
        model = target.split(":", 1)[1]
        behaviours.set(model, pieces=[f" w{i}" for i in range(n)], first_s=first,
                       interval_s=interval)
        ends[target] = first + (n - 1) * interval
    return ends


def sent_times(server: FakeServer, model: str) -> list[float]:
    """When the fake began writing each event of ``model``'s stream (perf_counter)."""
    return next(r for r in server.requests if (r.json or {}).get("model") == model).sent_at


def assert_concurrent(results) -> None:
    """Every target was dispatched before any target finished: none waited for another."""
    first_end = min(r.dispatched_at + r.total_ms / 1000 for r in results)
    assert max(r.dispatched_at for r in results) < first_end


def test_targets_run_concurrently_and_timings_match_the_schedule(server: FakeServer, settings,
                                                                 behaviours) -> None:
    ends = scheduled(behaviours)
    results, wall_ms = compare(settings, [t for t, *_ in SCHEDULE])
    assert [r.status for r in results] == ["ok"] * 4
    assert_concurrent(results)
    assert wall_ms < 0.9 * sum(ends.values()) * 1000, "run one after another"
    for result, (target, first, interval, n) in zip(results, SCHEDULE):
        model = target.split(":", 1)[1]
        sent = sent_times(server, model)
        tail = 1 if result.provider == "ollama" else 3  # done line | finish, usage, [DONE]
        lead = len(sent) - n - tail
        assert result.target == target
        assert result.completion_tokens == n and result.tokens_source == "reported"
        # Never earlier than scheduled, and within a few ms of when the fake actually
        # wrote the first and last pieces (load on the machine moves both together).
        assert result.ttft_ms >= first * 1000
        wrote_first_ms = (sent[lead] - result.dispatched_at) * 1000
        assert 0 <= result.ttft_ms - wrote_first_ms < 50
        server_rate = (n - 1) / (sent[lead + n - 1] - sent[lead])
        assert result.decode_tokens_per_s == pytest.approx(server_rate, rel=0.15)
        assert result.decode_tokens_per_s <= 1.05 / interval
        assert result.total_ms >= ends[target] * 1000


def test_a_failing_target_does_not_disturb_the_others(server: FakeServer, fakes,
                                                      behaviours) -> None:
    ends = scheduled(behaviours)
    env, _ = inject(server, fakes, "nim", "500", timeout_s=1)
    results, wall_ms = compare(Settings(env), [t for t, *_ in SCHEDULE])
    assert results[0].status == "error" and results[0].error_kind == "unavailable"
    for result, (target, first, _i, n) in zip(results[1:], SCHEDULE[1:]):
        assert result.status == "ok" and result.completion_tokens == n
        assert result.ttft_ms >= first * 1000
    assert_concurrent(results[1:])
    assert wall_ms < 0.9 * sum(list(ends.values())[1:]) * 1000


def test_an_unconfigured_target_fails_alone(fakes) -> None:
    env = {k: v for k, v in fakes.items() if k != "NVIDIA_API_KEY"}
    results, _ = compare(Settings(env), ["nim:microsoft/phi-3.5-mini-instruct", "ollama:phi3.5"])
    assert results[0].error_kind == "config" and "NVIDIA_API_KEY" in results[0].error
    assert results[1].status == "ok"


def test_stop_ends_every_stream_promptly_and_keeps_text(server: FakeServer, settings,
                                                        behaviours) -> None:
    behaviours.default.pieces = [f" t{i}" for i in range(200)]
    behaviours.default.interval_s = 0.02
    targets = ["nim:a", "azure:b", "ollama:c", "openai:d"]

    async def go() -> tuple[Comparison, float]:
        comparison = Comparison(ChatRequest("", "go"), [providers.parse_target(t) for t in targets],
                                ProviderPool(settings))
        async for _ in comparison.updates():
            if all(len(r.text) > 10 for r in comparison.results):
                asked = time.perf_counter()
                comparison.stop()
        return comparison, (time.perf_counter() - asked) * 1000

    comparison, stop_ms = asyncio.run(go())
    assert stop_ms < 1000  # promptly: not after the remaining 180 pieces (3.6 s)
    for result in comparison.results:
        assert result.status == "stopped" and result.partial
        assert result.text.startswith(" t0 t1") and result.total_ms < 3000
    assert all(len(r.sent_at) < 200 for r in server.requests), "streams kept going"


def test_closing_the_update_generator_stops_the_streams(settings, behaviours) -> None:
    behaviours.default.pieces = [f" t{i}" for i in range(200)]
    behaviours.default.interval_s = 0.02

    async def go() -> Comparison:
        comparison = Comparison(ChatRequest("", "go"), [providers.parse_target("nim:a")],
                                ProviderPool(settings))
        updates = comparison.updates()
        async for _ in updates:
            if comparison.results[0].text:
                break
        await updates.aclose()  # what a UI does when its event is cancelled
        return comparison

    result = asyncio.run(go()).results[0]
    assert result.status == "stopped" and result.text


def test_idle_timeout_is_per_target(server: FakeServer, fakes, behaviours) -> None:
    behaviours.default.pieces = ["a", "b"]
    env, route = inject(server, fakes, "ollama", "stall", timeout_s=0.5)
    results, wall_ms = compare(Settings(env), [route.target, "nim:fine"], timeout_s=0.5)
    assert results[0].error_kind == "timeout" and "0.5 s" in results[0].error
    assert results[1].status == "ok"
    assert 500 <= wall_ms < 3000


@pytest.mark.parametrize("target", ["nim:zh", "azure:zh", "ollama:zh", "openai:zh"])
def test_chinese_round_trips_exactly(target: str, settings, behaviours) -> None:
    answer = ["长沙", "是湖南", "省的省会", "，", "历史悠久", "。😀"]
    behaviours.set("zh", pieces=answer)
    (result,), _ = compare(settings, [target], ChatRequest("", "你知道长沙吗？"))
    assert result.text == "".join(answer)


def test_no_usage_and_no_tokenizer_means_no_token_count(fakes, behaviours) -> None:
    behaviours.default.pieces = ["a", "b", "c", "d"]
    settings = Settings({**fakes, "OPENAI_COMPAT_STREAM_USAGE": "0"})
    (result,), _ = compare(settings, ["openai:x"])
    # Four chunks are not four tokens on an unknown server: say nothing rather than guess.
    assert result.tokens_source is None and result.completion_tokens is None
    assert result.prompt_tokens is None and result.decode_tokens_per_s is None
    assert result.chars_per_s is not None


def test_stop_while_a_provider_is_still_preparing(settings, monkeypatch) -> None:
    from providers.ollama import OllamaProvider

    async def slow_prepare(self, model: str) -> None:  # a local model taking long to load
        await asyncio.sleep(30)

    monkeypatch.setattr(OllamaProvider, "prepare", slow_prepare)

    async def go() -> tuple[Comparison, float]:
        comparison = Comparison(ChatRequest("", "go"),
                                [providers.parse_target(t) for t in ("nim:a", "ollama:b")],
                                ProviderPool(settings))
        asyncio.get_running_loop().call_later(0.2, comparison.stop)
        started = time.perf_counter()
        await comparison.run()
        return comparison, time.perf_counter() - started

    comparison, seconds = asyncio.run(go())
    assert seconds < 5
    assert [r.status for r in comparison.results] == ["stopped", "stopped"]
    assert comparison.wall_ms is not None


def test_stop_before_the_run_sends_nothing(server: FakeServer, settings) -> None:
    async def go() -> Comparison:
        comparison = Comparison(ChatRequest("", "go"), [providers.parse_target("nim:a")],
                                ProviderPool(settings))
        comparison.stop()
        await comparison.run()
        return comparison

    assert asyncio.run(go()).results[0].status == "stopped"
    assert server.requests == []


def test_each_pair_sends_its_own_request_even_for_the_same_target(server: FakeServer,
                                                                  settings) -> None:
    target = providers.parse_target("nim:microsoft/phi-3.5-mini-instruct")

    async def go() -> list:
        pool = ProviderPool(settings)
        pairs = [(target, ChatRequest("", "first question")),
                 (target, ChatRequest("", "second question"))]
        try:
            return await Comparison.of_pairs(pairs, pool, timeout_s=10).run()
        finally:
            await pool.aclose()

    results = asyncio.run(go())
    assert [r.status for r in results] == ["ok", "ok"]
    sent = sorted(r.json["messages"][-1]["content"] for r in server.chat_requests())
    assert sent == ["first question", "second question"]


def test_a_routes_sdk_is_first_imported_off_the_event_loop(settings, tmp_path, monkeypatch) -> None:
    # An SDK's first import costs 0.4-0.9 s of CPU: on the event loop it would stall every
    # other session's streams once per process (a fresh app's first comparison).
    (tmp_path / "sdk_probe_module.py").write_text(
        "import threading\nIMPORTED_IN = threading.get_ident()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from providers.nim import NimProvider
    monkeypatch.setattr(NimProvider, "modules",
                        lambda self: ("sdk_probe_module", *super(NimProvider, self).modules()))

    async def go() -> int:
        pool = ProviderPool(settings)
        try:
            target = providers.parse_target("nim:microsoft/phi-3.5-mini-instruct")
            await Comparison(ChatRequest("", "hi"), [target], pool).run()
        finally:
            await pool.aclose()
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    import sdk_probe_module
    assert sdk_probe_module.IMPORTED_IN != loop_thread
