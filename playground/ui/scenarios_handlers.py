"""Plain handlers for a Scenarios tab: list the packs, describe one with the route each group
would use, run it with live progress, a table with checks, charts and a report to download.

No Gradio import: the tab's layout wires these (``settings`` is the session's, e.g.
``Sessions.settings_for(keys)``). :func:`run_pack` is an async generator; each item is
a :class:`ScenarioFrame` (progress Markdown, rows table, chart HTML, report
path once the run is over). Closing the generator (Stop) stops the run; the finished
rounds stay in the history.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from playground.engine import ProviderPool
from playground.limits import ServerKeyBudget
from playground.scenarios.files import ScenarioFileError, load_all, load_scenario, scenario_files
from playground.scenarios.model import SCENARIOS_DIR, Scenario
from playground.scenarios.reports import export, rows_frame, summarize
from playground.scenarios.routing import resolve_routes
from playground.scenarios.runner import RunOptions, ScenarioRun
from playground.store import Store
from playground.validate import InputError
from providers.settings import Settings

# "error" right after "status": an error row shows its reason (the not-sent rows of a
# group that cannot run say what would make it runnable).
TABLE_COLUMNS = ["case", "group", "repeat", "warmup", "mode", "target", "status", "error",
                 "ttft_ms", "total_ms", "decode_tokens_per_s", "chars_per_s", "checks",
                 "notices"]
CHART_COLUMNS = ["label", "group", "case", "metric", "n", "median", "p90", "min", "max"]
CHART_METRICS = {"ttft_ms": "Time to first token (ms)", "total_ms": "Total time (ms)"}


class ScenarioFrame(NamedTuple):
    """One update of a running pack, in the order a tab's outputs would take them."""

    progress: str
    table: pd.DataFrame
    chart_html: str
    report: str | None


def pack_choices(directory: Path = SCENARIOS_DIR) -> list[tuple[str, str]]:
    """(title, id) of every pack that loads, for a dropdown."""
    loaded, _ = load_all(scenario_files(directory))
    return [(s.title, s.id) for s in loaded]


async def describe_pack(pack_id: str, settings: Settings,
                        directory: Path = SCENARIOS_DIR) -> str:
    """Markdown: the pack's description, its cases and each group's route (and why the
    routes before it were skipped)."""
    scenario = _load(pack_id, directory)
    pool = ProviderPool(settings)
    try:
        choices = await resolve_routes(scenario, pool)
    finally:
        await pool.aclose()
    lines = [f"**{html.escape(scenario.title)}**", "", html.escape(scenario.description), "",
             f"{len(scenario.cases)} case(s) · {scenario.repeats} repeat(s) · "
             f"{scenario.warmup} warm-up run(s)", ""]
    lines += [f"- **{html.escape(c.group)}**: {html.escape(c.describe())}" for c in choices]
    return "\n".join(lines)


def _load(pack_id: str, directory: Path) -> Scenario:
    try:
        return load_scenario(Path(directory) / f"{pack_id}.yaml")
    except ScenarioFileError as exc:
        raise InputError([str(p) for p in exc.problems]) from exc


async def run_pack(pack_id: str, settings: Settings, repeats: int | None = None,
                   warmup: int | None = None, *, directory: Path = SCENARIOS_DIR,
                   store_path: str | Path | None = None,
                   report_dir: str | Path | None = None,
                   budget: ServerKeyBudget | None = None) -> AsyncIterator[ScenarioFrame]:
    """Run a pack and yield a frame after each finished row, then one with the report.

    Raises InputError (nothing sent) for a broken file or bad input. The run is saved in
    the history (``store_path``, default ``$PLAYGROUND_DB`` or ./playground.db). ``budget``
    (a public server's) is charged one request per target per round on its keys."""
    scenario = _load(pack_id, directory)
    run = ScenarioRun(scenario, settings, RunOptions(repeats or None, warmup))
    # Routes first: a pack with no runnable group is refused (InputError) before anything
    # is sent, shown or saved (no history database is created for it).
    await run.resolve()
    run.store = store = Store(store_path, settings.secret_values())
    run.budget = budget  # each upstream request on the server's keys counts
    try:
        yield ScenarioFrame(f"Starting {scenario.id}: {run.total} answers to collect…",
                            rows_table([]), "", None)
        # aclosing: a Stop (this generator closed) must end the run before the store closes.
        async with aclosing(run.updates()) as rows:
            async for row in rows:
                note = f"{row.case} / {row.group}: {row.result.status}"
                yield _frame(run, f"{len(run.rows)}/{run.total} · {html.escape(note)}", None)
    finally:
        store.close()
    directory_out = Path(report_dir or tempfile.mkdtemp(prefix="scenario-report-"))
    report = export(directory_out / f"{scenario.id}-run-{run.run_id}.md", run.meta(), run.rows,
                    run_id=run.run_id, status=run.status, wall_ms=run.wall_ms)
    yield _frame(run, f"Done: run {run.run_id}, {len(run.rows)} answers "
                      f"({run.status}).", str(report))


