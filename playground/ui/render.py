"""What the page shows for a run: status lines, answers, the metrics table and chart data.

Pure functions of the engine's :class:`TargetResult` objects. Every number comes from
the engine's ``perf_counter()`` marks; nothing here reads a clock.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from playground.metrics import TargetResult
from playground.results import to_dataframe

# The table shown in the page (the CSV export has every column, text included).
TABLE_COLUMNS = [
    "target", "status", "ttft_ms", "total_ms", "prompt_tokens", "completion_tokens",
    "tokens_source", "decode_tokens_per_s", "itl_p50_ms", "itl_p95_ms", "chars_per_s",
    "finish_reason", "partial", "error_kind",
]
TABLE_TYPES = ["str", "str", "number", "number", "number", "number", "str", "number",
               "number", "number", "number", "str", "str", "str"]

# metric column -> (chart title, axis title)
CHARTS = {
    "ttft_ms": ("Time to first token", "TTFT (ms)"),
    "total_ms": ("Total time", "total (ms)"),
    "decode_tokens_per_s": ("Decode speed", "tokens/s (after the first token)"),
}


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def status_line(result: TargetResult) -> str:
    """One Markdown line: target, then waiting / first token at N ms / done in N ms /
    error: message / stopped, followed by any notices from the provider."""
    head = f"**{html.escape(result.target)}**"
    state = _state(result)
    lines = [f"{head} · {state}"]
    lines += [f"note: {html.escape(note)}" for note in result.notices]
    return "  \n".join(lines)


def _state(r: TargetResult) -> str:
    if r.status == "waiting":
        return "… waiting"
    if r.status == "running":
        if r.ttft_ms is None:
            return "… waiting for the first token"
        return f"▶ first token at {_ms(r.ttft_ms)}"
    if r.status == "ok":
        parts = [f"✓ done in {_ms(r.total_ms or 0)}"]
        if r.ttft_ms is not None:
            parts.append(f"first token at {_ms(r.ttft_ms)}")
        if r.completion_tokens is not None:
            parts.append(f"{r.completion_tokens} tokens ({r.tokens_source})")
        if r.decode_tokens_per_s is not None:
            parts.append(f"{r.decode_tokens_per_s:,.1f} tokens/s")
        return " · ".join(parts)
    if r.status == "stopped":
        after = f" after {_ms(r.total_ms)}" if r.total_ms is not None else ""
        kept = " (partial answer kept)" if r.partial else ""
        return f"■ stopped{after}{kept}"
    kind = f" ({r.error_kind})" if r.error_kind else ""
    return f"✗ error{kind}: {html.escape(r.error or 'failed')}"


def answer_text(result: TargetResult) -> str:
    """The answer as Markdown (the text received so far, kept on error and stop)."""
    if result.text:
        return result.text
    if result.status in ("waiting", "running"):
        return ""
    return "*(no text received)*"


def metrics_table(results: Sequence[TargetResult]) -> pd.DataFrame:
    """The live table: one row per target, empty cells for numbers not known yet."""
    frame = to_dataframe(results, with_text=False)[TABLE_COLUMNS]
    frame["partial"] = ["yes" if r.partial else "" for r in results]
    # Object dtype with None: the browser shows an empty cell instead of "NaN"/"<NA>".
    return frame.astype(object).where(frame.notna(), None)


def chart_frame(results: Sequence[TargetResult], metric: str) -> pd.DataFrame:
    """``target``/``metric`` rows for one bar chart, only targets that have the number."""
    rows = [{"target": r.target, metric: round(getattr(r, metric), 1), "status": r.status}
            for r in results if getattr(r, metric) is not None]
    return pd.DataFrame(rows, columns=["target", metric, "status"])


def problems_html(problems: Sequence[str]) -> str:
    """Input problems for an error toast (which renders HTML: escape user text)."""
    return "<br>".join(html.escape(p) for p in problems)
