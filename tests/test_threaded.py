"""The worker-thread bridge and the shared model cache, with plain Python producers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from providers.local.threaded import ModelCache, Stopped, ThreadSink, stream_from_thread
from tests.conftest import run
from tests.support import wait_for_workers


def counting_producer(n: int, delay_s: float, log: list[tuple[float, float]]):
    """Emit 0..n-1, taking ``delay_s`` per item like a token; log each item's (start, end)."""
    def produce(sink: ThreadSink[int]) -> None:
        for i in range(n):
            started = time.perf_counter()
            time.sleep(delay_s)
            log.append((started, time.perf_counter()))
            sink.emit(i)
    return produce


def test_items_arrive_in_order_and_the_end_ends_the_stream() -> None:
    async def go() -> list[int]:
        return [i async for i in stream_from_thread(counting_producer(50, 0, []), name="order")]
    assert run(go()) == list(range(50))
    wait_for_workers("order")


def test_a_producer_error_arrives_after_the_items_before_it() -> None:
    def produce(sink: ThreadSink[str]) -> None:
        sink.emit("a")
        raise ValueError("boom")

    async def go() -> list[str]:
        got = []
        with pytest.raises(ValueError, match="boom"):
            async for item in stream_from_thread(produce):
                got.append(item)
        return got
    assert run(go()) == ["a"]


def test_closing_the_stream_stops_the_producer_within_one_item() -> None:
    log: list[tuple[float, float]] = []

    async def go() -> tuple[int, float]:
        stream = stream_from_thread(counting_producer(1000, 0.02, log), name="stopme")
        received = 0
        async for _ in stream:
            received += 1
            if received == 3:
                break
        await stream.aclose()
        return received, time.perf_counter()
    received, closed_at = run(go())
    wait_for_workers("stopme")
    assert received == 3
    # At most the item in flight at the close is still produced.
    assert sum(1 for start, _ in log if start > closed_at) <= 1
    assert sum(1 for _, end in log if end > closed_at) <= 1
    assert len(log) <= received + 2


def test_cancelling_the_consumer_task_stops_the_producer() -> None:
    log: list[tuple[float, float]] = []

    async def consume(out: list[int]) -> None:
        async for item in stream_from_thread(counting_producer(1000, 0.02, log), name="cancel"):
            out.append(item)

    async def go() -> tuple[list[int], float]:
        out: list[int] = []
        task = asyncio.create_task(consume(out))
        while len(out) < 2:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return out, time.perf_counter()
    out, cancelled_at = run(go())
    wait_for_workers("cancel")
    assert out[:2] == [0, 1]
    assert sum(1 for _, end in log if end > cancelled_at) <= 1
    assert len(log) <= len(out) + 2


def test_the_event_loop_keeps_running_while_the_producer_blocks() -> None:
    def produce(sink: ThreadSink[str]) -> None:
        time.sleep(0.3)  # a blocking call that releases the GIL, like a model load
        sink.emit("done")

    async def go() -> tuple[int, list[str]]:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)
        task = asyncio.create_task(ticker())
        items = [x async for x in stream_from_thread(produce)]
        stop.set()
        await task
        return ticks, items
    ticks, items = run(go())
    assert items == ["done"]
    assert ticks >= 10  # ~30 expected; the loop was not blocked


def test_the_producer_waits_when_the_consumer_has_not_had_a_turn() -> None:
    # A runtime holding the GIL while computing must still leave the event loop a turn
    # every few milliseconds. Here tokens take 2 ms and the consumer 40 ms per item:
    # the producer may only emit within max_lag_s (+ one token) of the consumer's
    # latest take, instead of every 2 ms regardless.
    taken_at: list[float] = []
    lags: list[float] = []

    def produce(sink: ThreadSink[int]) -> None:
        for i in range(30):
            time.sleep(0.002)
            if taken_at and i > len(taken_at):  # items wait for the consumer
                lags.append(time.perf_counter() - taken_at[-1])
            sink.emit(i)

    async def go() -> list[int]:
        got = []
        async for item in stream_from_thread(produce, max_lag_s=0.005):
            taken_at.append(time.perf_counter())
            got.append(item)
            await asyncio.sleep(0.04)
        return got
    assert run(go()) == list(range(30))
    assert lags and max(lags) < 0.025  # without the wait: up to 40 ms


def test_emit_after_the_loop_closed_stops_quietly() -> None:
    loop = asyncio.new_event_loop()
    sink: ThreadSink[int] = ThreadSink(loop)
    loop.close()
    with pytest.raises(Stopped):
        sink.emit(1)
    assert sink.stopped


