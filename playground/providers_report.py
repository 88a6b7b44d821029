"""Which providers are usable with the current settings, and why not."""

from __future__ import annotations

from typing import Any

import providers
from providers.settings import Settings


def providers_report(settings: Settings) -> list[dict[str, Any]]:
    """One entry per provider: id, title, configured, why not, status note, variables.

    Variable values are never included, only whether each is set.
    """
    report = []
    for provider_id, cls in providers.PROVIDERS.items():
        instance = cls(settings)
        missing = instance.missing_settings()
        report.append({
            "id": provider_id,
            "title": cls.title,
            "configured": not missing,
            "why_not": f"set {' and '.join(missing)}" if missing else "",
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
    """A plain-text table of the report."""
    lines = [f"{'provider':<13}{'configured':<12}details"]
    for entry in report:
        details = entry["why_not"] or "ready"
        if entry["note"]:
            details += f" ({entry['note']})"
        mark = "yes" if entry["configured"] else "no"
        lines.append(f"{entry['id']:<13}{mark:<12}{details}")
    return "\n".join(lines)
