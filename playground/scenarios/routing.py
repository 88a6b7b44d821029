"""Which route each group of a scenario uses, and which images each target can take.

A group lists ordered routes; the first that can run now is used, as
:func:`providers.readiness.target_readiness` says (keys set, server answering, model
pulled or downloaded). A group with no such route is not sent anything; its row says
what would make each route runnable. A pack where no group can run is refused whole
(:func:`refusal`), before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import providers
from playground.engine import ProviderPool
from playground.scenarios.model import Scenario, parse_route
from playground.validate import image_problem
from providers import Target
from providers.base import ImageInput
from providers.catalog import lookup
from providers.readiness import INVALID, NOT_DOWNLOADED, RETIRED, SERVER_DOWN, Readiness, target_readiness


@dataclass
class RouteChoice:
    """Which route a group uses, and why the earlier ones were skipped."""

    group: str
    routes: tuple[str, ...]
    target: Target | None = None
    position: int | None = None  # 1-based index of the chosen route
    skipped: list[str] = field(default_factory=list)
    overridden: bool = False
    unready: list[Readiness] = field(default_factory=list)  # the routes that cannot run

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

    def readiness_lines(self) -> list[str]:
        """The group and its route, or each route with what would make it runnable."""
        if self.target is not None:
            return [f"{self.group}: {self.describe()}"]
        return [f"{self.group}: cannot run here; any one of these would do:"] + [
            f"    {item.target}: {item.describe()}" for item in self.unready]

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
            # In a thread: a probe of a local server may take up to its short timeout.
            found = await asyncio.to_thread(target_readiness, route, pool.settings)
            if found.ready:
                choice.target, choice.position = parse_route(route), position
                break
            choice.unready.append(found)
            choice.skipped.append(f"{route}: {found.describe()}")
        choices.append(choice)
    return choices


def refusal(choices: Sequence[RouteChoice]) -> str | None:
    """One message saying what would make each route runnable when no group can run
    (None when some group can)."""
    if any(choice.target is not None for choice in choices):
        return None
    lines = ["No group of this pack can run here. What would make each route runnable:"]
    for choice in choices:
        lines.append(f"{choice.group}:")
        lines += [f"  {item.target}: {item.describe()}" for item in choice.unready]
    return "\n".join(lines)


def unready_kind(choice: RouteChoice) -> str:
    """The error kind of a group's not-sent row: from its last route's state."""
    state = choice.unready[-1].state if choice.unready else INVALID
    return {SERVER_DOWN: "unavailable", NOT_DOWNLOADED: "not_found",
            RETIRED: "retired"}.get(state, "config")


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


