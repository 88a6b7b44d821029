"""The headless CLI: ``python -m playground COMMAND ...``.

Every command is wired here, in :data:`COMMANDS`, as an argparse sub-parser; each lives
in a module of this package (``compare``, ``providers``, ``models``, ``scenarios`` for
run/scenarios/history) that never imports this one, so there is no import cycle.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from playground.cli import compare, models, providers, scenarios
from playground.logs import install_redaction
from providers.settings import Settings

Handler = Callable[[argparse.Namespace], int]
# name, help, add_arguments(parser), handler(args) -> exit status; in `--help` order.
COMMANDS: tuple[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler], ...] = (
    ("compare", compare.HELP, compare.add_arguments, compare.handle),
    ("providers", providers.HELP, providers.add_arguments, providers.handle),
    ("models", models.HELP, models.add_arguments, models.handle),
    ("run", scenarios.RUN_HELP, scenarios.run_arguments, scenarios.run_command),
    ("scenarios", scenarios.SCENARIOS_HELP, scenarios.scenarios_arguments,
     scenarios.scenarios_command),
    ("history", scenarios.HISTORY_HELP, scenarios.history_arguments, scenarios.history_command),
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options and one sub-parser per command."""
    parser = argparse.ArgumentParser(prog="python -m playground",
                                     description="SLM Playground: compare models side by side.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr: -v progress, -vv everything (keys are redacted)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text, add_arguments, handler in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit status."""
    args = build_parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    install_redaction(Settings.load())
    if not args.verbose:
        # azure-core warns "Incomplete download." on every cut-off stream: the table
        # already says so.
        logging.getLogger("azure").setLevel(logging.ERROR)
    return args.handler(args)
