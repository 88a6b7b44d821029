"""How the page looks: one colour per target slot, short target labels, and the CSS.

Target ``i`` of a comparison (its pane ``#slot-i``, its row in the metrics table, its
bars in the charts) always gets ``PALETTE[i]``, so a class can follow one model across
the page. The palette is Okabe & Ito's colour-blind-safe set (yellow left out: it
vanishes on a white projector screen), strongest colours first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
LABEL_LIMIT = 24  # characters: longer labels are cut in the middle, with "…"


def colour(index: int) -> str:
    """The colour of target slot ``index`` (0-based; wraps past the palette)."""
    return PALETTE[index % len(PALETTE)]


def _short(target: str) -> str:
    provider, _, model = target.partition(":")
    model = model.rsplit("/", 1)[-1]  # "microsoft/phi-3-mini-4k-instruct" -> "phi-3-mini-4k-instruct"
    model = re.sub(r"-instruct$", "", model, flags=re.IGNORECASE)
    label = f"{provider}:{model}" if model else target
    if len(label) > LABEL_LIMIT:
        half = (LABEL_LIMIT - 1) // 2
        label = f"{label[:half]}…{label[-(LABEL_LIMIT - 1 - half):]}"
    return label


def short_labels(targets: Sequence[str]) -> list[str]:
    """Readable chart labels for ``targets``: the organisation prefix and "-instruct"
    dropped (``nim:microsoft/phi-3-mini-4k-instruct`` -> ``nim:phi-3-mini-4k``), at most
    :data:`LABEL_LIMIT` characters. Labels stay unique: a clash keeps the slot number."""
    labels = [_short(t) for t in targets]
    return [f"{i + 1}. {label}" if labels.count(label) > 1 else label
            for i, label in enumerate(labels)]


def empty_values(count: int) -> Callable[[], tuple[None, ...] | None]:
    """A page-load handler that empties ``count`` number fields ("use the default").

    Gradio shows ``gr.Number(None)`` as 0 and sends 0 (gradio-app/gradio#6728, still so
    in 6.31); a value set after the page has loaded stays empty, and the handlers then
    get None. Wire it with ``gr.on(None, ...)``: it runs once when the page loads."""
    def start_empty() -> tuple[None, ...] | None:
        return None if count == 1 else (None,) * count
    return start_empty


def _pane_colours(slots: int) -> str:
    return "\n".join(f"#slot-{i} {{--pane-colour: {colour(i)}}}" for i in range(slots))


# Panes: one grid, as many equal columns (at least 320 px) as fit; two targets take half
# the row each. Each pane spans two grid rows shared through `subgrid`, so answers start
# at the same height even when one status line wraps to more lines than its neighbour.
# Hidden slots are not in the layout (display: none), so they leave no gap.
_CSS = """
#panes {display: grid !important; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr));
        gap: 4px var(--layout-gap); align-items: stretch}
#panes > .pane-slot {display: grid !important; grid-row: span 2; grid-template-rows: subgrid;
                     min-width: 0 !important; gap: 4px}
#panes .block.status-line {border-left: 6px solid var(--pane-colour); padding: 0 0 0 8px;
                           align-self: end}
#panes .block.status-line p {margin: 0}
#panes .block.status-line strong {color: var(--pane-colour)}
#panes .block.pane-answer {border-top: 5px solid var(--pane-colour)}
#intro h1 {margin-bottom: 4px}
#intro p {margin: 0}
#images-row {align-items: center}
#images {max-width: 640px}
#metrics th, #metrics th * {white-space: normal !important; overflow-wrap: anywhere}
#metrics {font-size: var(--text-sm)}
#metrics .table-wrap {scrollbar-width: auto; scrollbar-color: var(--neutral-400) transparent}
"""


def css(slots: int) -> str:
    """The page's CSS (given to ``demo.launch``) for ``slots`` panes."""
    return _CSS + _pane_colours(slots) + "\n"
