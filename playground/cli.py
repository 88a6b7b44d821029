"""The headless CLI: ``python -m playground compare|providers ...``.

Commands register themselves in COMMANDS (name -> (add_arguments, handler)) with
``@command``; ``cli_models`` (models) and ``cli_scenarios`` (run, scenarios, history)
add theirs the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import logging
import sys
from collections.abc import Callable, Sequence

from playground.engine import DEFAULT_TIMEOUT_S, Comparison, ProviderPool
from playground.cli_tables import frame_text
from playground.metrics import TargetResult
from playground.results import comparison_document, to_dataframe
from playground.cli_checks import number_argument
from playground.validate import MAX_TOKENS, SEED_MAX, InputError, number_problems, plan, whole
from playground.providers_report import models_report, providers_report, render_providers
from providers.base import ChatRequest
from providers.errors import ProviderError
from providers.images import load_image
from providers.settings import Settings
from playground.logs import install_redaction

Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Handler, str]] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Decorator registering ``handler`` as ``python -m playground NAME``."""
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (add_arguments, handler, help)
        return handler
    return register


def _compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", required=True, help="the user prompt")
    p.add_argument("--system", help="optional system prompt")
    p.add_argument("--image", action="append", default=[], metavar="PATH",
                   help="attach an image (repeat for several)")
    p.add_argument("--target", action="append", default=[], metavar="PROVIDER:MODEL",
                   help="a model to compare (repeat, 1-6 targets)")
    p.add_argument("--max-tokens", type=number_argument, help="maximum tokens to generate "
                   f"(1 to {MAX_TOKENS:,})")
    p.add_argument("--temperature", type=float, help="0 to 2")
    p.add_argument("--top-p", type=float, help="above 0, at most 1")
    p.add_argument("--seed", type=number_argument, help=f"0 to {SEED_MAX:,}")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help="give up on a target that sends nothing for S seconds "
                        f"(default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")


@command("compare", "send one prompt to several targets and measure each answer",
         _compare_arguments)
def compare_command(args: argparse.Namespace) -> int:
    settings = Settings.load()
    try:
        # argparse's float accepts "nan" and "inf": refused here, before anything runs.
        if problems := number_problems(timeout_s=args.timeout, max_tokens=args.max_tokens,
                                       temperature=args.temperature, top_p=args.top_p,
                                       seed=args.seed):
            raise InputError([p.replace("The idle timeout", "--timeout") for p in problems])
        images = tuple(load_image(path) for path in args.image)
        request = ChatRequest(model="", prompt=args.prompt, system=args.system, images=images,
                              max_tokens=whole(args.max_tokens), temperature=args.temperature,
                              top_p=args.top_p, seed=whole(args.seed))
        targets = plan(args.target, request, settings)
    except InputError as exc:
        print("Nothing was sent:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    except ProviderError as exc:
        print(f"Nothing was sent: {exc.message}", file=sys.stderr)
        return 2
    comparison = Comparison(request, targets, ProviderPool(settings), timeout_s=args.timeout)
    try:
        asyncio.run(_run(comparison))
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    print(render(comparison.results, comparison.wall_ms, args.format))
    return 0 if all(r.status == "ok" for r in comparison.results) else 1


async def _run(comparison: Comparison) -> None:
    try:
        async for index in comparison.updates():
            result = comparison.results[index]
            if result.status in ("ok", "error", "stopped") and sys.stderr.isatty():
                print(f"  {result.target}: {result.status}", file=sys.stderr)
    finally:
        await comparison.pool.aclose()


def render(results: Sequence[TargetResult], wall_ms: float | None, fmt: str) -> str:
    """The results in ``table``, ``json`` or ``csv`` form."""
    if fmt == "json":
        return json.dumps(comparison_document(results, wall_ms), ensure_ascii=False)
    if fmt == "csv":
        buffer = io.StringIO()
        to_dataframe(results).to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
        return buffer.getvalue().rstrip("\n")
    return render_table(results, wall_ms)


def render_table(results: Sequence[TargetResult], wall_ms: float | None) -> str:
    """A readable metrics table followed by each answer."""
    frame = to_dataframe(results, with_text=False)
    # error_kind stays: an error row shows its reason (the full message is below).
    frame = frame.drop(columns=["provider", "model"])
    lines = [frame_text(frame), ""]
    if wall_ms is not None:
        lines.append(f"wall time: {wall_ms:.0f} ms (all targets ran concurrently)")
    for r in results:
        lines += ["", f"== {r.target} [{r.status}]"]
        lines += [f"   note: {n}" for n in r.notices]
        if r.error:
            lines.append(f"   error ({r.error_kind}): {r.error}")
        if r.text:
            lines.append(r.text)
    return "\n".join(lines)


def _providers_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--models", action="store_true",
                   help="also list each provider's models: the curated Phi catalog and what "
                        "the service reports (asks every configured service)")


@command("providers", "list providers, whether each is configured, and why not",
         _providers_arguments)
def providers_command(args: argparse.Namespace) -> int:
    settings = Settings.load()
    report = providers_report(settings)
    models = asyncio.run(models_report(settings)) if args.models else None
    if args.format == "json":
        if models is not None:
            for entry in report:
                entry["models"] = models[entry["id"]]
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(render_providers(report))
    for provider_id, entry in (models or {}).items():
        print(f"\n{provider_id}: catalog: {', '.join(entry['catalog']) or '-'}")
        listed = ", ".join(entry["service"]) or "-"
        print(f"  service lists: {listed}" + (f" ({entry['error']})" if entry["error"] else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playground",
                                     description="SLM Playground: compare models side by side.")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log to stderr: -v progress, -vv everything (keys are redacted)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, handler, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Imported here, not at the top: these modules import @command from this one.
    import playground.cli_models  # noqa: F401
    import playground.cli_scenarios  # noqa: F401

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
