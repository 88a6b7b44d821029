"""Load: 30 concurrent browser sessions (gradio_client) x 4 targets against the fakes
and the tiny ONNX model, six rounds. No errors, no cross-talk between sessions (each
gets the answers to its own prompt), the ONNX model loaded once, memory stable.
Prints its figures (the README quotes them)."""

from __future__ import annotations

import gc
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client

from fake_services import services
from playground.policy import Policy
from playground.ui import layout
from playground.ui.handlers import N_SLOTS
from providers.local import onnx as onnx_genai
from providers.local import onnx_process
from providers.settings import Settings
from tests.conftest import REPO
from tests.ui_support import free_port

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

SESSIONS, ROUNDS = 30, 6
TARGETS = ["nim:microsoft/phi-3.5-mini-instruct", "azure:Phi-3.5-mini-instruct",
           "ollama:phi3.5", "onnx:tiny-phi3"]
TINY_ANSWER = "Hello! I am a tiny test model."


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def one_session(url: str, index: int) -> tuple[float, list[str], list[str], list[dict]]:
    client = Client(url, verbose=False, analytics_enabled=False)
    started = time.perf_counter()
    # The session's id rides in the system prompt: the fakes quote it back (see
    # quoting_system), the tiny ONNX model ignores system prompts it was not trained on.
    out = client.predict(TARGETS, "Say hello.", f"session-{index:02d}", None, 64, 0, None,
                         None, 30, api_name="/compare")
    seconds = time.perf_counter() - started
    status, answers, table = out[:N_SLOTS], out[N_SLOTS:2 * N_SLOTS], out[2 * N_SLOTS]
    rows = [dict(zip(table["headers"], row)) for row in table["data"]]
    client.close()
    return seconds, list(status[:len(TARGETS)]), list(answers[:len(TARGETS)]), rows


def quoting_system(body: dict) -> str:
    """The fakes' answers quote the system prompt and the user prompt."""
    system = [m["content"] for m in body["messages"] if m["role"] == "system"]
    return " ".join([*system, body["messages"][-1]["content"]])


def test_thirty_sessions_four_targets(fakes, behaviours, capsys, monkeypatch) -> None:
    monkeypatch.setattr(services, "user_prompt", quoting_system)
    onnx_genai.shutdown()  # a model loaded by an earlier test would not load here
    behaviours.default.first_s, behaviours.default.interval_s = 0.2, 0.02
    env = {**fakes, "ONNX_MODELS_DIR": str(Path(REPO) / "tests" / "fixtures" / "models")}
    demo = layout.build_demo(Settings.load(dotenv_path=None, environ=env), Policy())
    # The app's launch options, with room for about one round of sessions: Gradio keeps
    # each session's component configs; the cap is what bounds memory (layout.py).
    monkeypatch.setenv("PLAYGROUND_SESSION_CAPACITY", str(SESSIONS))
    _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **layout.launch_options())
    figures, memory, worker_memory = [], [], []
    try:
        with ThreadPoolExecutor(SESSIONS) as pool:
            for round_index in range(ROUNDS):
                started = time.perf_counter()
                results = list(pool.map(lambda i: one_session(url, i), range(SESSIONS)))
                wall = time.perf_counter() - started
                workers = onnx_process.running()
                assert len(workers) == 1, "one ONNX worker process serves every session"
                # Uncollected cycles from the round would otherwise count as growth,
                # more or less of them depending on what ran before in this process.
                gc.collect()
                memory.append(rss_mb())
                worker_memory.append(rss_mb(workers[0].pid))
                figures.append((wall, [r[0] for r in results]))
                check_round(results)
                loads = sum("Loaded" in s for _, status, _, _ in results for s in status)
                assert loads == (1 if round_index == 0 else 0), "the ONNX model loads once"
    finally:
        demo.close()
    # Memory stable: once the session cap is reached, a round adds far less than the
    # first rounds did (what remains is the allocator settling: +1-4 MB a round over 12
    # rounds, 2026-11-29). Averaged over the last two rounds: one round is noisy.
    late_growth = (memory[-1] - memory[-3]) / 2
    assert late_growth < min(15, 0.5 * (memory[1] - memory[0])), memory
    assert worker_memory[-1] - worker_memory[1] < 15, worker_memory
    with capsys.disabled():
        for i, (wall, sessions) in enumerate(figures, 1):
            print(f"\nload round {i}: {SESSIONS} sessions x {len(TARGETS)} targets, wall "
                  f"{wall:.2f} s, session p50 {statistics.median(sessions):.2f} s, "
                  f"max {max(sessions):.2f} s, RSS {memory[i - 1]:.0f} MB, ONNX worker "
                  f"{worker_memory[i - 1]:.0f} MB")


def check_round(results: list[tuple[float, list[str], list[str], list[dict]]]) -> None:
    for index, (_, status, answers, rows) in enumerate(results):
        assert [r["status"] for r in rows] == ["ok"] * len(TARGETS), status
        mine = f"session-{index:02d}"
        for answer in answers[:3]:  # the fakes' answers quote this session's prompt only
            assert mine in answer
            assert set(re.findall(r"session-\d\d", answer)) == {mine}
        assert answers[3] == TINY_ANSWER
