"""``python -m playground history``: scenario runs and saved comparisons, one database.

``history`` lists both (runs first); ``history comparisons`` lists saved comparisons
only. ``show ID`` and ``export ID --out FILE`` take a run id (a number: .csv, .json or
.md) or a saved comparison's id (16-32 letters, digits, ``-``, ``_``: .html, .json or
.csv). ``--format json`` on the list prints the runs (as it always did); on
``comparisons``, the comparisons. Exit status 2 on bad input or a database that cannot
be used.
"""

from __future__ import annotations

import argparse
import sys

from playground import saved
from playground.cli import run_history
from playground.cli import saved as comparisons
from playground.cli.checks import DATABASE_ERRORS, database_message
from playground.store import Store, default_db, location

MAX_LIMIT = 500
RUN_ID_DIGITS = 15  # a run id is a row number; a comparison id is 16 to 32 characters


def history_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=("list", "comparisons", "show", "export"),
                   default="list", help="list runs and saved comparisons (default), list "
                   "comparisons only, show ID, or export ID --out FILE")
    p.add_argument("item_id", nargs="?", metavar="ID",
                   help="a run id (a number) or a saved comparison's id, from the list")
    p.add_argument("--out", metavar="FILE", help="export to FILE: a run as .csv, .json or "
                   ".md; a saved comparison as .html, .json or .csv")
    p.add_argument("--limit", type=int, default=30,
                   help=f"entries to list of each kind (1 to {MAX_LIMIT}, default 30)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--db", metavar="PATH_OR_URL", help="history database: a SQLite file or a "
                   "postgresql:// URL (default $PLAYGROUND_DB or ./playground.db)")


def history_command(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        print(f"--limit must be from 1 to {MAX_LIMIT}.", file=sys.stderr)
        return 2
    if args.action in ("list", "comparisons") and args.item_id is not None:
        print(f"history {args.action} takes no ID (did you mean `history show "
              f"{args.item_id}`?)", file=sys.stderr)
        return 2
    if args.action == "comparisons":
        return _list_comparisons(args)
    if args.action == "list":
        args.run_id = None
        status = run_history.history_command(args)
        if status == 0 and args.format == "table":
            status = _list_comparisons(args, heading="\nsaved comparisons:")
        return status
    item = (args.item_id or "").strip()
    if item.isdigit() and len(item) <= RUN_ID_DIGITS:
        args.run_id = int(item)
        return run_history.history_command(args)
    if not item:
        args.run_id = None
        return run_history.history_command(args)  # says what is missing
    try:
        return comparisons.comparison_command(args, saved.checked_id(item))
    except saved.ShareError:
        print(f"{item[:40]!r} is neither a run id (a number) nor a saved comparison's id "
              "(16 to 32 letters, digits, '-' or '_').", file=sys.stderr)
        return 2


def _list_comparisons(args: argparse.Namespace, heading: str = "") -> int:
    try:
        with Store(args.db) as store:
            listing = comparisons.list_comparisons(store, args.limit, args.format)
    except DATABASE_ERRORS as exc:
        message = database_message(location(args.db or default_db()), exc)
        print(message[0].upper() + message[1:], file=sys.stderr)
        return 2
    print(f"{heading}\n{listing}" if heading else listing)
    return 0
