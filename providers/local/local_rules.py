"""Rules both local runtimes (``onnx``, ``transformers``) share: the cache size setting,
the token budget a prompt leaves in the context, and load-time notices."""

from __future__ import annotations

from providers.base import Notice
from providers.errors import BadRequestError, ConfigError


def max_loaded(value: str | None, name: str, provider: str) -> int:
    """A cache-size setting (``ONNX_MAX_LOADED``...): a whole number >= 1."""
    if not value or not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, not {value!r}.",
                          provider=provider)
    return int(value)


def token_budget(max_tokens: int | None, prompt_tokens: int, context_length: int,
                 model: str, provider: str) -> tuple[int, Notice | None]:
    """How many tokens to generate: ``max_tokens`` (default: all the room left), capped by
    the context, with a notice when capped; BadRequestError if the prompt fills it."""
    room = context_length - prompt_tokens
    if room < 1:
        raise BadRequestError(f"The prompt is {prompt_tokens} tokens; {model}'s context is "
                              f"{context_length} tokens. Shorten the prompt (or send fewer "
                              "images).", provider=provider)
    if max_tokens and max_tokens > room:
        return room, Notice(f"Max tokens lowered from {max_tokens} to {room}: the prompt takes "
                            f"{prompt_tokens} of {model}'s {context_length}-token context.")
    return min(max_tokens or room, room), None


def load_notice(model: str, load_ms: float, in_run: bool, detail: str = "") -> Notice:
    """Says how long loading took (``detail``: what that includes, in brackets) and
    whether it is inside this run's TTFT."""
    when = ("during this run (TTFT includes it)" if in_run
            else "before the run started (not part of TTFT)")
    return Notice(f"Loaded {model} in {load_ms:.0f} ms{f' ({detail})' if detail else ''} "
                  f"{when}.")
