"""``python -m playground compare``: one prompt to several targets, measured."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from collections.abc import Sequence

from playground.cli.checks import number_argument
from playground.cli.tables import frame_text
from playground.engine import DEFAULT_TIMEOUT_S, Comparison, ProviderPool
from playground.metrics import TargetResult
from playground.results import comparison_document, to_dataframe
from playground.validate import MAX_TOKENS, SEED_MAX, InputError, number_problems, plan, whole
from providers.base import ChatRequest
from providers.errors import ProviderError
from providers.images import load_image
from providers.settings import Settings


def compare_arguments(p: argparse.ArgumentParser) -> None:
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
