"""A scenario run as a summary, a JSON document, a CSV table and a Markdown report.

Statistics use measured runs only (warm-up rows are kept in the rows, flagged, and left
out). Latency figures come from runs that finished ``ok``; the median and p90 are
numpy's linear interpolation between the closest ranks (with one run, both equal it).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from playground.metrics import RESULT_FIELDS
from playground.results import comparison_document
from playground.scenarios.rows import RunRow

REPORT_FORMATS = (".csv", ".json", ".md")


def _stat(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def summarize(rows: Sequence[RunRow]) -> list[dict[str, Any]]:
    """One entry per (group, case), in the order groups and cases first appear."""
    groups = list(dict.fromkeys(r.group for r in rows))
    cases = list(dict.fromkeys(r.case for r in rows))
    summary = []
    for group in groups:
        for case in cases:
            measured = [r for r in rows if r.group == group and r.case == case and not r.warmup]
            if measured:
                summary.append(_entry(group, case, measured))
    return summary


def _entry(group: str, case: str, measured: list[RunRow]) -> dict[str, Any]:
    ok = [r.result for r in measured if r.result.status == "ok"]
    entry: dict[str, Any] = {
        "group": group, "case": case,
        "route": Counter(r.result.target for r in measured).most_common(1)[0][0],
        "n": len(ok), "runs": len(measured), "errors": len(measured) - len(ok)}
    for metric in ("ttft_ms", "total_ms"):
        values = [v for v in (getattr(r, metric) for r in ok) if v is not None]
        entry.update({f"{metric}_median": _stat(values, 50), f"{metric}_p90": _stat(values, 90),
                      f"{metric}_min": _stat(values, 0), f"{metric}_max": _stat(values, 100)})
    for metric in ("decode_tokens_per_s", "chars_per_s"):
        entry[f"{metric}_median"] = _stat(
            [v for v in (getattr(r, metric) for r in ok) if v is not None], 50)
    sources = {r.tokens_source for r in ok if r.tokens_source}
    entry["tokens_source"] = sources.pop() if len(sources) == 1 else ("mixed" if sources else None)
    checks = [c for r in measured for c in r.checks]
    entry["checks_passed"] = sum(c.passed for c in checks)
    entry["checks_total"] = len(checks)
    return entry


def row_document(row: RunRow) -> dict[str, Any]:
    """A row as ``run --format json`` prints it: the compare fields plus the scenario's."""
    public = comparison_document([row.result], None)["results"][0]
    return {"case": row.case, "group": row.group, "repeat": row.repeat, "warmup": row.warmup,
            "mode": row.mode, **public, "resolved_model": row.result.resolved_model,
            "notices": list(row.result.notices), "checks": [c.public() for c in row.checks]}


def run_document(meta: dict[str, Any], rows: Sequence[RunRow], *, run_id: int | None = None,
                 status: str | None = None, wall_ms: float | None = None) -> dict[str, Any]:
    """``{"scenario", "runs", "summary", ...}``: the JSON contract of a run."""
    return {"scenario": meta["scenario"]["id"], "run_id": run_id, "status": status,
            "wall_ms": None if wall_ms is None else round(wall_ms, 2),
            "title": meta["scenario"]["title"], "groups": meta["groups"],
            "parameters": meta["parameters"], "environment": meta["environment"],
            "runs": [row_document(r) for r in rows], "summary": summarize(rows)}


def rows_frame(rows: Sequence[RunRow]) -> pd.DataFrame:
    """One line per row: scenario fields, the compare fields, checks as text."""
    records = []
    for row in rows:
        data = row_document(row)
        checks = data.pop("checks")
        data["notices"] = " | ".join(data["notices"])
        data["checks_passed"] = sum(c["passed"] for c in checks)
        data["checks_total"] = len(checks)
        data["checks"] = "; ".join(_check_text(c) for c in checks)
        records.append(data)
    columns = ["case", "group", "repeat", "warmup", "mode", *RESULT_FIELDS, "partial",
               "resolved_model", "checks_passed", "checks_total", "checks", "notices"]
    return pd.DataFrame(records, columns=columns)


def _check_text(check: dict[str, Any]) -> str:
    return f"{'pass' if check['passed'] else 'FAIL'} {check['name']}: {check['detail']}"


