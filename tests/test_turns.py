"""The conversation turn of every result row: set by the engine from the request's
history, carried into the CSV and JSON exports."""

from __future__ import annotations

import asyncio
import csv
import io

from playground.cli.compare import render
from playground.engine import Comparison, ProviderPool
from playground.metrics import RESULT_FIELDS
from providers import parse_target
from providers.base import ChatRequest, Turn
from providers.settings import Settings

HISTORY = (Turn("user", "你知道长沙吗？"), Turn("assistant", "长沙是湖南的省会。"))


def test_each_row_carries_the_turn_its_request_asks(settings: Settings) -> None:
    first = ChatRequest("", "你知道长沙吗？")
    follow_up = ChatRequest("", "它的美食呢？", history=HISTORY)
    pairs = [(parse_target("nim:turn-a"), first), (parse_target("ollama:turn-b"), follow_up)]

    async def run():
        comparison = Comparison.of_pairs(pairs, ProviderPool(settings))
        try:
            return await comparison.run(), comparison.wall_ms
        finally:
            await comparison.pool.aclose()

    results, wall_ms = asyncio.run(run())
    assert [r.status for r in results] == ["ok", "ok"]
    assert [r.turn for r in results] == [1, 2]
    rows = list(csv.DictReader(io.StringIO(render(results, wall_ms, "csv"))))
    assert [row["turn"] for row in rows] == ["1", "2"]
    assert "turn" in RESULT_FIELDS
    assert '"turn": 2' in render(results, wall_ms, "json")
