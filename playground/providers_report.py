"""Which providers are usable with the current settings, and why not."""

from __future__ import annotations

import asyncio
from typing import Any

import providers
from providers.readiness import Readiness, provider_readiness
from providers.settings import Settings


def providers_report(settings: Settings) -> list[dict[str, Any]]:
    """One entry per provider: id, title, configured (variables and packages present),
    why not, readiness (``ready``, ``state``, ``message``, ``fix``: see
    :mod:`providers.readiness`; a local server is probed), status note, variables.

    Variable values are never included, only whether each is set.
    """
    report = []
    for provider_id, cls in providers.PROVIDERS.items():
        found = provider_readiness(provider_id, settings)
        report.append({
            "id": provider_id,
            "title": cls.title,
            "configured": found.configured,
            "why_not": "" if found.configured else found.describe(),
            "ready": found.ready,
            "state": found.state,
            "message": found.message,
            "fix": found.fix,
            "note": cls.status_note,
            "local": cls.local,
            "variables": [
                {"name": v.name, "set": settings.get(v.name) is not None,
                 "default": None if v.secret else v.default, "required": v.required,
                 "help": v.help}
                for v in cls.env
            ],
        })
    return report


def render_providers(report: list[dict[str, Any]]) -> str:
    """A plain-text table of the report: each provider's state and what makes it ready."""
    lines = [f"{'provider':<14}{'status':<16}details"]
    for entry in report:
        found = Readiness(entry["id"], entry["state"], entry["message"], entry["fix"])
        details = found.describe()
        if entry["note"] and entry["state"] != "retired":  # its message says it already
            details += f" ({entry['note']})"
        lines.append(f"{entry['id']:<14}{entry['state'].replace('_', ' '):<16}{details}")
    return "\n".join(lines)


async def models_report(settings: Settings) -> dict[str, dict[str, Any]]:
    """For each configured provider: the curated Phi entries and what the service lists
    (or why it could not list). Providers are closed afterwards."""
    from providers.catalog import catalog_entries
    from providers.errors import ProviderError

    report: dict[str, dict[str, Any]] = {}
    for provider_id, cls in providers.PROVIDERS.items():
        entry: dict[str, Any] = {"catalog": [m.id for m in catalog_entries(provider_id)],
                                 "service": [], "error": None}
        found = await asyncio.to_thread(provider_readiness, provider_id, settings)
        if not found.configured:
            entry["error"] = f"not configured: {found.describe()}"
        else:
            instance = cls(settings)
            try:
                entry["service"] = [m.id for m in await instance.list_models()]
            except ProviderError as exc:
                entry["error"] = exc.message
            finally:
                await instance.aclose()
        report[provider_id] = entry
    return report
