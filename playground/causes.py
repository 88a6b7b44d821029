"""Failure messages that need to know about the other targets of a comparison."""

from __future__ import annotations

from collections.abc import Sequence

from playground.metrics import TargetResult
from providers.errors import BadResponseError, CutOffError, ProviderError

ONE_AT_A_TIME = (
    "{title} ended the answer with [DONE] but no finish_reason while {others} ran on the "
    "same server: the server may serve one request at a time and stop the running "
    "answer when the next arrives (llama-cpp-python's server does by default; start it "
    "with --interrupt_requests False to queue requests instead), or compare these "
    "targets one after another.")


def overlapped(result: TargetResult, other: TargetResult, now: float) -> bool:
    """True when ``other`` was streaming at some point during ``result``'s window
    (``now`` is perf_counter() seconds, the moment ``result`` failed)."""
    if other is result or other.dispatched_at is None or result.dispatched_at is None:
        return False
    if other.dispatched_at > now:
        return False
    if other.total_ms is None:  # still running
        return True
    return other.dispatched_at + other.total_ms / 1000.0 > result.dispatched_at


def explain_cut_off(error: ProviderError, index: int, results: Sequence[TargetResult],
                    same_server: Sequence[bool], title: str, now: float) -> ProviderError:
    """A cut-off stream while another target on the same server (``same_server[i]``)
    was running gets the message that names that cause; other errors pass through."""
    if not isinstance(error, CutOffError) or error.empty:
        return error
    result = results[index]
    others = [r.target for i, r in enumerate(results)
              if same_server[i] and overlapped(result, r, now)]
    if not others:
        return error
    return BadResponseError(ONE_AT_A_TIME.format(title=title, others=", ".join(others)),
                            provider=error.provider)
