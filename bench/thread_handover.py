"""Benchmark: how often the ``transformers`` thread should hand its tokens to the event loop.

A synthetic producer in :func:`providers.local.threaded.stream_from_thread` makes N
tokens of 1 ms each, 80 % of it outside the GIL (a sleep, as torch's kernels release
it) and 20 % holding it (a busy loop, as the Python around them does), while another
task of the event loop sleeps 1 ms at a time. For each hand-over interval (none: every
token; 5 ms; 20 ms, :data:`providers.local.pacing.HAND_OVER_EVERY_S`), in rotating order
over R repeats, prints the median tokens/s the consumer received and how late the 1 ms
sleeps woke (p50, p95, max; medians over the repeats). The figures quoted in
providers/local/pacing.py come from this.

Usage: python -m bench.thread_handover [--tokens 400] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import percentile  # noqa: E402
from providers.local.pacing import HAND_OVER_EVERY_S  # noqa: E402
from providers.local.threaded import ThreadSink, stream_from_thread  # noqa: E402

TOKEN_S = 0.001  # one token's time
OUTSIDE_GIL = 0.8  # the share of it that releases the GIL


def producer(tokens: int):  # type: ignore[no-untyped-def]
    def produce(sink: ThreadSink[int]) -> None:
        for i in range(tokens):
            time.sleep(TOKEN_S * OUTSIDE_GIL)
            end = time.perf_counter() + TOKEN_S * (1 - OUTSIDE_GIL)
            while time.perf_counter() < end:
                pass
            sink.emit(i)
    return produce


async def one_run(tokens: int, every_s: float) -> tuple[float, list[float]]:
    """Tokens/s received, and each 1 ms sleep's overrun in ms, for one stream."""
    overruns: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            overruns.append((time.perf_counter() - started - 0.001) * 1000.0)
    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    received = 0
    async for _ in stream_from_thread(producer(tokens), max_lag_s=every_s):
        received += 1
    rate = received / (time.perf_counter() - started)
    done = True
    await task
    return rate, overruns


async def main(tokens: int, repeats: int) -> None:
    intervals = {"every token": 0.0, "5 ms": 0.005,
                 f"{HAND_OVER_EVERY_S * 1000:g} ms (HAND_OVER_EVERY_S)": HAND_OVER_EVERY_S}
    results: dict[str, list[tuple[float, list[float]]]] = {name: [] for name in intervals}
    await one_run(tokens // 4, HAND_OVER_EVERY_S)  # warm-up
    for repeat in range(repeats):
        names = list(intervals)
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            results[name].append(await one_run(tokens, intervals[name]))
    with open("/proc/loadavg", encoding="ascii") as file:
        load = file.read().split()[0]
    print(f"{tokens} tokens of {TOKEN_S * 1000:g} ms ({OUTSIDE_GIL:.0%} outside the GIL) "
          f"x {repeats} repeats, load average {load}")
    for name, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        p50, p95, worst = (statistics.median(percentile(o, q) for _, o in runs)
                           for q in (0.5, 0.95, 1.0))
        print(f"  hand-over {name:28s} {rate:6.0f} tokens/s; a 1 ms sleep overran by "
              f"p50 {p50:.2f}, p95 {p95:.2f}, max {worst:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.repeats))
