"""CLI commands for scenario packs: ``run`` and ``scenarios`` (the runs half of
``history`` is ``playground.cli.run_history``).

``run`` exit status: 0 every row ok, 1 some target failed (or, with ``--fail-on-checks``,
some check failed), 2 nothing was sent (bad scenario file, bad --target, bad input).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from playground.cli.checks import (
    DATABASE_ERRORS,
    database_message,
    find_scenario,
    out_problems,
    run_count_problems,
)
from playground.cli.tables import frame_text
from playground.engine import ProviderPool
from playground.scenarios.files import ScenarioFileError, load_all, load_scenario, scenario_files
from playground.scenarios.model import SCENARIOS_DIR, Scenario
from playground.scenarios.prepared import prepare_cases
from playground.scenarios.reports import export, rows_frame, run_document, summarize
from playground.scenarios.routing import resolve_routes
from playground.scenarios.runner import RunOptions, RunRow, ScenarioRun
from playground.store import Store, default_db, location
from playground.validate import InputError
from providers.settings import Settings


def parse_overrides(specs: Sequence[str]) -> dict[str, list[str]]:
    """``GROUP=PROVIDER:MODEL`` (repeatable; several for one group are tried in order)."""
    overrides: dict[str, list[str]] = {}
    for spec in specs:
        group, sep, route = spec.partition("=")
        if not sep or not group.strip() or not route.strip():
            raise InputError([f"--target {spec!r} is not GROUP=PROVIDER:MODEL "
                              "(e.g. --target 'Phi-3.5 mini=ollama:phi3.5')"])
        overrides.setdefault(group.strip(), []).append(route.strip())
    return overrides


class ProgressBar:
    """A tqdm bar on stderr, the last row beside it; one line per row when not a TTY."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.bar = tqdm(total=total, file=self.stream, unit="answer", dynamic_ncols=True,
                        disable=not self.stream.isatty())

    def advance(self, row: RunRow) -> None:
        self.done += 1
        r = row.result
        what = f"{row.case} / {row.group}{' (warm-up)' if row.warmup else ''}: {r.status}"
        if r.total_ms is not None:
            what += f", {r.total_ms:.0f} ms"
        if self.bar.disable:
            self.stream.write(f"[{self.done}/{self.total}] {what}\n")
            self.stream.flush()
        else:
            self.bar.set_postfix_str(what, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="a scenario file, or the id of a pack in scenarios/")
    p.add_argument("--target", action="append", default=[], metavar="GROUP=PROVIDER:MODEL",
                   help="use this route for GROUP instead of the file's routes (repeatable)")
    p.add_argument("--repeat", type=int, metavar="N", help="measured runs per case and group")
    p.add_argument("--warmup", type=int, metavar="N",
                   help="unmeasured warm-up runs per group before the first case")
    p.add_argument("--parallel-local", action="store_true",
                   help="run local targets (ollama, onnx, transformers) concurrently too")
    p.add_argument("--out", metavar="FILE", help="also write the run to FILE (.csv, .json or .md)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--db", metavar="PATH_OR_URL", help="history database: a SQLite file or a "
                   "postgresql:// URL (default $PLAYGROUND_DB or ./playground.db)")
    p.add_argument("--fail-on-checks", action="store_true",
                   help="exit 1 when a check fails, not only when a target fails")


