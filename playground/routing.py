"""Which route each group of a scenario uses, and which images each target can take.

A group lists ordered routes; the first that can run is used: its provider is
registered and configured, and, for a local provider (``Provider.local``) that is not
the group's last route, the provider lists the model. The last route is used whenever
its provider is configured, so that its own error (e.g. "start ollama serve") reaches
the table rather than a generic "nothing configured".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import providers
from playground.engine import ProviderPool
from playground.scenarios import Scenario, parse_route
from playground.validate import image_problem
from providers import Target
from providers.base import ImageInput
from providers.catalog import lookup
from providers.errors import ConfigError, ProviderError

PROBE_TIMEOUT_S = 5.0


@dataclass
class RouteChoice:
    """Which route a group uses, and why the earlier ones were skipped."""

    group: str
    routes: tuple[str, ...]
    target: Target | None = None
    position: int | None = None  # 1-based index of the chosen route
    skipped: list[str] = field(default_factory=list)
    overridden: bool = False

    @property
    def local(self) -> bool:
        cls = providers.PROVIDERS.get(self.target.provider) if self.target else None
        return bool(cls and cls.local)

    def describe(self) -> str:
        """``nim:... (route 2 of 4)`` or why nothing can run."""
        if self.target is None:
            return "no route can run: " + "; ".join(self.skipped)
        where = "--target" if self.overridden else f"route {self.position} of {len(self.routes)}"
        return f"{self.target} ({where})"

    def public(self) -> dict[str, Any]:
        return {"group": self.group, "route": str(self.target) if self.target else None,
                "provider": self.target.provider if self.target else None,
                "model": self.target.model if self.target else None,
                "position": self.position, "routes": list(self.routes),
                "skipped": list(self.skipped), "overridden": self.overridden,
                "local": self.local}


async def resolve_routes(scenario: Scenario, pool: ProviderPool,
                         overrides: Mapping[str, Sequence[str]] | None = None) -> list[RouteChoice]:
    """The route each group will use; ``overrides`` replace a group's routes by name."""
    overrides = overrides or {}
    choices = []
    for group in scenario.groups:
        routes = tuple(overrides.get(group.name) or group.routes)
        choice = RouteChoice(group.name, routes, overridden=group.name in overrides)
        for position, route in enumerate(routes, 1):
            reason = await _skip_reason(parse_route(route), pool, last=position == len(routes))
            if reason is None:
                choice.target, choice.position = parse_route(route), position
                break
            choice.skipped.append(f"{route}: {reason}")
        choices.append(choice)
    return choices


async def _skip_reason(target: Target, pool: ProviderPool, *, last: bool) -> str | None:
    """Why a route cannot be used, or None. The last route is used whenever its provider
    is configured, so that its own error (e.g. "start ollama serve") reaches the table."""
    cls = providers.PROVIDERS.get(target.provider)
    if cls is None:
        return f"the {target.provider} runtime is not installed"
    why_not = cls(pool.settings).not_ready_reason()
    if why_not:
        return why_not
    try:
        provider = pool.get(target.provider)
    except ConfigError as exc:
        return exc.message
    if not cls.local or last:
        return None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            listed = await provider.list_models()
    except ProviderError as exc:
        return f"not available ({exc.message})"
    except TimeoutError:
        return f"{cls.title} did not list its models within {PROBE_TIMEOUT_S:g} s"
    if not any(_same_model(entry.id, target.model) for entry in listed):
        return f"{cls.title} does not have {target.model!r}"
    return None


def _same_model(listed: str, wanted: str) -> bool:
    return listed.lower().removesuffix(":latest") == wanted.lower().removesuffix(":latest")


def fit_images(target: Target, images: tuple[ImageInput, ...], policy: str,
               ) -> tuple[int, str | None, str | None]:
    """(images to send, notice, refusal) for ``target`` per the Phi catalog: a text-only
    model is refused; a model that takes fewer images gets the first ones, with a notice
    (or is refused when ``policy`` is "refuse")."""
    problem = image_problem(target, len(images))
    if problem is None:
        return len(images), None, None
    model = lookup(target.provider, target.model)
    limit = model.images_on(target.provider) if model else 0
    if limit == 0 or policy == "refuse":
        return 0, None, problem
    return limit, (f"{model.name} takes {limit} image(s) per request on {target.provider}: "
                   f"sent the first {limit} of {len(images)} frames only."), None


