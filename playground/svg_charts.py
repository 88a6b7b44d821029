"""Horizontal bar charts as inline SVG text: no script, no font or style from outside,
so a page that embeds them opens offline in any browser.

Every label is escaped (it may be a model's or a user's words).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640  # px of the viewBox; the SVG scales to its container
LABEL_W = 220  # px for the bar labels on the left
VALUE_W = 90  # px for the value printed after each bar
BAR_H, GAP, TOP = 18, 6, 28  # px
LABEL_CHARS = 34  # longer labels are cut (the full one is the bar's tooltip)


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value (finite, >= 0) and fill colour (``#RRGGBB``)."""

    label: str
    value: float
    colour: str


def _colour(value: str) -> str:
    """``value`` when it is a ``#RRGGBB`` colour, else grey: never markup in an attribute."""
    ok = len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdefABCDEF"
                                                     for c in value[1:])
    return value if ok else "#888888"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def bar_chart(title: str, unit: str, bars: Sequence[Bar]) -> str:
    """An ``<svg>`` element: ``title`` on top, one bar per entry scaled to the largest
    value, each followed by its value and ``unit``. Empty string when there is no bar
    with a finite value >= 0 (a chart with nothing to show is left out)."""
    shown = [b for b in bars if isinstance(b.value, (int, float)) and math.isfinite(b.value)
             and b.value >= 0]
    if not shown:
        return ""
    largest = max(b.value for b in shown) or 1.0
    span = WIDTH - LABEL_W - VALUE_W
    height = TOP + len(shown) * (BAR_H + GAP) + GAP
    parts = [f'<svg class="chart" role="img" '
             f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
             f'aria-label="{escape(title)}">',
             f'<text x="0" y="18" class="chart-title">{escape(title)}</text>']
    for row, bar in enumerate(shown):
        y = TOP + row * (BAR_H + GAP)
        width = max(1.0, span * bar.value / largest)
        label = bar.label if len(bar.label) <= LABEL_CHARS else bar.label[:LABEL_CHARS - 1] + "…"
        text_y = y + BAR_H - 4
        parts += [
            f'<g><title>{escape(bar.label)}: {_number(bar.value)} {escape(unit)}</title>',
            f'<text x="{LABEL_W - 6}" y="{text_y}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{LABEL_W}" y="{y}" width="{width:.1f}" height="{BAR_H}" '
            f'fill="{_colour(bar.colour)}"/>',
            f'<text x="{LABEL_W + width + 4:.1f}" y="{text_y}">'
            f'{_number(bar.value)} {escape(unit)}</text></g>',
        ]
    parts.append("</svg>")
    return "".join(parts)
