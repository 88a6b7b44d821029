"""What may happen inside a target's timing window, checked structurally (no timings):
the heap is frozen while targets stream, every provider is prepared before any clock
starts, no module is imported and no collection walks the app's heap during a run in a
fresh process, and the pre-connect carries no credentials."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

import providers
from fake_services.server import FakeServer
from playground import heap
from playground.engine import Comparison, ProviderPool
from providers.base import ChatRequest
from providers.nim import NimProvider
from providers.ollama import OllamaProvider
from tests.support import compare

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["nim:a", "azure:b", "openai:c", "ollama:d"]


def test_the_heap_is_frozen_while_targets_stream_and_thawed_after(settings) -> None:
    seen: list[tuple[int, int]] = []

    async def go() -> Comparison:
        comparison = Comparison(ChatRequest("", "go"),
                                [providers.parse_target(t) for t in TARGETS],
                                ProviderPool(settings))
        async for _ in comparison.updates():
            if any(r.status == "running" for r in comparison.results):
                seen.append((heap.holders(), gc.get_freeze_count()))
        await comparison.pool.aclose()
        return comparison

    comparison = asyncio.run(go())
    assert [r.status for r in comparison.results] == ["ok"] * len(TARGETS)
    assert seen and all(holders == 1 and frozen > 0 for holders, frozen in seen)
    assert heap.holders() == 0 and gc.get_freeze_count() == 0


def test_overlapping_runs_share_one_freeze_and_collect_once(monkeypatch) -> None:
    collected: list[int] = []
    monkeypatch.setattr(heap.gc, "collect", lambda generation=2: collected.append(generation))
    heap.hold_collections()
    heap.hold_collections()  # a second session's comparison starts meanwhile
    assert collected == [1], "only the first holder collects, and only young generations"
    heap.release_collections()
    assert gc.get_freeze_count() > 0, "the other run is still inside its windows"
    heap.release_collections()
    assert heap.holders() == 0 and gc.get_freeze_count() == 0


def test_a_server_never_idle_still_thaws_the_heap(monkeypatch) -> None:
    monkeypatch.setattr(heap, "MAX_OVERLAPPING_RUNS", 3)
    heap.hold_collections()  # a run that stays open throughout
    try:
        for _ in range(2):  # the third overlapping run's end thaws the heap
            heap.hold_collections()
            heap.release_collections()
        assert gc.get_freeze_count() == 0, "old garbage must not stay frozen forever"
    finally:
        heap.release_collections()
    assert heap.holders() == 0


def test_every_provider_is_prepared_before_any_clock_starts(settings, monkeypatch) -> None:
    comparisons: list[Comparison] = []
    states: list[tuple[list[str], int]] = []
    for cls in (NimProvider, OllamaProvider):
        original = cls.prepare

        async def watched(self, model: str, original=original) -> None:
            states.append(([r.status for r in comparisons[0].results],
                           gc.get_freeze_count()))
            await original(self, model)
        monkeypatch.setattr(cls, "prepare", watched)

    async def go() -> None:
        comparisons.append(Comparison(ChatRequest("", "go"),
                                      [providers.parse_target(t) for t in ("nim:a", "ollama:b")],
                                      ProviderPool(settings)))
        await comparisons[0].run()
        await comparisons[0].pool.aclose()

    asyncio.run(go())
    assert len(states) == 2
    assert all(statuses == ["waiting", "waiting"] and frozen == 0 for statuses, frozen in states)
    assert all(r.dispatched_at is not None and r.status == "ok" for r in comparisons[0].results)


def test_the_pre_connect_carries_no_credentials(server: FakeServer, settings) -> None:
    results, _ = compare(settings, ["nim:a", "ollama:b"])
    assert [r.status for r in results] == ["ok", "ok"]
    heads = [r for r in server.requests if r.method == "HEAD"]
    assert sorted(r.path for r in heads) == ["/", "/nim/v1"]
    assert all("Authorization" not in r.headers for r in heads)
    assert all(r.raw == b"" for r in heads)
    # The SDK rehearsal happens in memory: one chat request per target reaches the server.
    assert sorted(r.path for r in server.chat_requests()) == \
        ["/api/chat", "/nim/v1/chat/completions"]


# Runs in a fresh interpreter (as `python -m playground compare` does): every import a
# run needs must have happened before the first clock starts.
FRESH_RUN = r"""
import asyncio, gc, importlib.abc, json, sys
import providers
from playground.engine import Comparison, ProviderPool
from playground.metrics import Recorder
from providers.base import ChatRequest
from providers.settings import Settings

inside, imports, full_passes = [False], [], []
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if inside[0]:
            imports.append(name)
sys.meta_path.insert(0, Watch())
gc.callbacks.append(lambda phase, info: inside[0] and phase == "start"
                    and info["generation"] == 2 and full_passes.append(gc.get_freeze_count()))
start = Recorder.start
def opening(self, now):
    inside[0] = True
    start(self, now)
Recorder.start = opening

async def main():
    settings = Settings(json.loads(sys.argv[1]))
    comparison = Comparison(ChatRequest("", "go"),
                            [providers.parse_target(t) for t in sys.argv[2:]],
                            ProviderPool(settings))
    results = await comparison.run()
    inside[0] = False
    await comparison.pool.aclose()
    return [r.status for r in results]

statuses = asyncio.run(main())
print(json.dumps({"statuses": statuses, "imports": imports, "full_passes": full_passes}))
"""


@pytest.mark.parametrize("targets", [["nim:a", "ollama:b"], TARGETS])
def test_no_import_and_no_pass_over_the_heap_inside_a_fresh_run(fakes, targets) -> None:
    done = subprocess.run([sys.executable, "-c", FRESH_RUN, json.dumps(fakes), *targets],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["statuses"] == ["ok"] * len(targets)
    assert report["imports"] == [], "first-use imports landed inside a timing window"
    # A full pass may still run (on what the run allocated), never over the unfrozen heap.
    assert all(frozen > 0 for frozen in report["full_passes"])


def test_a_failing_rehearsal_never_fails_the_target(settings, monkeypatch) -> None:
    from providers import warmup

    async def broken(*args: object) -> None:
        raise RuntimeError("an SDK changed its internals")

    monkeypatch.setattr(warmup, "_rehearsed", set())
    monkeypatch.setattr(warmup, "_rehearse_openai", broken)
    monkeypatch.setattr(warmup, "_rehearse_ollama", broken)
    results, _ = compare(settings, ["nim:a", "ollama:b"])
    assert [r.status for r in results] == ["ok", "ok"]
