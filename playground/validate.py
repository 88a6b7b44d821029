"""Checks made before anything is sent: bad input gets one clear message and runs nothing."""

from __future__ import annotations

from collections.abc import Sequence

import providers
from providers import Target
from providers.base import ChatRequest
from providers.catalog import lookup
from providers.errors import ConfigError, ProviderError, UnsupportedInputError
from providers.readiness import target_readiness
from providers.settings import Settings

MAX_PROMPT_CHARS = 100_000
MAX_TARGETS = 6
MAX_IMAGES = 20


class InputError(ProviderError):
    """The comparison cannot start; ``problems`` lists every reason, one per line."""

    kind = "input"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def check_request(request: ChatRequest, max_prompt_chars: int = MAX_PROMPT_CHARS) -> list[str]:
    """Problems with the prompt and images themselves."""
    problems = []
    if not request.prompt.strip():
        problems.append("The prompt is empty: type a question first.")
    elif len(request.prompt) > max_prompt_chars:
        problems.append(f"The prompt has {len(request.prompt):,} characters; the limit is "
                        f"{max_prompt_chars:,}.")
    if len(request.images) > MAX_IMAGES:
        problems.append(f"{len(request.images)} images attached; the limit is {MAX_IMAGES}.")
    if request.max_tokens is not None and request.max_tokens < 1:
        problems.append("Max tokens must be at least 1.")
    if request.temperature is not None and not 0 <= request.temperature <= 2:
        problems.append("Temperature must be between 0 and 2.")
    if request.top_p is not None and not 0 < request.top_p <= 1:
        problems.append("top_p must be greater than 0 and at most 1.")
    return problems


def image_problem(target: Target, n_images: int) -> str | None:
    """Why ``target`` cannot take ``n_images`` images, per the Phi catalog (None if it can
    or the model is not in the catalog)."""
    model = lookup(target.provider, target.model)
    if model is None or n_images == 0:
        return None
    limit = model.images_on(target.provider)
    if limit == 0:
        return f"{target} ({model.name}) is a text-only model; remove the images or pick a vision model."
    if n_images > limit:
        return f"{target} ({model.name}) takes at most {limit} image(s) per request here; {n_images} attached."
    return None


def plan(specs: Sequence[str], request: ChatRequest, settings: Settings, *,
         max_prompt_chars: int = MAX_PROMPT_CHARS) -> list[Target]:
    """Parse and check every target and the request; raise InputError listing all problems.

    A target that cannot run now (:func:`providers.readiness.target_readiness`: no key,
    server down, model not downloaded, retired) is a problem too, with what would fix it.
    May probe a local server (at most 0.5 s per address, cached): call it off the event
    loop from async code."""
    problems = check_request(request, max_prompt_chars)
    targets: list[Target] = []
    if not specs:
        problems.append("No target selected: add at least one PROVIDER:MODEL.")
    if len(specs) > MAX_TARGETS:
        problems.append(f"{len(specs)} targets selected; the limit is {MAX_TARGETS}.")
    for spec in specs:
        try:
            target = providers.parse_target(spec)
        except ConfigError as exc:
            problems.append(exc.message)
            continue
        # The one readiness check (keys, servers, downloads) the pickers and routes use.
        if not (found := target_readiness(target, settings)).ready:
            problems.append(f"{found.target}: {found.describe()}")
            continue
        if (why := image_problem(target, len(request.images))) is not None:
            problems.append(why)
        targets.append(target)
    if problems:
        raise InputError(problems)
    return targets


__all__ = ["InputError", "UnsupportedInputError", "check_request", "image_problem", "plan"]