def export(path: str | Path, meta: dict[str, Any], rows: Sequence[RunRow], *,
           run_id: int | None = None, status: str | None = None,
           wall_ms: float | None = None) -> Path:
    """Write the run to ``path``; the suffix picks the format (.csv, .json or .md)."""
    path = Path(path)
    if path.suffix not in REPORT_FORMATS:
        raise ValueError(f"{path.name}: choose a file ending in {', '.join(REPORT_FORMATS)}")
    if path.suffix == ".csv":
        rows_frame(rows).to_csv(path, index=False)
    elif path.suffix == ".json":
        document = run_document(meta, rows, run_id=run_id, status=status, wall_ms=wall_ms)
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        path.write_text(markdown(meta, rows, run_id=run_id, status=status), encoding="utf-8")
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = f"{value:,.1f}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], lines: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(_cell(v) for v in line) + " |" for line in lines]


def comparison_table(summary: Sequence[dict[str, Any]]) -> list[str]:
    """The summary as Markdown table lines."""
    header = ["case", "group", "route", "n", "TTFT ms median", "TTFT ms p90", "total ms median",
              "total ms p90", "tokens/s median (tokens from)", "chars/s median", "checks"]
    return _table(header, [
        [s["case"], s["group"], s["route"], f"{s['n']}/{s['runs']}", s["ttft_ms_median"],
         s["ttft_ms_p90"], s["total_ms_median"], s["total_ms_p90"], _rate(s),
         s["chars_per_s_median"], f"{s['checks_passed']}/{s['checks_total']}"] for s in summary])


def _rate(entry: dict[str, Any]) -> str | None:
    """Tokens/s with where the token counts came from; an estimate is marked ≈."""
    rate = entry["decode_tokens_per_s_median"]
    if rate is None:
        return None
    mark = "≈" if entry["tokens_source"] in ("estimated", "mixed") else ""
    return f"{mark}{rate:,.1f} ({entry['tokens_source']})"


def markdown(meta: dict[str, Any], rows: Sequence[RunRow], *, run_id: int | None = None,
             status: str | None = None) -> str:
    """A readable report: routes, the comparison table, checks, answers, environment."""
    scenario, params = meta["scenario"], meta["parameters"]
    lines = [f"# {scenario['title']}", "", scenario.get("description") or "", "",
             f"Scenario `{scenario['id']}`" + (f", run {run_id}" if run_id is not None else "")
             + (f", status {status}" if status else "") + ".",
             f"Each case ran {params['repeats']} measured time(s) per group after "
             f"{params['warmup']} warm-up run(s) on the first case (warm-ups are excluded "
             f"from the statistics). Remote targets ran {params['remote_mode']}ly; local "
             f"targets {params['local_mode']}ly.", "", "## Routes", ""]
    lines += _table(["group", "route used", "skipped routes"], [
        [g["group"], g["route"] or "none", "; ".join(g["skipped"]) or "-"] for g in meta["groups"]])
    lines += ["", "## Comparison", "",
              "Median and p90 over the measured runs that finished ok (n = ok/measured).", ""]
    lines += comparison_table(summarize(rows))
    measured = [r for r in rows if not r.warmup]
    lines += ["", "## Checks", ""]
    lines += _table(["case", "turn", "group", "repeat", "check", "result", "detail"], [
        [r.case, r.result.turn, r.group, r.repeat, c.name, "pass" if c.passed else "FAIL",
         c.detail] for r in measured for c in r.checks])
    lines += ["", "## Answers (first measured run)", ""]
    for row in measured:
        if row.repeat != 1:
            continue
        lines.append(f"### {row.case} / {row.group}, turn {row.result.turn}: "
                     f"`{row.result.target}` ({row.result.status})")
        lines += [f"- note: {n}" for n in row.result.notices]
        if row.result.error:
            lines.append(f"- error ({row.result.error_kind}): {row.result.error}")
        lines += ["", *(f"> {line}" for line in (row.result.text or "(no answer)").splitlines()), ""]
    env = meta["environment"]
    lines += ["## Environment", "", f"Python {env['python']} on {env['platform']}; "
              + ", ".join(f"{k} {v}" for k, v in env["libraries"].items()) + ".", "",
              "TTFT: dispatch to the first non-empty text; total: dispatch to the end of the "
              "stream; tokens/s: (completion tokens - 1) / (last - first text), with the "
              "token source in the JSON and CSV exports.", ""]
    return "\n".join(lines)
