"""Plain-text tables for the CLI, with one symbol for every missing value."""

from __future__ import annotations

import pandas as pd

MISSING = "-"  # pandas would print <NA>, NaN or None depending on the column's dtype


def frame_text(frame: pd.DataFrame) -> str:
    """``frame`` as a text table without its index; every missing value shows as "-"."""
    shown = frame.astype(object).where(frame.notna(), MISSING)
    return shown.to_string(index=False)
