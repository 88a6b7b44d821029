"""The server's model preload (``PLAYGROUND_PRELOAD_MODELS``) on the Compare tab: one
line per model with a progress bar, polled once a second by a ``gr.Timer`` only while
the preload runs; when it ends, the page's lists are re-labelled (the models can run).

The figures are ``playground.preload.PreloadState.snapshot()``'s: bytes on disk and the
total the Hub listed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import gradio as gr

from playground import preload
from playground.preload import PreloadState

POLL_S = 1.0
BAR_CELLS = 20
GB = 1e9


def bar(done: int, total: int | None) -> str:
    """A text progress bar with the percentage, e.g. ``█████░░░… 25 %``."""
    if not total:
        return "listing files…"
    share = min(max(done / total, 0.0), 1.0)
    cells = round(share * BAR_CELLS)
    return f"{'█' * cells}{'░' * (BAR_CELLS - cells)} {share * 100:.0f} %"


def item_line(item: dict[str, Any]) -> str:
    """One model's line: its state, and its bar and figures while it downloads."""
    name = f"`onnx:{html.escape(item['name'])}`"
    status, done, total = item["status"], item["bytes_done"] or 0, item["bytes_total"]
    if status == "downloading":
        figures = f" ({done / GB:.2f} of {total / GB:.2f} GB)" if total else ""
        return f"- {name} downloading {bar(done, total)}{figures}"
    if status == "error":
        return f"- {name} ✗ not downloaded: {html.escape(str(item['error']))}"
    return f"- {name} " + {"waiting": "waiting for its turn", "done": "✓ downloaded",
                           "present": "✓ already here"}.get(status, html.escape(status))


def markdown(state: PreloadState | None) -> str:
    """The preload's progress, or "" when there is none."""
    if state is None:
        return ""
    items = state.snapshot()
    head = ("**This server's models are ready.**" if state.finished else
            "**This server is downloading models for everyone** "
            "(`PLAYGROUND_PRELOAD_MODELS`); the page works meanwhile:")
    return "\n".join([head, *[item_line(i) for i in items]])


def busy(state: PreloadState | None = None) -> set[str]:
    """Models the running preload has yet to finish (a second download of one of them
    into the same folder would collide)."""
    state = state if state is not None else preload.current()
    if state is None or state.finished:
        return set()
    return {i["name"] for i in state.snapshot() if i["status"] in ("waiting", "downloading")}


def build(state: PreloadState | None) -> dict[str, Any]:
    """The progress Markdown and its timer; nothing when there is no preload."""
    if state is None:
        return {}
    return {"state": state,
            "status": gr.Markdown(markdown(state), elem_id="preload-status"),
            "timer": gr.Timer(POLL_S, active=not state.finished)}


def wire(ui: dict[str, Any], inputs: list[Any], outputs: list[Any],
         refresh: Callable[..., list[Any]]) -> None:
    """Poll while the preload runs. Each tick updates the progress; the tick that sees
    it ended also fills ``outputs`` with ``refresh(*inputs)`` (the page's re-labelling
    of what can run) and stops the timer."""
    if not ui:
        return
    state: PreloadState = ui["state"]

    def poll(*values: Any) -> list[Any]:
        running = not state.finished
        rest = [gr.skip()] * len(outputs) if running else refresh(*values)
        return [markdown(state), gr.Timer(active=running), *rest]

    ui["timer"].tick(poll, inputs, [ui["status"], ui["timer"], *outputs],
                     show_progress="hidden", api_visibility="private")