def _frame(run: ScenarioRun, progress: str, report: str | None) -> ScenarioFrame:
    summary = summarize(run.rows)
    return ScenarioFrame(progress, rows_table(run.rows), chart_html(summary), report)


def rows_table(rows: Sequence[Any]) -> pd.DataFrame:
    """Every row with its metrics and checks (``✓``/``✗`` per check, with details)."""
    frame = rows_frame(rows)
    if frame.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    frame["checks"] = [
        " · ".join(f"{'✓' if c.passed else '✗'} {c.name}" + ("" if c.passed else f" ({c.detail})")
                   for c in row.checks) for row in rows]
    for name in ("ttft_ms", "total_ms", "decode_tokens_per_s", "chars_per_s"):
        frame[name] = frame[name].astype("float64").round(1)
    return frame[TABLE_COLUMNS]


def chart_frame(summary: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Tidy chart data: one line per (group, case, metric) with median, p90, min, max."""
    records = [{"label": f"{s['group']} · {s['case']}", "group": s["group"], "case": s["case"],
                "metric": metric, "n": s["n"], "median": s[f"{metric}_median"],
                "p90": s[f"{metric}_p90"], "min": s[f"{metric}_min"], "max": s[f"{metric}_max"]}
               for metric in CHART_METRICS for s in summary if s[f"{metric}_median"] is not None]
    return pd.DataFrame(records, columns=CHART_COLUMNS)


def chart_html(summary: Sequence[dict[str, Any]]) -> str:
    """An inline SVG per metric: a bar to the median, a whisker from it to the p90."""
    data = chart_frame(summary)
    return "".join(_svg(data[data.metric == metric], title)
                   for metric, title in CHART_METRICS.items() if (data.metric == metric).any())


def _svg(data: pd.DataFrame, title: str, width: int = 560, bar: int = 18) -> str:
    left, right, top = 200, 70, 28
    top_value = float(data[["median", "p90"]].max().max()) or 1.0
    scale = (width - left - right) / top_value
    height = top + len(data) * (bar + 8) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}" style="font:12px sans-serif">',
             f'<text x="0" y="16" font-weight="bold">{html.escape(title)}: median, '
             'whisker to p90</text>']
    for i, line in enumerate(data.itertuples()):
        y = top + i * (bar + 8)
        mid, p90 = line.median * scale, line.p90 * scale
        parts += [f'<text x="{left - 6}" y="{y + bar - 5}" text-anchor="end">'
                  f'{html.escape(line.label)}</text>',
                  f'<rect x="{left}" y="{y}" width="{mid:.1f}" height="{bar}" fill="#366eb4"/>',
                  f'<line x1="{left + mid:.1f}" x2="{left + p90:.1f}" y1="{y + bar / 2}" '
                  f'y2="{y + bar / 2}" stroke="#222"/>',
                  f'<line x1="{left + p90:.1f}" x2="{left + p90:.1f}" y1="{y + 3}" '
                  f'y2="{y + bar - 3}" stroke="#222"/>',
                  f'<text x="{left + p90 + 6:.1f}" y="{y + bar - 5}">{line.median:,.0f} / '
                  f'{line.p90:,.0f} (n={line.n})</text>']
    return "".join(parts) + "</svg>"
