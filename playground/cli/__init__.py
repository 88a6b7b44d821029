"""The headless CLI: ``python -m playground COMMAND ...``.

Every command is wired here, in :data:`COMMANDS`, as an argparse sub-parser whose
arguments and handler live in a module of this package (``compare``, ``providers``,
``models``, ``scenarios`` for run/scenarios, ``history``). Only the module of the command
being run is imported (``--help`` imports none: it starts in a fraction of a second),
and no command module imports this one, so there is no import cycle.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """``python -m playground NAME``: its help line and where it lives. The module
    defines ``<prefix>_arguments(parser)`` and ``<prefix>_command(args) -> exit status``."""

    name: str
    help: str
    module: str
    prefix: str


COMMANDS = (  # in `--help` order
    Command("compare", "send one prompt to several targets and measure each answer",
            "playground.cli.compare", "compare"),
    Command("providers", "list providers, whether each is configured, and why not",
            "playground.cli.providers", "providers"),
    Command("models", "list and download local ONNX models (CPU int4 Phi)",
            "playground.cli.models", "models"),
    Command("run", "run a scenario pack: every case on every group, with repeats and checks",
            "playground.cli.scenarios", "run"),
    Command("scenarios", "list the scenario packs and which groups have a route that can run",
            "playground.cli.scenarios", "scenarios"),
    Command("history", "list past scenario runs and saved comparisons; show or export one",
            "playground.cli.history", "history"),
)


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (the first word that is not an option: the global
    options take no value), or None (``--help``, or none given)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if any(c.name == first for c in COMMANDS) else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line: global options and one sub-parser per command, with the
    arguments of ``command`` (every command's when None: importing them all)."""
    parser = argparse.ArgumentParser(prog="python -m playground",
                                     description="SLM Playground: compare models side by side.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr: -v progress, -vv everything (keys are redacted)")
    sub = parser.add_subparsers(dest="command", required=True)
    for entry in COMMANDS:
        p = sub.add_parser(entry.name, help=entry.help, description=entry.help)
        if command in (None, entry.name):
            module = importlib.import_module(entry.module)
            getattr(module, f"{entry.prefix}_arguments")(p)
            p.set_defaults(handler=getattr(module, f"{entry.prefix}_command"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = chosen_command(argv)
    # No command named: --help or a usage error, which need no command's module.
    args = build_parser(command or "").parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    from playground.logs import install_redaction
    from providers.settings import Settings

    install_redaction(Settings.load())
    if not args.verbose:
        # azure-core warns "Incomplete download." on every cut-off stream: the table
        # already says so.
        logging.getLogger("azure").setLevel(logging.ERROR)
    return args.handler(args)
