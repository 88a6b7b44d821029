"""``python -m playground providers``: which providers are configured, and why not."""

from __future__ import annotations

import argparse
import asyncio
import json

from playground.providers_report import models_report, providers_report, render_providers
from providers.settings import Settings


def providers_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--models", action="store_true",
                   help="also list each provider's models: the curated Phi catalog and what "
                        "the service reports (asks every configured service)")


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
