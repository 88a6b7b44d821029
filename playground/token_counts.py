"""Token counts for answers whose stream reported none, asked from the server's own
tokenizer once every stream of a comparison has ended.

Why after all of them: the request is one more round trip that must not land inside
any target's timing window, and llama-cpp-python serves its tokenizer under the same
lock as generation (with interrupts on, a tokenize call would cut a running answer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from playground.metrics import TargetResult, apply_tokenizer_count
from providers.base import Provider
from providers.errors import ProviderError

log = logging.getLogger("playground.engine")


def needs_count(result: TargetResult) -> bool:
    """A row with text whose tokens nobody reported or counted (chunk estimates count
    as not counted: a tokenizer beats them)."""
    return bool(result.text) and result.tokens_source not in ("reported", "counted")


async def count_unreported_tokens(results: Sequence[TargetResult],
                                  ready: Sequence[Provider | None],
                                  timeout_s: float) -> list[int]:
    """Ask each row's provider to count its answer's tokens where the stream reported
    none; returns the indexes of the rows that changed. One request at a time, each
    bounded by ``timeout_s`` (seconds); a failure leaves the row as it was."""
    changed: list[int] = []
    for index, (result, provider) in enumerate(zip(results, ready)):
        if provider is None or not needs_count(result):
            continue
        try:
            async with asyncio.timeout(timeout_s):
                tokens = await provider.count_tokens(result.model, result.text)
        except (TimeoutError, ProviderError) as exc:
            log.info("%s: no tokenizer count (%s)", result.target, exc)
            continue
        if tokens is not None:
            apply_tokenizer_count(result, tokens)
            changed.append(index)
    return changed
