"""Checks the CLI makes before a run, and the failures it reports as a message with
exit status 2 instead of a traceback: output paths, the history database, numbers."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from playground.scenarios.model import SCENARIOS_DIR
from playground.scenarios.reports import REPORT_FORMATS
from playground.validate import number_problems

# What a history database that cannot be used raises: SQLAlchemy's errors for a corrupt,
# truncated or unopenable file (a folder) or an unreachable server, RuntimeError for a newer
# schema (Store), ValueError and IndexError for rows whose JSON or columns are not what this
# version wrote, or a PLAYGROUND_DB that is neither a path nor a postgresql:// URL.
DATABASE_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError, RuntimeError, ValueError,
                   IndexError)


def find_scenario(name: str) -> Path:
    """A path as given, else ``scenarios/NAME.yaml`` (so ``run chinese-qa`` works)."""
    path = Path(name)
    try:
        if path.is_file() or path.suffix in (".yaml", ".yml"):
            return path
    except OSError:  # unreadable or too long: load_scenario says "cannot read the file"
        return path
    return SCENARIOS_DIR / f"{name}.yaml"


def out_problems(out: str | None, flag: str = "--out") -> list[str]:
    """Why ``out`` cannot be written (checked before a run, so a long run is never
    lost to a typo in the path); [] when it can, or when no path is given."""
    if not out:
        return []
    path = Path(out)
    if path.suffix not in REPORT_FORMATS:
        return [f"{flag} {out}: choose a file ending in {', '.join(REPORT_FORMATS)}"]
    folder = path.parent
    try:
        if path.is_dir():
            return [f"{flag} {out} is a folder: name a file in it."]
        if not folder.is_dir():
            return [f"{flag} {out}: the folder {folder} does not exist."]
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            return [f"{flag} {out}: no permission to write there."]
    except OSError as exc:  # a name too long, a folder that cannot be searched...
        return [f"{flag} {out}: cannot be used ({exc.strerror or type(exc).__name__})."]
    return []


def run_count_problems(repeat: int | None, warmup: int | None) -> list[str]:
    """``--repeat`` and ``--warmup`` within a scenario file's own ranges."""
    problems = number_problems(repeats=repeat, warmup=warmup)
    return [p.replace("Repeats", "--repeat").replace("Warm-up runs", "--warmup")
            for p in problems]


def database_message(path: object, exc: BaseException) -> str:
    """One line saying why the history database cannot be used (starts lower-case)."""
    # A driver's own words, without SQLAlchemy's statement and link (never a password: the
    # drivers do not put one in their messages, and ``path`` is shown without it).
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = " ".join(str(cause).split()).rstrip(".") or type(cause).__name__
    return f"the history database {path} cannot be used: {reason}."


def number_argument(text: str) -> int | float:
    """argparse type for a number that is range-checked later: ``1e20`` is read (and
    then refused with the allowed range) rather than rejected as "invalid int"."""
    try:
        return int(text)
    except ValueError:
        return float(text)
