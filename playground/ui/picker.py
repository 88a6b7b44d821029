"""Data for the target picker: providers (configured or not, and why not) and each
provider's models, merged from what the service lists and the curated Phi catalog."""

from __future__ import annotations

import asyncio

import providers
from playground.providers_report import providers_report
from playground.ui import readiness_view
from providers.base import ModelEntry
from providers.catalog import catalog_entries
from providers.errors import ProviderError, redact
from providers.readiness import provider_readiness
from providers.settings import Settings

LIST_TIMEOUT_S = 5.0


def provider_options(settings: Settings) -> list[tuple[str, str]]:
    """(label, provider id) for the provider dropdown, each saying whether it can run
    now (``providers.readiness``; GitHub Models last, as retired)."""
    return readiness_view.provider_options(settings)


def providers_markdown(settings: Settings) -> str:
    """A Markdown table of every provider, whether it can run now and what would make it
    runnable, and the variables it reads (names only, never values)."""
    lines = ["| provider | can run now? | variables |", "|---|---|---|"]
    for e in providers_report(settings):
        names = ", ".join(f"`{v['name']}`{' ✓' if v['set'] else ''}" for v in e["variables"])
        state = readiness_view.provider_note(e["id"], settings)
        lines.append(f"| **{e['id']}** {e['title']} | {state} | {names or '—'} |")
    lines.append("\n✓ = set (server environment, `.env`, or this session's settings).")
    return "\n".join(lines)


async def listed_models(provider_id: str, settings: Settings,
                        timeout_s: float = LIST_TIMEOUT_S) -> tuple[list[ModelEntry], str]:
    """What the service says it serves, and a note when it could not say (not
    configured, unreachable, or no list on this route)."""
    provider = providers.create(provider_id, settings)
    # Off the event loop: the check may probe a local server (briefly, and cached).
    found = await asyncio.to_thread(provider_readiness, provider_id, settings)
    if not found.configured:
        return [], f"{provider.title} is not configured ({found.describe()}); " \
                   "showing the Phi catalog."
    try:
        async with asyncio.timeout(timeout_s):
            entries = await provider.list_models()
    except TimeoutError:
        return [], f"{provider.title} did not list its models within {timeout_s:g} s."
    except ProviderError as exc:
        return [], f"Could not list {provider.title}'s models: " \
                   f"{redact(exc.message, settings.secret_values())}"
    finally:
        await provider.aclose()
    return entries, "" if entries else f"{provider.title} lists no models here."


def merge_models(provider_id: str, listed: list[ModelEntry]) -> list[tuple[str, str]]:
    """(label, model id): catalog models first (marked when the service lists them),
    then models only the service knows."""
    listed_ids = {e.id.lower().removesuffix(":latest") for e in listed}
    # A local service's list is complete: a catalog model it lacks is not installed.
    absent = " · not installed here" if providers.PROVIDERS[provider_id].local and listed \
        else ""
    options = []
    for entry in catalog_entries(provider_id):
        mark = " · available" if entry.id.lower() in listed_ids else absent
        vision = " · vision" if entry.vision else ""
        options.append((f"{entry.id} — {entry.family}{vision}{mark}", entry.id))
    known = {model_id.lower() for _, model_id in options}
    for entry in listed:
        if entry.id.lower().removesuffix(":latest") not in known:
            family = f" — {entry.family}" if entry.family else ""
            where = "present locally" if entry.source == "local" else "listed by the service"
            options.append((f"{entry.id}{family} · {where}", entry.id))
    return options


async def model_options(provider_id: str, settings: Settings,
                        timeout_s: float = LIST_TIMEOUT_S) -> tuple[list[tuple[str, str]], str]:
    """The model dropdown's choices for ``provider_id`` and a note on where they came
    from."""
    if provider_id not in providers.PROVIDERS:
        return [], ""
    listed, note = await listed_models(provider_id, settings, timeout_s)
    return merge_models(provider_id, listed), note