# ---------------------------------------------------------------- ModelCache

def test_cache_loads_once_and_evicts_the_least_recently_used() -> None:
    cache: ModelCache[str] = ModelCache()
    loads: list[str] = []

    def loader(key: str):
        return lambda: loads.append(key) or f"model-{key}"
    assert cache.load("a", loader("a"), 2)[0] == "model-a"
    assert cache.load("a", loader("a"), 2)[1] is None  # cached: no load time
    cache.load("b", loader("b"), 2)
    cache.load("a", loader("a"), 2)  # a is now the most recently used
    cache.load("c", loader("c"), 2)
    assert cache.loaded() == ["a", "c"]
    assert loads == ["a", "b", "c"]


def test_a_model_in_use_is_not_evicted_until_released() -> None:
    cache: ModelCache[str] = ModelCache()
    with cache.lease("a", lambda: "A", 1) as (model, load_ms):
        assert model == "A" and load_ms is not None and load_ms >= 0
        cache.load("b", lambda: "B", 1)
        assert cache.loaded() == ["a", "b"]  # over the limit while a is in use
    assert cache.loaded() == ["b"]


def test_concurrent_loads_of_one_model_load_it_once() -> None:
    cache: ModelCache[int] = ModelCache()
    calls = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.1)
        return 42
    results: list[tuple[int, float | None]] = []
    threads = [threading.Thread(target=lambda: results.append(cache.load("m", slow, 2)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(r[0] for r in results) == [42] * 4
    assert sum(r[1] is not None for r in results) == 1  # only the loader reports a load time


def test_a_failed_load_is_not_cached() -> None:
    cache: ModelCache[int] = ModelCache()

    def broken() -> int:
        raise RuntimeError("corrupt")
    with pytest.raises(RuntimeError):
        cache.load("m", broken, 2)
    assert cache.loaded() == []
    assert cache.load("m", lambda: 1, 2) == (1, pytest.approx(0, abs=50))


def test_evicted_models_are_handed_to_on_evict_outside_the_lock() -> None:
    evicted: list[str] = []
    cache: ModelCache[str] = ModelCache(on_evict=lambda m: evicted.append(m) or cache.loaded())
    cache.load("a", lambda: "A", 1)
    cache.load("b", lambda: "B", 1)  # on_evict calls back into the cache: no deadlock
    assert evicted == ["A"] and cache.loaded() == ["b"]
    cache.clear()
    assert evicted == ["A", "B"]


def test_acquire_and_release_hold_a_model_across_calls() -> None:
    evicted: list[str] = []
    cache: ModelCache[str] = ModelCache(on_evict=evicted.append)
    assert cache.acquire_loaded("a") is None  # not loaded: never loads, never blocks
    model, load_ms = cache.acquire("a", lambda: "A", 1)
    assert model == "A" and load_ms is not None
    assert cache.acquire_loaded("a") == "A"  # a second lease
    cache.load("b", lambda: "B", 2)
    cache.release("a", "A", 1)  # over the limit: the model not in use goes
    assert cache.loaded() == ["a"] and evicted == ["B"]
    cache.load("c", lambda: "C", 2)
    cache.release("a", "A", 1)  # its last lease
    assert cache.loaded() == ["c"] and evicted == ["B", "A"]


def test_a_discarded_model_is_loaded_again_and_its_leases_end_quietly() -> None:
    evicted: list[str] = []
    cache: ModelCache[str] = ModelCache(on_evict=evicted.append)
    first, _ = cache.acquire("m", lambda: "broken", 2)
    cache.discard("m", "other")  # not that model: nothing happens
    assert cache.loaded() == ["m"]
    cache.discard("m", first)
    assert cache.loaded() == [] and evicted == []  # the caller cleans a discarded model up
    again, load_ms = cache.acquire("m", lambda: "fresh", 2)
    assert again == "fresh" and load_ms is not None
    cache.release("m", first, 2)  # the discarded one's lease: no effect on the new one
    cache.load("x", lambda: "X", 1)
    assert cache.loaded() == ["m", "x"]  # "fresh" still leased, so not evicted


def test_close_lets_every_model_go_even_in_use() -> None:
    evicted: list[str] = []
    cache: ModelCache[str] = ModelCache(on_evict=evicted.append)
    with cache.lease("a", lambda: "A", 2):
        cache.load("b", lambda: "B", 2)
        assert cache.close() == ["A", "B"]
    assert evicted == ["A", "B"] and cache.loaded() == []
