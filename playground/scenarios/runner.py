"""Batch runs of a scenario pack: every case on every group, with repeats and warm-up.

A round is one case sent to every group (through the route ``playground.scenarios.routing``
chose). Warm-up rounds come first, on the first case, and are kept but flagged; then
each case runs ``repeats`` measured rounds. Remote targets stream concurrently; local
ones (``Provider.local``: ollama, onnx, transformers) run one at a time after them so
they never share the CPU, unless ``parallel_local`` is set. Every row records its mode.
Each finished round is written to the history in one transaction, so a crash loses at
most the round in flight.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib.metadata
import platform
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playground.engine import Comparison, ProviderPool
from playground.limits import ServerKeyBudget
from playground.metrics import TargetResult
from playground.scenarios.model import Case, Scenario, parse_route
from playground.scenarios.routing import RouteChoice, fit_images, refusal, resolve_routes, unready_kind
from playground.scenarios.rows import RunRow
from playground.validate import InputError, check_request
from providers import Target
from providers.base import ChatRequest
from providers.errors import ProviderError
from providers.images import load_image
from providers.settings import Settings

if TYPE_CHECKING:
    from playground.store import Store

CONCURRENT, SEQUENTIAL, NOT_SENT = "concurrent", "sequential", "not sent"
TERMINAL = ("ok", "error", "stopped")
LIBRARIES = ("openai", "azure-ai-inference", "ollama", "onnxruntime-genai", "onnxruntime",
             "transformers", "torch", "pydantic")


@dataclass(frozen=True)
class RunOptions:
    """What a run may change from the scenario file."""

    repeats: int | None = None
    warmup: int | None = None
    overrides: Mapping[str, Sequence[str]] = field(default_factory=dict)
    parallel_local: bool = False


@dataclass(frozen=True)
class PreparedCase:
    case: Case
    request: ChatRequest
    timeout_s: float


def prepare_cases(scenario: Scenario) -> list[PreparedCase]:
    """Every case as a request with its images loaded; InputError lists every problem."""
    prepared, problems = [], []
    for case in scenario.cases:
        params = scenario.case_parameters(case)
        try:
            images = tuple(load_image(scenario.base_dir / name) for name in case.images)
        except ProviderError as exc:
            problems.append(f"case {case.id}: {exc.message}")
            continue
        request = ChatRequest("", scenario.case_prompt(case), case.system, images,
                              params.max_tokens, params.temperature, params.top_p, params.seed)
        problems += [f"case {case.id}: {p}" for p in check_request(request)]
        prepared.append(PreparedCase(case, request, params.timeout_s))
    if problems:
        raise InputError(problems)
    return prepared


class ScenarioRun:
    """One run of a scenario. Iterate :meth:`updates` to run it; closing it stops."""

    def __init__(self, scenario: Scenario, settings: Settings,
                 options: RunOptions = RunOptions(), store: Store | None = None) -> None:
        unknown = sorted(set(options.overrides) - {g.name for g in scenario.groups})
        if unknown:
            raise InputError([f"--target names no group of {scenario.id}: {', '.join(unknown)} "
                              f"(groups: {', '.join(g.name for g in scenario.groups)})"])
        try:
            for route in (r for routes in options.overrides.values() for r in routes):
                parse_route(route)
        except ValueError as exc:
            raise InputError([f"--target: {exc}"]) from exc
        self.scenario, self.settings, self.options, self.store = scenario, settings, options, store
        self.budget: ServerKeyBudget | None = None  # a public server's, charged per request
        self.cases = prepare_cases(scenario)
        self.repeats = options.repeats or scenario.repeats
        self.warmup = scenario.warmup if options.warmup is None else options.warmup
        self.local_mode = CONCURRENT if options.parallel_local else SEQUENTIAL
        self.routes: list[RouteChoice] = []
        self.rows: list[RunRow] = []
        self.run_id: int | None = None
        self.status = "pending"
        self.wall_ms: float | None = None

    def rounds(self) -> list[tuple[PreparedCase, int, bool]]:
        """(case, repeat, warm-up?) in run order."""
        warm = [(self.cases[0], i + 1, True) for i in range(self.warmup)]
        return warm + [(c, i + 1, False) for c in self.cases for i in range(self.repeats)]

    @property
    def total(self) -> int:
        """Rows this run will produce."""
        return len(self.rounds()) * len(self.scenario.groups)

    async def resolve(self, pool: ProviderPool | None = None) -> list[RouteChoice]:
        """Choose each group's route now; InputError (nothing sent, nothing saved) when no
        group can run, naming what would make each route runnable."""
        own = pool is None
        pool = pool or ProviderPool(self.settings)
        try:
            self.routes = await resolve_routes(self.scenario, pool, self.options.overrides)
        finally:
            if own:
                await pool.aclose()
        if (why := refusal(self.routes)) is not None:
            self.status = "refused"
            raise InputError(why.splitlines())
        return self.routes

    async def updates(self) -> AsyncIterator[RunRow]:
        """Run everything; yield each row as its target finishes."""
        pool = ProviderPool(self.settings, self.budget)
        started, unsaved = time.perf_counter(), []
        self.status = "running"
        try:
            if not self.routes:
                await self.resolve(pool)
            if self.store is not None:
                self.run_id = await asyncio.to_thread(self.store.begin_run, self.meta())
            for prepared, repeat, warmup in self.rounds():
                # aclosing: a stop must end the round's streams before the pool closes.
                async with aclosing(self._round(pool, prepared, repeat, warmup)) as rows:
                    async for row in rows:
                        self.rows.append(row)
                        unsaved.append(row)
                        yield row
                # Off the event loop: a commit's fsync must not stall other sessions' streams.
                await asyncio.to_thread(self._save, unsaved)
            self.status = "done"
        except InputError:
            raise
        except Exception:
            self.status = "failed"  # a bug, not a provider's failure (those are rows)
            raise
        finally:
            self.status = "stopped" if self.status == "running" else self.status
            self.wall_ms = (time.perf_counter() - started) * 1000.0
            self._save(unsaved)  # rows of a stopped round that did finish
            if self.store is not None and self.run_id is not None:
                self.store.finish_run(self.run_id, self.status, self.wall_ms)
            await pool.aclose()

    def _save(self, rows: list[RunRow]) -> None:
        if self.store is not None and self.run_id is not None and rows:
            self.store.add_rows(self.run_id, rows)
        rows.clear()

    async def _round(self, pool: ProviderPool, prepared: PreparedCase, repeat: int,
                     warmup: bool) -> AsyncIterator[RunRow]:
        now: list[tuple[int, ChatRequest, Target]] = []
        later: list[tuple[int, ChatRequest, Target]] = []
        requests: dict[int, ChatRequest] = {}
        notices: dict[int, str] = {}
        images = prepared.request.images

        def row(index: int, mode: str, result: TargetResult) -> RunRow:
            if index in notices:
                result.notices.insert(0, notices[index])
            checks = [c.evaluate(result.text) for c in self.scenario.case_checks(prepared.case)]
            return RunRow(prepared.case.id, self.routes[index].group, repeat, warmup, mode,
                          result, checks)

        for index, choice in enumerate(self.routes):
            if choice.target is None:
                yield row(index, NOT_SENT, unsent(parse_route(choice.routes[-1]),
                                                  unready_kind(choice), choice.describe()))
                continue
            count, notice, refused = fit_images(choice.target, images,
                                                self.scenario.too_many_images)
            if refused is not None:
                yield row(index, NOT_SENT, unsent(choice.target, "unsupported_input", refused))
                continue
            if notice is not None:
                notices[index] = notice
            if count not in requests:
                requests[count] = (prepared.request if count == len(images) else
                                   dataclasses.replace(prepared.request, images=images[:count]))
            request = requests[count]
            queue = later if choice.local and not self.options.parallel_local else now
            queue.append((index, request, choice.target))
        # Remote targets all at once (one comparison, each with the request it can
        # take); local ones after, one at a time, unless parallel_local.
        batches = [(CONCURRENT, now)] + [(SEQUENTIAL, [job]) for job in later]
        for mode, jobs in batches:
            if not jobs:
                continue
            async with aclosing(run_together(pool, self.settings, prepared.timeout_s,
                                             jobs)) as finished:
                async for index, result in finished:
                    yield row(index, mode, result)

    def meta(self) -> dict[str, Any]:
        """Everything about this run but its rows: the history's and reports' header."""
        scenario, path = self.scenario, self.scenario.path
        return {
            "scenario": {"id": scenario.id, "title": scenario.title,
                         "description": scenario.description,
                         "file": str(path) if path else None,
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path else None},
            "parameters": {
                "repeats": self.repeats, "warmup": self.warmup, "remote_mode": CONCURRENT,
                "local_mode": self.local_mode, "too_many_images": scenario.too_many_images,
                "cases": {c.id: scenario.case_parameters(c).model_dump() for c in scenario.cases},
            },
            "groups": [choice.public() for choice in self.routes],
            "cases": [{"id": c.id, "title": c.title, "system": c.system, "prompt": c.prompt,
                       "images": list(c.images), "document": c.document,
                       "checks": [spec.evaluate("").name for spec in scenario.case_checks(c)]}
                      for c in scenario.cases],
            "environment": environment(),
        }


def unsent(target: Target, kind: str, message: str) -> TargetResult:
    """The row of a target that was not sent anything (no route, images refused)."""
    return TargetResult(str(target), target.provider, target.model, status="error",
                        error_kind=kind, error=message)


def environment() -> dict[str, Any]:
    """Python, platform and the versions of the libraries that talk to the models."""
    libraries = {}
    for name in LIBRARIES:
        try:
            libraries[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "platform": platform.platform(),
            "libraries": libraries}


async def run_together(pool: ProviderPool, settings: Settings, timeout_s: float,
                       jobs: Sequence[tuple[int, ChatRequest, Target]],
                       ) -> AsyncIterator[tuple[int, TargetResult]]:
    """Stream ``jobs`` (key, request, target) in one Comparison; yield (key, result) as
    each target finishes. Closing this stops them all."""
    comparison = Comparison.of_pairs([(target, request) for _, request, target in jobs], pool,
                                     timeout_s=timeout_s, settings=settings)
    reported: set[int] = set()
    async with aclosing(comparison.updates()) as updates:
        async for index in updates:
            if comparison.results[index].status in TERMINAL and index not in reported:
                reported.add(index)
                yield jobs[index][0], comparison.results[index]
