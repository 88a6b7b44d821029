"""The engine's answer to HTTP 429: a short ``Retry-After`` is honoured once, a long one
(or one after text arrived) fails the target at once.

Pure decisions and wording, no clock and no sleeping: :mod:`playground.engine` waits,
restarts the target's clock and records the wait (``details["rate_limit_wait_ms"]``).
"""

from __future__ import annotations

from providers.base import Notice
from providers.errors import RateLimitError

# A 429 whose Retry-After is at most this long (seconds) is retried once; longer ones
# fail at once: a comparison must not sit idle while other targets' figures wait.
SHORT_RETRY_AFTER_S = 2.0


def short_retry_wait(error: RateLimitError, received_text: str) -> float | None:
    """Seconds to wait before the one retry, or None when the target fails now (no
    ``Retry-After``, a long or unusable one, or text already received: a retry would
    measure a different answer)."""
    wait = error.retry_after_s
    # NaN from a hostile Retry-After fails every comparison, so it is checked as
    # "not 0 <= wait <= short": asyncio.sleep(nan) would stall the event loop.
    if wait is None or not 0 <= wait <= SHORT_RETRY_AFTER_S or received_text:
        return None
    return wait


def retry_notice(provider_title: str, wait_s: float) -> Notice:
    """The notice the target's result shows when it was retried after ``wait_s`` seconds."""
    return Notice(f"{provider_title} asked to retry after {wait_s:g} s (HTTP 429); "
                  "retried once.")
