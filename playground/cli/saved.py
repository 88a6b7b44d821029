"""Saved comparisons on the command line: ``compare --save`` and the comparisons half
of ``history`` (list, show, export to .html, .json or .csv).

The CLI saves as nobody's (owner None), like the web page on your own machine, so
``history`` lists what either saved; comparisons saved by visitors of a public server
are listed to their browser only, and open here by id.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from playground import comparison_doc as doc
from playground import saved
from playground.cli.checks import DATABASE_ERRORS, database_message, out_problems
from playground.cli.tables import frame_text
from playground.html_export import render_html
from playground.metrics import TargetResult
from playground.saved import ShareError
from playground.store import Store, default_db, location
from providers.settings import Settings

EXPORT_FORMATS = (".html", ".json", ".csv")


def save_arguments(p: argparse.ArgumentParser) -> None:
    """``--save`` and ``--db`` for ``compare``."""
    p.add_argument("--save", action="store_true",
                   help="keep the comparison (every turn, answers, metrics, parameters; "
                        "never keys) and print its id; see `history`")
    p.add_argument("--db", metavar="PATH_OR_URL", help="with --save: the database, a SQLite "
                   "file or a postgresql:// URL (default $PLAYGROUND_DB or ./playground.db)")


def open_for_saving(args: argparse.Namespace, settings: Settings) -> Store | None:
    """The store ``--save`` writes to, checked writable before anything is sent (None
    without ``--save``); raises one of DATABASE_ERRORS when it cannot be used."""
    if not args.save:
        return None
    store = Store(args.db, settings.secret_values())
    try:
        store.check_writable()
    except BaseException:
        store.close()
        raise
    return store


def save_run(store: Store, request: Any, results: Sequence[TargetResult],
             settings: Settings) -> str | None:
    """Save the comparison; print ``Saved as comparison ID in DB.`` (stderr) and return
    the id, or print why not and return None."""
    try:
        comparison_id = saved.save(store, doc.from_record(request, results), None,
                                   settings.secret_values())
    except ShareError as exc:
        print(f"Not saved: {exc.message}", file=sys.stderr)
        return None
    except DATABASE_ERRORS as exc:
        print(f"Not saved: {database_message(store.location, exc)}", file=sys.stderr)
        return None
    finally:
        store.close()
    print(f"Saved as comparison {comparison_id} in {store.location} "
          f"(python -m playground history show {comparison_id}).", file=sys.stderr)
    return comparison_id


def render_comparisons(entries: Sequence[dict[str, Any]]) -> str:
    """The saved comparisons as a table (newest first)."""
    if not entries:
        return "No saved comparisons yet: try `python -m playground compare ... --save`."
    frame = pd.DataFrame(entries)
    frame["targets"] = frame["targets"].map(", ".join)
    return frame_text(frame[["id", "saved_at", "turns", "targets", "title"]])


def list_comparisons(store: Store, limit: int, fmt: str) -> str:
    entries = saved.history(store, None, limit)
    return json.dumps(entries, ensure_ascii=False, indent=2) if fmt == "json" \
        else render_comparisons(entries)


def turns_frame(document: Any) -> pd.DataFrame:
    """One row per pane per turn: the metrics, then the question and the answer."""
    rows = doc.metric_rows(document)
    texts = [(t.user, t.answer) for p in doc.panes(document) for t in p.turns]
    for row, (user, answer) in zip(rows, texts):
        row["user"], row["answer"] = user, answer
    return pd.DataFrame(rows)


def show_text(document: Any) -> str:
    """The comparison as text: its metrics table, then each pane's turns."""
    lines = [doc.title(document), "", frame_text(turns_frame(document).drop(
        columns=["user", "answer", "error"]))]
    for pane in doc.panes(document):
        for turn in pane.turns:
            lines += ["", f"== {pane.target} · turn {turn.number} [{turn.status}]",
                      f"   user: {turn.user}"]
            lines += [f"   note: {n}" for n in turn.notices]
            if turn.error:
                lines.append(f"   error: {turn.error}")
            if turn.answer:
                lines.append(turn.answer)
    return "\n".join(lines)


def write_export(document: dict[str, Any], out: Path) -> None:
    """``document`` as ``out``'s kind: .html (self-contained page), .json (the saved
    document), .csv (one row per pane per turn)."""
    if out.suffix == ".html":
        out.write_text(render_html(document), encoding="utf-8")
    elif out.suffix == ".json":
        out.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        turns_frame(document).to_csv(out, index=False)


def comparison_command(args: argparse.Namespace, comparison_id: str) -> int:
    """``history show ID`` / ``history export ID --out FILE`` for a saved comparison."""
    if args.action == "export":
        if problems := (["history export needs --out FILE"] if not args.out else
                        out_problems(args.out, formats=EXPORT_FORMATS)):
            print("\n".join(problems), file=sys.stderr)
            return 2
    try:
        with Store(args.db) as store:
            _, document = saved.load(store, comparison_id)
    except ShareError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    except DATABASE_ERRORS as exc:
        message = database_message(location(args.db or default_db()), exc)
        print(message[0].upper() + message[1:], file=sys.stderr)
        return 2
    if args.action == "show":
        print(show_text(document))
        return 0
    try:
        write_export(document, Path(args.out))
    except OSError as exc:
        print(f"--out {args.out} could not be written ({exc.strerror or exc}).",
              file=sys.stderr)
        return 2
    print(f"Comparison {comparison_id} written to {args.out}.", file=sys.stderr)
    return 0
