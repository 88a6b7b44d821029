"""``python -m playground compare``: one prompt (or a whole conversation) to several
targets, measured."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import math
import sys
from collections.abc import Sequence

from playground import context_fit
from playground.cli import saved
from playground.cli.checks import DATABASE_ERRORS, database_message, number_argument
from playground.cli.tables import frame_text
from playground.conversation_file import load_conversation
from playground.engine import DEFAULT_TIMEOUT_S, Comparison, ProviderPool
from playground.metrics import TargetResult
from playground.results import comparison_document, to_dataframe
from playground.store import default_db, location
from playground.validate import MAX_TOKENS, SEED_MAX, InputError, number_problems, plan, whole
from providers.base import ChatRequest
from providers.errors import ProviderError
from providers.images import load_image
from providers.settings import Settings


def compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", help="the user prompt (or --conversation)")
    p.add_argument("--conversation", metavar="FILE.json",
                   help="send a conversation: OpenAI-style messages (system, user, assistant; "
                        "images as image_url parts with file paths or data URLs), ending "
                        "with the user message to answer now")
    p.add_argument("--drop-oldest", type=number_argument, metavar="N",
                   help="with --conversation: drop the N oldest question/answer pairs "
                        "(when the history no longer fits a target's context)")
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
    saved.save_arguments(p)


def compare_command(args: argparse.Namespace) -> int:
    settings = Settings.load()
    try:
        # argparse's float accepts "nan" and "inf": refused here, before anything runs.
        if problems := number_problems(timeout_s=args.timeout, max_tokens=args.max_tokens,
                                       temperature=args.temperature, top_p=args.top_p,
                                       seed=args.seed):
            raise InputError([p.replace("The idle timeout", "--timeout") for p in problems])
        request = build_request(args)
        targets = plan(args.target, request, settings)
        if request.history:
            fits = asyncio.run(context_fit.check_all([(t, request) for t in targets], settings))
            if problems := context_fit.overflow_problems(fits):
                raise InputError([*problems, drop_hint(fits)])
        if args.db and not args.save:
            raise InputError(["--db is for --save."])
    except InputError as exc:
        print("Nothing was sent:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    except ProviderError as exc:
        print(f"Nothing was sent: {exc.message}", file=sys.stderr)
        return 2
    try:  # checked before sending: a run is never lost to a database that cannot be used
        store = saved.open_for_saving(args, settings)
    except DATABASE_ERRORS as exc:
        print(f"Nothing was sent: {database_message(location(args.db or default_db()), exc)}",
              file=sys.stderr)
        return 2
    comparison = Comparison(request, targets, ProviderPool(settings), timeout_s=args.timeout)
    try:
        asyncio.run(_run(comparison))
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
    saved_id = store and saved.save_run(store, request, comparison.results, settings)
    print(render(comparison.results, comparison.wall_ms, args.format, saved_id))
    if store and not saved_id:
        return 2
    return 0 if all(r.status == "ok" for r in comparison.results) else 1


def build_request(args: argparse.Namespace) -> ChatRequest:
    """The request from ``--prompt`` or ``--conversation`` and the sampling options;
    InputError when they do not go together."""
    options = {"max_tokens": whole(args.max_tokens), "temperature": args.temperature,
               "top_p": args.top_p, "seed": whole(args.seed)}
    if (args.prompt is None) == (args.conversation is None):
        raise InputError(["Give either --prompt or --conversation FILE.json (one of them)."])
    if args.prompt is not None:
        if args.drop_oldest is not None:
            raise InputError(["--drop-oldest applies to --conversation only."])
        images = tuple(load_image(path) for path in args.image)
        return ChatRequest(model="", prompt=args.prompt, system=args.system, images=images,
                           **options)
    if args.image or args.system is not None:
        raise InputError(["With --conversation, put the system prompt and the images in the "
                          "file's messages (not --system / --image)."])
    request = load_conversation(args.conversation).request(**options)
    pairs = len(request.history) // 2
    if args.drop_oldest is not None:
        drop = args.drop_oldest
        if not (math.isfinite(drop) and drop == int(drop) and 0 <= drop <= pairs):
            raise InputError([f"--drop-oldest must be a whole number from 0 to {pairs} (the "
                              "question/answer pairs before the last message)."])
        request = context_fit.drop_oldest(request, int(drop))
    return request


def drop_hint(fits: Sequence[context_fit.ContextFit]) -> str:
    """What to run so that every target's conversation fits (or that none can)."""
    if any(not fit.fits_after_drop for fit in fits):
        return "Shorten the last message (or send fewer images, or lower --max-tokens)."
    most = max(fit.drop_pairs for fit in fits)
    return f"Run again with --drop-oldest {most} to drop the oldest turns (nothing is cut unasked)."


async def _run(comparison: Comparison) -> None:
    try:
        async for index in comparison.updates():
            result = comparison.results[index]
            if result.status in ("ok", "error", "stopped") and sys.stderr.isatty():
                print(f"  {result.target}: {result.status}", file=sys.stderr)
    finally:
        await comparison.pool.aclose()


def render(results: Sequence[TargetResult], wall_ms: float | None, fmt: str,
           saved_id: str | None = None) -> str:
    """The results in ``table``, ``json`` or ``csv`` form (JSON: with ``comparison_id``
    when saved)."""
    if fmt == "json":
        document = comparison_document(results, wall_ms)
        if saved_id:
            document["comparison_id"] = saved_id
        return json.dumps(document, ensure_ascii=False)
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
