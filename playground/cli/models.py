"""``python -m playground models list|download``: the local ONNX models."""

from __future__ import annotations

import argparse
import json
import sys

from playground.local_models import DownloadError, download, known_model, local_models
from providers.settings import Settings


def models_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="models_action", required=True)
    listing = sub.add_parser("list", help="known models and which are in ONNX_MODELS_DIR")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    fetch = sub.add_parser("download", help="download a known model into ONNX_MODELS_DIR")
    fetch.add_argument("name", help="a name from `models list`, e.g. phi-3.5-mini")


def models_command(args: argparse.Namespace) -> int:
    settings = Settings.load()
    if args.models_action == "list":
        rows = local_models(settings)
        print(json.dumps(rows, indent=2) if args.format == "json" else render_models(rows))
        return 0
    try:
        known_model(args.name)
    except DownloadError as exc:
        print(exc, file=sys.stderr)
        return 2
    return _download(args.name, settings)


def render_models(rows: list[dict]) -> str:
    """A plain-text table of :func:`local_models` rows plus how to use them."""
    lines = [f"{'name':<20}{'size':>9}  {'vision':<7}{'status':<13}source"]
    for row in rows:
        status = "present" if row["present"] else ("partial" if row["partial"] else "-")
        source = f"{row['repo_id']} / {row['subfolder']}" if row["known"] else row["path"]
        lines.append(f"{row['name']:<20}{row['approx_gb']:>7.2f}GB  "
                     f"{'yes' if row['vision'] else 'no':<7}{status:<13}{source}")
    lines += ["", "Download: python -m playground models download NAME   "
              "(into ONNX_MODELS_DIR, default ./models)",
              "Compare:  python -m playground compare --target onnx:NAME --prompt ..."]
    return "\n".join(lines)


def _download(name: str, settings: Settings) -> int:
    from tqdm.auto import tqdm

    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr)
        bar.update(done - bar.n)

    try:
        path = download(name, settings, progress)
    except DownloadError as exc:
        print(f"\nDownload failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted: nothing looks like a model yet; run the same command to "
              "resume.", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(f"{name} is ready in {path}: use --target onnx:{name}")
    return 0
