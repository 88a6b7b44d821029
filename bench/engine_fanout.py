"""Benchmark: the compare engine against the fakes, 6 concurrent targets with known schedules.

The fakes run in their own process (they stand for remote servers), and log when they
received each request and wrote each event, on the same monotonic clock as the engine.
Prints, over N rounds in one run:

* wall / slowest: the engine's wall time divided by the slowest target's total time
  (goal <= 1.03: fanning out costs almost nothing over the slowest stream);
* TTFT error: measured TTFT minus the scheduled first-token time (goal p95 <= 5 ms),
  split into request transit (dispatch -> server receipt), the fake's own timer lag,
  and the engine's clock lag (server wrote the first token -> engine stamped it);
* the same TTFT error for a bare asyncio reader (``bench.raw_fanout``: no SDK, no engine)
  sending the same six requests in one event loop, one round after each comparison: the
  floor on this machine at this load. "net" = minus the fake's own timer lag.

Usage: python -m bench.engine_fanout [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path
from types import SimpleNamespace

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import providers  # noqa: E402
from bench.raw_fanout import RawTarget, close, raw_round  # noqa: E402
from bench.support import fake_server_process, fake_url, percentile  # noqa: E402
from playground.engine import Comparison, ProviderPool  # noqa: E402
from providers.base import ChatRequest  # noqa: E402
from providers.settings import Settings  # noqa: E402

# target, first token (s), interval (s), pieces
SCHEDULE = [
    ("nim:bench-1", 0.150, 0.010, 60),
    ("nim:bench-2", 0.300, 0.020, 30),
    ("azure:bench-3", 0.080, 0.015, 50),
    ("ollama:bench-4", 0.050, 0.025, 30),
    ("openai:bench-5", 0.400, 0.005, 80),
    ("ollama:bench-6", 0.200, 0.012, 40),
]
LEAD_EVENTS = {"nim": 1, "openai": 1, "azure": 2, "ollama": 0}  # events before the first text


async def rounds(settings: Settings, n: int,
                 raws: list[RawTarget] | None = None) -> list[tuple[float, list]]:
    """Run n+1 comparisons (the first is a warm-up); return (wall/slowest, results).
    With ``raws``, each comparison after the warm-up is followed by one round of the
    bare readers, returned too (as results with ``provider``, ``dispatched_at`` and
    ``ttft_ms``, ratio 0) after the comparisons."""
    pool = ProviderPool(settings)
    targets = [providers.parse_target(t) for t, *_ in SCHEDULE]
    runs, floor = [], []
    try:
        for i in range(n + 1):
            comparison = Comparison(ChatRequest("", "benchmark"), targets, pool)
            results = await comparison.run()
            assert all(r.status == "ok" for r in results), [r.error for r in results]
            if i:
                runs.append((comparison.wall_ms / max(r.total_ms for r in results), results))
            if i and raws:
                floor.append((0.0, [SimpleNamespace(provider=r.provider, dispatched_at=at,
                                                    ttft_ms=ttft)
                                    for r, (at, ttft) in zip(results, await raw_round(raws))]))
    finally:
        await pool.aclose()
    return runs + floor


async def alternated(settings: Settings, env: dict[str, str],
                     n: int) -> tuple[list[tuple[float, list]], list[tuple[float, list]]]:
    """The comparisons and, alternated with them, the bare readers' rounds."""
    raws = [RawTarget(env, target, b" w0") for target, *_ in SCHEDULE]
    for raw in raws:
        await raw.connect()
    try:
        both = await rounds(settings, n, raws)
    finally:
        await close(raws)
    return both[:n], both[n:]


def split_errors(runs: list[tuple[float, list]], log: list[dict], stride: int = 1,
                 offset: int = 0) -> dict[str, list[float]]:
    """Per target and round: TTFT error and its parts, matched with the fake's log
    (round i's request is entry 1 + (i - 1) * stride + offset of its model; entry 0
    is the warm-up)."""
    parts: dict[str, list[float]] = {"ttft_error": [], "transit": [], "fake_timer": [],
                                     "engine_lag": []}
    by_model: dict[str, list[dict]] = {}
    for entry in log:
        if entry["model"]:
            by_model.setdefault(entry["model"], []).append(entry)
    for round_index, (_, results) in enumerate(runs):
        for result, (target, first_s, _, _) in zip(results, SCHEDULE):
            entry = by_model[target.split(":", 1)[1]][1 + round_index * stride + offset]
            first_token_sent = entry["sent_at"][LEAD_EVENTS[result.provider]]
            parts["ttft_error"].append(result.ttft_ms - first_s * 1000)
            parts["transit"].append((entry["received_at"] - result.dispatched_at) * 1000)
            parts["fake_timer"].append((first_token_sent - entry["received_at"] - first_s) * 1000)
            parts["engine_lag"].append(
                (result.dispatched_at + result.ttft_ms / 1000 - first_token_sent) * 1000)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    models = {target.split(":", 1)[1]: {"pieces": [f" w{i}" for i in range(n)],
                                        "first_s": first, "interval_s": interval}
              for target, first, interval, n in SCHEDULE}
    load = os.getloadavg()[0]
    with fake_server_process({"models": models}) as env:
        runs, floor = asyncio.run(alternated(Settings(env), env, args.rounds))
        log = requests.get(fake_url(env) + "/_fake/requests", timeout=10).json()
    ratios = [ratio for ratio, _ in runs]
    parts = split_errors(runs, log, stride=2)
    print(f"engine fan-out: {len(SCHEDULE)} concurrent targets x {args.rounds} rounds "
          "(after 1 warm-up), fakes in their own process")
    print(f"  load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after, "
          f"{os.cpu_count()} CPUs")
    print(f"  wall / slowest target: median {statistics.median(ratios):.3f}, "
          f"max {max(ratios):.3f}   (goal <= 1.03)")
    for name, label in [("ttft_error", "TTFT - scheduled first token"),
                        ("transit", "  of which request transit (dispatch -> fake received)"),
                        ("fake_timer", "  of which the fake's timer lag"),
                        ("engine_lag",
                         "  of which engine clock lag (fake wrote -> engine stamped)")]:
        print(f"  {label}: {quantiles(parts[name])}")
    print(f"  TTFT error net of the fake's lag: {quantiles(net(parts))}")
    print("  (goal: TTFT error p95 <= 5 ms)")
    bare = split_errors(floor, log, stride=2, offset=1)
    print("floor: bare asyncio reader, the same 6 requests at once, alternated rounds:")
    print(f"  TTFT - scheduled first token: {quantiles(bare['ttft_error'])}")
    print(f"  TTFT error net of the fake's lag: {quantiles(net(bare))}")
    print(f"  request transit: {quantiles(bare['transit'])}")


def net(parts: dict[str, list[float]]) -> list[float]:
    """TTFT errors minus the fake's own timer lag, per request (ms)."""
    return [e - lag for e, lag in zip(parts["ttft_error"], parts["fake_timer"])]


def quantiles(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):.2f} ms, p95 {percentile(values, 0.95):.2f} ms"


if __name__ == "__main__":
    main()
