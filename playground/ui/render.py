"""What the page shows for a run: status lines, answers, the metrics table and chart data.

Pure functions of the engine's :class:`TargetResult` objects. Every number comes from
the engine's ``perf_counter()`` marks; nothing here reads a clock.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from playground.metrics import TargetResult
from playground.results import to_dataframe
from playground.ui import style

# The table shown in the page (the CSV export has every column, text included).
TABLE_COLUMNS = [
    "target", "turn", "status", "ttft_ms", "total_ms", "prompt_tokens", "completion_tokens",
    "tokens_source", "decode_tokens_per_s", "itl_p50_ms", "itl_p95_ms", "chars_per_s",
    "finish_reason", "partial", "error_kind", "error",
]
TABLE_TYPES = ["str", "number", "str", "number", "number", "number", "number", "str", "number",
               "number", "number", "number", "str", "str", "str", "str"]

# metric column -> (chart title, axis title); short enough to fit a third of the row.
CHARTS = {
    "ttft_ms": ("Time to first token · lower is better", "ms"),
    "total_ms": ("Total time · lower is better", "ms"),
    "decode_tokens_per_s": ("Decode speed · higher is better", "tokens/s"),
}


# The widest value each column shows, in characters (headers wrap at any character, so
# their length does not count): numbers such as 12,345.6, "reported", "unsupported_input".
_VALUE_CHARS = {"turn": 4, "status": 7, "tokens_source": 11, "finish_reason": 7, "partial": 3,
                "error_kind": 11, "error": 14}
_NUMBER_CHARS = 7


def column_widths(columns: Sequence[str] = TABLE_COLUMNS) -> list[str]:
    """Widths (percent of the table) for the page's table: the target (which wraps at
    its hyphens) 16 %, the others by the widest value they show, so that a number such
    as 1,234.5 or a source such as "reported" stays on one line; every column fits at
    1400 px."""
    rest = [_VALUE_CHARS.get(c, _NUMBER_CHARS) + 2 for c in columns[1:]]  # + padding
    return ["16%", *[f"{84 * n / sum(rest):.1f}%" for n in rest]]


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def status_line(result: TargetResult) -> str:
    """One Markdown line: target, then waiting / first token at N ms / done in N ms /
    error: message / stopped, followed by any notices from the provider."""
    head = f"**{html.escape(result.target)}**"
    if result.turn > 1:  # a follow-up: which turn this line is about
        head += f" · turn {result.turn}"
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
    """The live table: one row per target (and turn), empty cells for numbers not known
    yet."""
    frame = to_dataframe(results)[TABLE_COLUMNS]  # with "error": a failed row says why
    frame["partial"] = ["yes" if r.partial else "" for r in results]
    # Object dtype with None: the browser shows an empty cell instead of "NaN"/"<NA>".
    return frame.astype(object).where(frame.notna(), None)


def styled_table(frame: pd.DataFrame, panes: Sequence[int] | None = None) -> Styler:
    """``frame`` (from :func:`metrics_table`) with each target's cell marked in its
    pane's colour (an inset bar on the left), numbers to one decimal, empty cells empty.
    ``panes[i]`` is row ``i``'s pane (default: row ``i`` is pane ``i``; a conversation
    has one row per pane and turn)."""
    panes = list(range(len(frame))) if panes is None else panes
    colours = [f"box-shadow: inset 6px 0 0 {style.colour(i)}; padding-left: 12px"
               for i in panes]
    styler = frame.style.format(precision=1, na_rep="", thousands=None)
    return styler.apply(lambda _: colours, subset=["target"], axis=0)


def chart_frame(results: Sequence[TargetResult], metric: str) -> pd.DataFrame:
    """``label``/``metric`` rows for one bar chart: targets that finished ("ok") and
    have the number. A failed or stopped target's time is how long it took to fail or
    until Stop, not the model's speed, so it stays in the table only. ``label`` is the
    target's short name (:func:`style.short_labels`), ``target`` the full one."""
    labels = style.short_labels([r.target for r in results])
    rows = [{"label": label, "target": r.target, metric: round(getattr(r, metric), 1),
             "status": r.status}
            for label, r in zip(labels, results)
            if r.status == "ok" and getattr(r, metric) is not None]
    return pd.DataFrame(rows, columns=["label", "target", metric, "status"])


def chart_colours(results: Sequence[TargetResult]) -> dict[str, str]:
    """Short label -> colour: each target's bars take its pane's colour."""
    labels = style.short_labels([r.target for r in results])
    return {label: style.colour(i) for i, label in enumerate(labels)}


def problems_html(problems: Sequence[str]) -> str:
    """Input problems for an error toast (which renders HTML: escape user text)."""
    return "<br>".join(html.escape(p) for p in problems)
