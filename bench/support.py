"""Helpers shared by the benchmarks."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def fake_server_process(behaviours: dict) -> Iterator[dict[str, str]]:
    """Start ``tests.fakes.serve`` in a child process; yield the env pointing at it."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
        json.dump(behaviours, spec)
    child = subprocess.Popen([sys.executable, "-m", "tests.fakes.serve", "--behaviours", spec.name],
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