def run_command(args: argparse.Namespace) -> int:
    settings = Settings.load()
    try:
        if problems := run_count_problems(args.repeat, args.warmup) + out_problems(args.out):
            raise InputError(problems)
        scenario = load_scenario(find_scenario(args.scenario))
        options = RunOptions(args.repeat, args.warmup, parse_overrides(args.target),
                             args.parallel_local)
        run = ScenarioRun(scenario, settings, options)
        asyncio.run(run.resolve())  # refused here when no group can run: no database touched
    except ScenarioFileError as exc:
        print("Nothing was sent:\n  " + "\n  ".join(map(str, exc.problems)), file=sys.stderr)
        return 2
    except InputError as exc:
        print("Nothing was sent:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    try:
        run.store = store = Store(args.db, settings.secret_values())
        store.check_writable()
    except DATABASE_ERRORS as exc:
        print(f"Nothing was sent: {database_message(location(args.db or default_db()), exc)}",
              file=sys.stderr)
        return 2
    try:
        asyncio.run(_drive(run, ProgressBar(run.total)))
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    except SQLAlchemyError as exc:  # the database changed under the run (disk full, read-only)
        print(f"The run stopped: {database_message(store.location, exc)}", file=sys.stderr)
        return 2
    finally:
        store.close()
    meta = run.meta()
    document = run_document(meta, run.rows, run_id=run.run_id, status=run.status,
                            wall_ms=run.wall_ms)
    if args.out:
        try:
            export(args.out, meta, run.rows, run_id=run.run_id, status=run.status,
                   wall_ms=run.wall_ms)
        except OSError as exc:  # checked before the run; the disk can still fill up
            print(f"--out {args.out} could not be written ({exc.strerror}); the run is "
                  f"saved as run {run.run_id} in {store.location}.", file=sys.stderr)
            return 2
    print(json.dumps(document, ensure_ascii=False) if args.format == "json"
          else render_run(run.rows, [c.public() for c in run.routes]))
    print(f"Saved as run {run.run_id} in {store.location}"
          + (f" and {args.out}" if args.out else "") + ".", file=sys.stderr)
    failed = run.status != "done" or any(r.result.status != "ok" for r in run.rows)
    checks_failed = any(not c.passed for r in run.rows if not r.warmup for c in r.checks)
    return 1 if failed or (args.fail_on_checks and checks_failed) else 0


async def _drive(run: ScenarioRun, progress: ProgressBar) -> None:
    try:
        async with aclosing(run.updates()) as rows:
            async for row in rows:
                progress.advance(row)
    finally:
        progress.close()


def render_run(rows: Sequence[RunRow], groups: Sequence[dict[str, Any]] | None) -> str:
    """Routes, the comparison table, every row, then notes, errors and first answers."""
    lines = ["routes:"] + [f"  {g['group']}: {g['route'] or 'none'}"
                           + (f"  (skipped: {'; '.join(g['skipped'])})" if g["skipped"] else "")
                           for g in groups or []]
    summary = pd.DataFrame(summarize(rows))
    if not summary.empty:
        summary["checks"] = summary["checks_passed"].astype(str) + "/" + summary["checks_total"].astype(str)
        columns = ["case", "group", "n", "errors", "ttft_ms_median", "ttft_ms_p90", "total_ms_median",
                   "total_ms_p90", "decode_tokens_per_s_median", "tokens_source", "checks"]
        lines += ["", "median / p90 over measured runs (warm-up excluded):",
                  frame_text(summary[columns])]
    frame = rows_frame(rows)
    if not frame.empty:
        columns = ["case", "turn", "group", "repeat", "warmup", "mode", "target", "status", "error_kind",
                   "ttft_ms", "total_ms", "decode_tokens_per_s", "checks_passed", "checks_total"]
        lines += ["", frame_text(frame[columns])]
    for row in rows:
        first = not row.warmup and row.repeat == 1
        failed_checks = [] if row.warmup else [c for c in row.checks if not c.passed]
        if not (first or row.result.error or failed_checks):
            continue
        lines += ["", f"== {row.case} / {row.group} #{row.repeat}"
                  f"{' (warm-up)' if row.warmup else ''} [{row.result.status}] {row.result.target}"]
        lines += [f"   note: {n}" for n in row.result.notices]
        if row.result.error:
            lines.append(f"   error ({row.result.error_kind}): {row.result.error}")
        lines += [f"   check FAILED: {c.name}: {c.detail}" for c in failed_checks]
        if first and row.result.text:
            lines.append(row.result.text)
    return "\n".join(lines)


def scenarios_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", help="scenario files (default: every pack in scenarios/)")
    p.add_argument("--check", action="store_true", help="validate every file; exit 1 on any error")
    p.add_argument("--format", choices=("table", "json"), default="table")


def scenarios_command(args: argparse.Namespace) -> int:
    paths = [Path(f) for f in args.files] or scenario_files(SCENARIOS_DIR)
    loaded, problems = load_all(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check:
        failed = bool(problems)
        for scenario in loaded:
            try:  # what `run` checks before sending: each question, each conversation
                prepare_cases(scenario)
            except InputError as exc:
                failed = True
                print("\n".join(f"{scenario.path}: {p}" for p in exc.problems), file=sys.stderr)
                continue
            print(f"ok  {scenario.path}  ({scenario.id})")
        return 1 if failed else 0
    if args.format == "json":
        print(json.dumps([pack_entry(s) for s in loaded], ensure_ascii=False, indent=2))
    else:
        print(asyncio.run(_describe_packs(loaded, Settings.load())))
    return 1 if problems else 0


def pack_entry(scenario: Scenario) -> dict[str, Any]:
    """The ``scenarios --format json`` entry of one pack."""
    return {"id": scenario.id, "file": str(scenario.path), "title": scenario.title,
            "description": scenario.description, "groups": [g.name for g in scenario.groups],
            "cases": len(scenario.cases)}


async def _describe_packs(packs: Sequence[Scenario], settings: Settings) -> str:
    pool = ProviderPool(settings)
    lines = []
    try:
        for scenario in packs:
            choices = await resolve_routes(scenario, pool)
            runnable = sum(choice.target is not None for choice in choices)
            state = ("ready" if runnable == len(choices) else "cannot run here" if not runnable
                     else f"{runnable} of {len(choices)} groups can run")
            lines += ["", f"{scenario.id}: {scenario.title} [{state}]",
                      f"  {len(scenario.cases)} case(s), {scenario.repeats} repeat(s), "
                      f"{scenario.warmup} warm-up; {scenario.path}"]
            lines += [f"  {'-' if i == 0 else ' '} {line}" for choice in choices
                      for i, line in enumerate(choice.readiness_lines())]
    finally:
        await pool.aclose()
    return "\n".join(lines).lstrip("\n")
