"""What the Arena tab shows: anonymous status lines during a battle, the reveal after the
vote, and the leaderboard (table, win rates, a chart of the scores with their 95 %
intervals as inline SVG, a CSV). Pure functions; nothing here reads a clock.

Before the reveal nothing shown may name a target: a pane is "Model A" / "Model B",
its notices (which name providers) are held back and a failure shows its kind only.
"""

from __future__ import annotations

import csv
import html
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd

from playground.arena.battles import CHOICES, LiveBattle
from playground.arena.stats import Leaderboard
from playground.metrics import TargetResult
from playground.ui import render
from playground.ui.exports import KEEP_S, prune

SIDES = ("Model A", "Model B")
BOARD_COLUMNS = ["rank", "model", "score", "95% low", "95% high", "battles", "wins", "ties",
                 "losses", "median TTFT (ms)", "median decode tokens/s"]
REVEAL_COLUMNS = ["side", "target", "status", "ttft_ms", "total_ms", "completion_tokens",
                  "tokens_source", "decode_tokens_per_s", "error"]


def anonymous_status(result: TargetResult, side: str) -> str:
    """The live status line with the side's name only: no target, no notice, and a
    failure's kind without its message (messages name the provider)."""
    hidden = replace(result, target=side, notices=[], error=None)
    line = render.status_line(hidden)
    if result.status == "error":
        line = f"**{side}** · ✗ failed ({result.error_kind or 'error'})"
    return line


def revealed_status(result: TargetResult, side: str) -> str:
    """The status line after the reveal: side, target, notices and message."""
    return render.status_line(replace(result, target=f"{side}: {result.target}"))


def reveal_markdown(battle: LiveBattle) -> str:
    """Who was who, and the vote (or why there was none)."""
    a, b = (str(t) for t in battle.targets)
    lines = [f"**Model A** was `{html.escape(a)}` · **Model B** was `{html.escape(b)}`."]
    if battle.vote is not None:
        lines.append(f"Your vote: **{CHOICES[battle.vote.choice]}** (saved).")
    elif battle.failed:
        lines.append("Not voted: one of the answers failed; the battle is kept without a vote.")
    if battle.flagged:
        lines.append(f"An answer names a model or maker (“{html.escape(battle.flagged)}”): "
                     "the vote is kept but left out of the scores.")
    return "  \n".join(lines)


def reveal_table(battle: LiveBattle) -> pd.DataFrame:
    """The two metrics rows (the engine's numbers), with their targets."""
    rows = []
    for side, result in zip(SIDES, battle.results):
        data = result.public()
        values = {c: data.get(c) for c in REVEAL_COLUMNS[1:]}
        rows.append({"side": side, **{c: round(v, 1) if isinstance(v, float) else v
                                      for c, v in values.items()}})
    frame = pd.DataFrame(rows, columns=REVEAL_COLUMNS)
    return frame.astype(object).where(frame.notna(), None)


def board_table(board: Leaderboard) -> pd.DataFrame:
    """One row per model, best first; numbers rounded for reading."""
    rows = [[r.rank, r.model, round(r.score), round(r.lower), round(r.upper), r.battles,
             r.wins, r.ties, r.losses,
             None if r.median_ttft_ms is None else round(r.median_ttft_ms),
             None if r.median_decode_tps is None else round(r.median_decode_tps, 1)]
            for r in board.rows]
    frame = pd.DataFrame(rows, columns=BOARD_COLUMNS)
    return frame.astype(object).where(frame.notna(), None)


def win_rate_table(board: Leaderboard) -> pd.DataFrame:
    """Row beats column (ties half), as percentages; empty where two never met."""
    if board.win_rate.empty:
        return pd.DataFrame({"model": []})
    frame = board.win_rate.map(lambda v: None if v is None else round(100 * v))
    frame.insert(0, "model", list(board.win_rate.index))
    return frame.astype(object).where(frame.notna(), None)


def board_note(board: Leaderboard, counts: dict[str, int], class_code: str) -> str:
    """The line above the board: what is counted, and whether it can rank."""
    if not board.rows:
        return (f"Class **{html.escape(class_code)}**: no voted battle yet "
                f"({counts.get('battles', 0)} battles, {counts.get('failed', 0)} failed).")
    text = (f"Class **{html.escape(class_code)}**: {board.battles} voted battles scored "
            f"({counts.get('flagged', 0)} flagged for naming a model and "
            f"{counts.get('failed', 0)} failed ones left out). Bradley–Terry scores "
            f"(mean 1000; +400 means 10:1 odds), 95 % intervals from {board.rounds} "
            "bootstrap rounds.")
    return f"{text}  \n**{board.note}**" if board.note else text


def interval_chart(board: Leaderboard) -> str:
    """Each model's score (dot) and 95 % interval (bar) on one axis, as inline SVG."""
    if not board.rows:
        return ""
    low = min(r.lower for r in board.rows)
    high = max(r.upper for r in board.rows)
    span = max(high - low, 1.0)
    width, left, row_h = 640, 230, 26
    height = row_h * len(board.rows) + 30

    def x(value: float) -> float:
        return left + (value - low) / span * (width - left - 20)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'role="img" aria-label="Scores with 95% intervals" '
             'style="font: 12px sans-serif; max-width: 100%">']
    for k, r in enumerate(board.rows):
        y = 15 + k * row_h
        parts += [f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">'
                  f'{html.escape(r.model[:34])}</text>',
                  f'<line x1="{x(r.lower):.1f}" y1="{y}" x2="{x(r.upper):.1f}" y2="{y}" '
                  'stroke="#0072B2" stroke-width="4" stroke-linecap="round"/>',
                  f'<circle cx="{x(r.score):.1f}" cy="{y}" r="5" fill="#D55E00"/>',
                  f'<text x="{x(r.score):.1f}" y="{y - 8}" text-anchor="middle">'
                  f'{r.score:.0f}</text>']
    axis_y = height - 8
    parts += [f'<text x="{left}" y="{axis_y}">{low:.0f}</text>',
              f'<text x="{width - 20}" y="{axis_y}" text-anchor="end">{high:.0f}</text>',
              "</svg>"]
    return "".join(parts)


def write_board_csv(board: Leaderboard, class_code: str, root: Path | None = None) -> Path:
    """The leaderboard as CSV (one row per model, then the method), in a fresh file."""
    root = root or Path(tempfile.gettempdir()) / "slm-playground-exports"
    root.mkdir(parents=True, exist_ok=True)
    prune(root, KEEP_S)  # a polled board writes often: old files go
    folder = Path(tempfile.mkdtemp(prefix="arena-", dir=root))
    path = folder / f"leaderboard-{class_code}.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(BOARD_COLUMNS)
        writer.writerows(board_table(board).values.tolist())
        writer.writerow([])
        writer.writerow([f"# Bradley-Terry (scale 400, base 10, mean 1000) fitted with "
                         f"scikit-learn; ties half; 95% intervals from {board.rounds} "
                         f"bootstrap rounds; {board.battles} voted battles."])
    return path
