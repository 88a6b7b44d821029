"""The engine's own bounds: the answer-size cap, the per-target overall deadline, the
check that no timeout it hands to asyncio is NaN, infinite or not above 0, and the errors
a target gets when it crosses one of them."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping

from providers.base import Event, TextDelta
from providers.errors import BadResponseError, ProviderTimeoutError
from providers.settings import Settings

log = logging.getLogger("playground.engine")

DEFAULT_MAX_TARGET_S = 300.0
MAX_ANSWER_CHARS = 400_000


def max_answer_chars(max_tokens: int | None) -> int:
    """How much text a target may send before the engine stops reading: a server that
    ignores max_tokens must not fill memory or the browser. 32 characters per token is
    far above any tokenizer's average, so honest answers never reach it; whatever
    max_tokens says, never more than MAX_ANSWER_CHARS."""
    return min(max(4_000, max_tokens * 32), MAX_ANSWER_CHARS) if max_tokens \
        else MAX_ANSWER_CHARS


def configured_max_target_s(settings: Settings | Mapping[str, str] | None = None) -> float:
    """The longest one target may run, in seconds: ``PLAYGROUND_MAX_TARGET_S`` (default
    300), so a service that keeps trickling text cannot hold a run open for good. Read
    from ``settings`` (default: :meth:`Settings.load`, the environment and ``.env``). An
    unusable value (not a finite number above 0) falls back to the default, logged."""
    raw = (Settings.load() if settings is None else settings).get("PLAYGROUND_MAX_TARGET_S") or ""
    try:
        value = float(raw) if raw else DEFAULT_MAX_TARGET_S
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        log.warning("PLAYGROUND_MAX_TARGET_S=%r is not a number of seconds above 0; using %g",
                    raw, DEFAULT_MAX_TARGET_S)
        return DEFAULT_MAX_TARGET_S
    return value


def positive_seconds(name: str, value: float) -> float:
    """``value`` if finite and above 0; asyncio.timeout(nan) corrupts the event loop's
    timer order (every session stalls), so the engine refuses it even if an entry point
    let it through."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds above 0, not {value!r}")
    return float(value)


def over_cap(event: Event, kept: int, cap: int) -> TextDelta | None:
    """None if ``event`` fits in an answer of ``kept`` characters capped at ``cap``;
    otherwise the part of it that fills the answer to the cap, to keep before reading
    stops (checked before a chunk is kept: one huge chunk must never be held whole)."""
    if not isinstance(event, TextDelta) or kept + len(event.text) <= cap:
        return None
    return dataclasses.replace(event, text=event.text[:max(0, cap - kept)])


def over_cap_error(provider_title: str, cap: int, max_tokens: int | None) -> BadResponseError:
    """The error of a target that kept sending past ``cap`` characters."""
    return BadResponseError(f"{provider_title} kept sending past {cap:,} characters "
                            f"(max tokens: {max_tokens or 'not set'}); stopped reading.")


def timeout_error(provider_title: str, overall: bool, max_target_s: float,
                  idle_timeout_s: float) -> ProviderTimeoutError:
    """The error of a target that ran out of time: its whole answer took longer than
    ``max_target_s`` (``overall``), or it sent nothing for ``idle_timeout_s`` (seconds)."""
    if overall:
        return ProviderTimeoutError(f"{provider_title} did not finish within {max_target_s:g} s "
                                    "(PLAYGROUND_MAX_TARGET_S, timeout).")
    return ProviderTimeoutError(f"{provider_title} sent nothing for {idle_timeout_s:g} s "
                                "(timeout).")
