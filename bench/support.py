"""Helpers shared by the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import providers
from playground.engine import Comparison, ProviderPool
from playground.metrics import TargetResult
from providers.base import ChatRequest
from providers.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def fake_server_process(behaviours: dict) -> Iterator[dict[str, str]]:
    """Start ``fake_services.serve`` in a child process; yield the env pointing at it."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        json.dump(behaviours, spec)
    child = subprocess.Popen([sys.executable, "-m", "fake_services.serve", "--behaviours", spec.name],
                             cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        yield json.loads(child.stdout.readline())
    finally:
        child.terminate()
        child.wait(10)
        Path(spec.name).unlink(missing_ok=True)


def fake_url(env: dict[str, str]) -> str:
    """The fake server's base URL, from the env it printed."""
    return env["OLLAMA_HOST"]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def compare(settings: Settings, targets: Sequence[str], request: ChatRequest | None = None,
            timeout_s: float = 10.0) -> tuple[list[TargetResult], float]:
    """Run the engine on ``targets``; return the results and the wall time in ms."""
    async def go() -> tuple[list[TargetResult], float]:
        pool = ProviderPool(settings)
        comparison = Comparison(request or ChatRequest("", "Hello?"),
                                [providers.parse_target(t) for t in targets], pool,
                                timeout_s=timeout_s)
        try:
            results = await comparison.run()
        finally:
            await pool.aclose()
        assert comparison.wall_ms is not None
        return results, comparison.wall_ms
    return asyncio.run(go())
