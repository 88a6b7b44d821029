"""Per-target measurements and the numbers derived from them.

All times are milliseconds measured with ``time.perf_counter()`` inside the engine,
relative to the target's dispatch (the moment its request is handed to the provider).

* ``ttft_ms``: dispatch -> first non-empty text delta.
* ``total_ms``: dispatch -> end of the stream (or the error / stop).
* ``decode_tokens_per_s``: (completion_tokens - 1) / (last delta - first delta); the
  first token is excluded because its time is TTFT.
* ``itl_p50_ms``, ``itl_p95_ms``: inter-token latency, the median and 95th percentile
  of the gaps between consecutive non-empty text deltas (genai-perf's and vLLM's ITL,
  per chunk; = 1000 / decode tokens/s when every chunk is one token).
* ``chars_per_s``: characters after the first delta / (last delta - first delta): a
  tokenizer-neutral decode speed (token counts differ across tokenizers, a lot for
  Chinese).
* ``tokens_source``: ``reported`` by the service, ``counted`` by a tokenizer (generated
  ids in-process, or the server's tokenizer asked after the streams), or ``estimated``
  (the server's chunks, empty ones included, from servers documented to send one chunk
  per token). None when nothing counted: non-empty chunks are never called tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from providers.base import ChatRequest, Event, Finish, Notice, TextDelta, Usage
from providers.errors import ProviderError

# Fields of the public result contract (CLI JSON, CSV, UI table), in order.
RESULT_FIELDS = (
    "target", "turn", "provider", "model", "status", "error_kind", "error", "text", "ttft_ms",
    "total_ms", "prompt_tokens", "completion_tokens", "tokens_source",
    "decode_tokens_per_s", "itl_p50_ms", "itl_p95_ms", "chars_per_s", "finish_reason",
)
EMPTY_ANSWER = "empty answer: the server finished ({reason}) without sending any text."


@dataclass
class TargetResult:
    """Everything measured for one target of one comparison.

    ``status`` moves waiting -> running -> ok | error | stopped. ``turn`` is the
    conversation turn this answer belongs to (1-based: 1 for a first prompt, n + 1
    after n earlier question/answer pairs).
    """

    target: str
    provider: str
    model: str
    turn: int = 1
    status: str = "waiting"
    error_kind: str | None = None
    error: str | None = None
    text: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_source: str | None = None
    decode_tokens_per_s: float | None = None
    itl_p50_ms: float | None = None
    itl_p95_ms: float | None = None
    chars_per_s: float | None = None
    finish_reason: str | None = None
    partial: bool = False
    resolved_model: str | None = None
    notices: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # Raw marks behind the derived numbers (ms from dispatch).
    last_delta_ms: float | None = None
    deltas: int = 0
    first_delta_chars: int = 0
    counted_tokens: int | None = None
    usage: Usage | None = None
    dispatched_at: float | None = None  # perf_counter() at dispatch (benchmarks)
    # Gaps between consecutive text deltas (ms); the ITL percentiles' input, not exported.
    gaps_ms: list[float] = field(default_factory=list, repr=False)

    def public(self) -> dict[str, Any]:
        """The result as the documented contract: RESULT_FIELDS plus ``partial``."""
        data = {name: getattr(self, name) for name in RESULT_FIELDS}
        data["partial"] = self.partial
        return data

    def as_dict(self) -> dict[str, Any]:
        """Every field (for exports and history); never holds secrets."""
        data = asdict(self)
        del data["gaps_ms"]
        data["usage"] = None if self.usage is None else asdict(self.usage)
        return data


def turn_of(request: ChatRequest) -> int:
    """The 1-based turn ``request`` asks: its history's first turn plus its earlier
    question/answer pairs (``first_turn`` counts turns dropped to fit a context)."""
    return request.first_turn + len(request.history) // 2


class Recorder:
    """Applies stream events with their arrival times to one TargetResult."""

    def __init__(self, result: TargetResult) -> None:
        self.result = result
        self._t0: float | None = None

    def start(self, now: float) -> None:
        self._t0 = now
        self.result.dispatched_at = now
        self.result.status = "running"

    def _ms(self, now: float) -> float:
        assert self._t0 is not None, "start() first"
        return (now - self._t0) * 1000.0

    def apply(self, event: Event, now: float) -> None:
        r = self.result
        if isinstance(event, TextDelta):
            if not event.text and not event.tokens:
                return
            if event.text:
                at_ms = self._ms(now)
                if r.ttft_ms is None:
                    r.ttft_ms = at_ms
                    r.first_delta_chars = len(event.text)
                else:
                    r.gaps_ms.append(at_ms - (r.last_delta_ms or at_ms))
                r.last_delta_ms = at_ms
                r.deltas += 1
                r.text += event.text
            if event.tokens is not None:
                r.counted_tokens = (r.counted_tokens or 0) + event.tokens
        elif isinstance(event, Usage):
            r.usage = event
        elif isinstance(event, Notice):
            r.notices.append(event.message)
        elif isinstance(event, Finish):
            r.finish_reason = event.reason
            r.resolved_model = event.model
            r.details.update(event.details)

    def finish(self, now: float) -> None:
        r = self.result
        r.status = "ok"
        if not r.text:  # finished on purpose, yet said nothing: ok, but say so
            r.notices.append(EMPTY_ANSWER.format(reason=r.finish_reason or "no reason"))
        self._close(now)

    def fail(self, error: ProviderError, now: float, message: str) -> None:
        r = self.result
        r.status, r.error_kind, r.error = "error", error.kind, message
        r.partial = bool(r.text)
        if self._t0 is not None:
            self._close(now)

    def stop(self, now: float) -> None:
        r = self.result
        r.status, r.partial = "stopped", bool(r.text)
        if self._t0 is not None:
            self._close(now)

    def _close(self, now: float) -> None:
        r = self.result
        r.total_ms = self._ms(now)
        settle_tokens(r)
        derive_rates(r)


def settle_tokens(r: TargetResult) -> None:
    """Pick one token source for the row: service usage, counted ids, else chunks."""
    if r.usage is not None and r.usage.completion_tokens is not None:
        r.prompt_tokens = r.usage.prompt_tokens
        r.completion_tokens = r.usage.completion_tokens
        r.tokens_source = r.usage.source
    elif r.counted_tokens is not None:
        r.completion_tokens = r.counted_tokens
        r.tokens_source = "counted"


def apply_tokenizer_count(r: TargetResult, tokens: int) -> None:
    """A server tokenizer's count of the answer, asked after the streams: it replaces a
    chunk estimate (or nothing) and the rates that depend on it."""
    r.completion_tokens, r.tokens_source = tokens, "counted"
    r.decode_tokens_per_s = None
    derive_rates(r)


def warm_up() -> None:
    """Run the derivations' library code once before any clock starts: numpy's first
    ``percentile`` imports ``numpy.ma`` (20 ms on this machine under load), which would
    otherwise land in the windows of targets still streaming when the first one ends."""
    np.percentile([0.0, 1.0], [50, 95])


def derive_rates(r: TargetResult) -> None:
    """Decode tokens/s, ITL percentiles and chars/s over the first to last delta."""
    if r.gaps_ms:
        # numpy's default (linear) percentile, as vLLM's benchmark_serving and genai-perf.
        r.itl_p50_ms, r.itl_p95_ms = (float(v) for v in np.percentile(r.gaps_ms, [50, 95]))
    if r.ttft_ms is None or r.last_delta_ms is None:
        return
    span_s = (r.last_delta_ms - r.ttft_ms) / 1000.0
    if span_s <= 0:
        return
    if r.completion_tokens is not None and r.completion_tokens >= 2:
        r.decode_tokens_per_s = (r.completion_tokens - 1) / span_s
    later_chars = len(r.text) - r.first_delta_chars
    if later_chars > 0:
        r.chars_per_s = later_chars / span_s
