"""The scenario-runs half of ``python -m playground history`` (its arguments and the
dispatch between runs and saved comparisons: ``playground.cli.history``): list runs,
show one as Markdown, export one to .csv, .json or .md.

Its own module so that ``history`` imports no engine, runner or progress bar.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from playground.cli.checks import DATABASE_ERRORS, database_message, out_problems
from playground.cli.tables import frame_text
from playground.scenarios.reports import export, markdown
from playground.store import Store, default_db, location


def history_command(args: argparse.Namespace) -> int:
    if args.action == "export" and (problems := out_problems(args.out)):
        print("\n".join(problems), file=sys.stderr)
        return 2
    try:
        return _history(args)
    except DATABASE_ERRORS as exc:
        message = database_message(location(args.db or default_db()), exc)
        print(message[0].upper() + message[1:], file=sys.stderr)
        return 2


def _history(args: argparse.Namespace) -> int:
    store = Store(args.db)
    try:
        if args.action == "list":
            runs = store.runs(args.limit)
            print(json.dumps(runs, ensure_ascii=False, indent=2) if args.format == "json"
                  else render_history(runs))
            return 0
        if args.run_id is None or (args.action == "export" and not args.out):
            print(f"history {args.action} needs a RUN_ID"
                  + (" and --out FILE" if args.action == "export" else ""), file=sys.stderr)
            return 2
        try:
            run = store.load_run(args.run_id)
        except KeyError:
            print(f"There is no run {args.run_id} in {store.location}.", file=sys.stderr)
            return 2
        if args.action == "show":
            print(markdown(run.meta, run.rows, run_id=run.id, status=run.status))
            return 0
        try:
            export(args.out, run.meta, run.rows, run_id=run.id, status=run.status,
                   wall_ms=run.wall_ms)
        except (ValueError, OSError) as exc:  # not the database's fault: say so apart
            print(f"--out {args.out} could not be written ({exc}).", file=sys.stderr)
            return 2
        print(f"Run {run.id} written to {args.out}.", file=sys.stderr)
        return 0
    finally:
        store.close()


def render_history(runs: Sequence[dict[str, Any]]) -> str:
    if not runs:
        return "No runs yet: try `python -m playground run chinese-qa`."
    frame = pd.DataFrame(runs)
    # A run still marked running was either still going or its process was killed.
    frame["status"] = frame["status"].replace("running", "unfinished")
    columns = ["id", "scenario_id", "started_at", "status", "rows", "failed", "title"]
    return frame_text(frame[columns])
