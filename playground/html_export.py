"""A saved comparison as one self-contained HTML file: every pane's turns with the
answers rendered from Markdown, the metrics table and bar charts (inline SVG).

Safe and offline by construction:

* Every string from a model or a user is escaped; Markdown is rendered with raw HTML
  off, and links and images off (``[a](url)`` stays text), so no content adds a tag,
  an attribute, a script or a request.
* The page loads nothing: styles are inline, charts are SVG text, the user's images are
  embedded (``data:`` URLs of a known image type, base64 checked). A
  Content-Security-Policy (``default-src 'none'``) forbids scripts and requests even if
  something slipped through.
* UTF-8 with a font list that covers Chinese, Japanese and Korean.

No Gradio here: the CLI uses it too.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from markdown_it import MarkdownIt

from playground import comparison_doc as doc
from playground.svg_charts import Bar, bar_chart
from playground.ui.style import colour, short_labels

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# metric -> (title, unit), the charts drawn (one bar per target per turn).
CHARTS = {"ttft_ms": ("Time to first token (lower is better)", "ms"),
          "total_ms": ("Total time (lower is better)", "ms"),
          "decode_tokens_per_s": ("Decode speed (higher is better)", "tokens/s")}
TABLE = ("target", "turn", "status", *doc.METRICS)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_MARKDOWN = (MarkdownIt("commonmark", {"html": False})
             .enable(["table", "strikethrough"]).disable(["link", "image", "autolink"]))

STYLE = """
.slm-export{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",
 "Noto Sans CJK SC","PingFang SC","Hiragino Sans","Microsoft YaHei","Malgun Gothic",
 sans-serif;line-height:1.5;color:#1f2328;max-width:1400px;margin:0 auto;padding:0 12px}
.slm-export .meta{color:#57606a}
.slm-export table.metrics{border-collapse:collapse;font-size:.85em;display:block;
 overflow-x:auto}
.slm-export table.metrics th,.slm-export table.metrics td{border:1px solid #d0d7de;
 padding:2px 6px;text-align:right;white-space:nowrap}
.slm-export table.metrics td:first-child,.slm-export table.metrics th{text-align:left}
.slm-export .charts{margin-top:12px;display:grid;grid-template-columns:repeat(auto-fit,minmax(500px,1fr));
 gap:12px}
.slm-export .chart{max-width:100%;height:auto}
.slm-export .chart text{font-size:12px;fill:#1f2328}
.slm-export .chart .chart-title{font-size:14px;font-weight:600}
.slm-export .panes{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));
 gap:16px}
.slm-export .pane{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;
 border-top-width:6px;min-width:0}
.slm-export .user{white-space:pre-wrap;background:#f6f8fa;border-radius:6px;
 padding:6px 8px;overflow-wrap:anywhere}
.slm-export .turn-image{max-height:160px;max-width:100%;margin:4px 4px 0 0}
.slm-export .answer{overflow-wrap:anywhere}
.slm-export .answer pre{overflow-x:auto;background:#f6f8fa;padding:6px}
.slm-export .status-error,.slm-export .status-stopped{color:#b35900}
.slm-export .small{font-size:.85em;color:#57606a}
"""


def answer_html(text: str) -> str:
    """An answer's Markdown as safe HTML (raw HTML, links and images shown as text)."""
    return _MARKDOWN.render(text or "")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return escape(str(value))


def metrics_table(document: Any) -> str:
    """The metrics as an HTML table, one row per target per turn."""
    head = "".join(f"<th>{escape(c)}</th>" for c in TABLE)
    rows = "".join("<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in TABLE) + "</tr>"
                   for row in doc.metric_rows(document))
    return f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def charts(document: Any) -> str:
    """One SVG bar chart per metric in :data:`CHARTS` (left out when no bar has it)."""
    panes = doc.panes(document)
    labels = short_labels([p.target for p in panes])
    many_turns = doc.turn_count(document) > 1
    drawn = []
    for metric, (title, unit) in CHARTS.items():
        bars = [Bar(f"{label} · turn {t.number}" if many_turns else label,
                    t.metrics.get(metric), colour(i))
                for i, (label, pane) in enumerate(zip(labels, panes)) for t in pane.turns
                if isinstance(t.metrics.get(metric), (int, float))]
        drawn.append(bar_chart(title, unit, bars))
    return "".join(f"<div>{svg}</div>" for svg in drawn if svg)


def _parameters(values: dict[str, Any]) -> str:
    shown = [f"{escape(k)}={escape(str(v))}" for k, v in values.items()
             if k != "system" and v is not None]
    return ", ".join(shown) or "defaults"


def _image_html(image: dict[str, Any]) -> str:
    """The image inline (a ``data:`` URL, allowed by the CSP) when it is a known image
    type and its data is plain base64, else its name and type only."""
    name, mime, data = (str(image.get("name", "image")), str(image.get("mime", "")),
                        image.get("data"))
    if mime in IMAGE_TYPES and isinstance(data, str) and _BASE64.fullmatch(data):
        return (f'<img class="turn-image" alt="{escape(name)}" title="{escape(name)}" '
                f'src="data:{mime};base64,{data}">')
    return f'<span class="small">[image {escape(name)} ({escape(mime)})]</span>'


def _turn_html(turn: doc.TurnView) -> str:
    images = "".join(_image_html(i) for i in turn.images)
    parts = [f'<h4>Turn {turn.number}</h4>',
             f'<div class="user">{escape(turn.user)}</div>']
    if images:
        parts.append(f'<div class="images">{images}</div>')
    if turn.parameters.get("system"):
        parts.append(f'<div class="small">System: {escape(str(turn.parameters["system"]))}'
                     "</div>")
    parts.append(f'<div class="small">Parameters: {_parameters(turn.parameters)}</div>')
    parts.append(f'<div class="answer">{answer_html(turn.answer)}</div>')
    if turn.status != "ok":
        parts.append(f'<div class="status-{escape(turn.status)}">{escape(turn.status)}'
                     f'{": " + escape(turn.error) if turn.error else ""}</div>')
    parts += [f'<div class="small">Note: {escape(n)}</div>' for n in turn.notices]
    return "".join(parts)


def conversation(document: Any) -> str:
    """Every pane side by side, each with its turns in order."""
    out = []
    for i, pane in enumerate(doc.panes(document)):
        turns = "".join(_turn_html(t) for t in pane.turns)
        own = ('<p class="small">Unsynced: its own system prompt and parameters.</p>'
               if pane.overrides else "")
        out.append(f'<section class="pane" style="border-top-color:{colour(i)}">'
                   f'<h3>{escape(pane.target)}</h3>{own}{turns}</section>')
    return f'<div class="panes">{"".join(out)}</div>'


def comparison_body(document: Any, note: str = "") -> str:
    """The comparison as one ``<div class="slm-export">`` (used by the page's read-only
    view too); ``note`` is trusted HTML shown under the heading."""
    data = document if isinstance(document, dict) else {}
    targets = ", ".join(escape(p.target) for p in doc.panes(data))
    saved = f'Saved {escape(str(data["saved_at"]))} · ' if data.get("saved_at") else ""
    return (f'<div class="slm-export"><h1>{escape(doc.title(data))}</h1>'
            f'<p class="meta">{saved}targets: {targets} · '
            f'{doc.turn_count(data)} turn(s)</p>{note}'
            f'<h2>Metrics</h2><p class="small">Measured by the playground\'s engine from '
            "each request's dispatch (ms); token counts as the service reported or a "
            f"tokenizer counted (tokens_source).</p>{metrics_table(data)}"
            f'<div class="charts">{charts(data)}</div>'
            f'<h2>Conversation</h2>{conversation(data)}</div>')


def render_html(document: Any) -> str:
    """The whole self-contained page for ``document``."""
    title = escape(doc.title(document))
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title} · SLM Playground</title><style>{STYLE}</style></head>"
            f"<body>{comparison_body(document)}"
            '<p class="slm-export small">Exported from SLM Playground. This file loads '
            "nothing from the network.</p></body></html>\n")

