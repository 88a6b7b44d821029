"""Results as a pandas DataFrame (UI table, CSV) and as the CLI's JSON document."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from playground.metrics import RESULT_FIELDS, TargetResult

TABLE_COLUMNS = [f for f in RESULT_FIELDS if f not in ("text", "error")] + ["partial"]


def to_dataframe(results: Sequence[TargetResult], *, with_text: bool = True) -> pd.DataFrame:
    """One row per target, columns in contract order (``text`` and ``error`` optional)."""
    rows = [r.public() for r in results]
    columns = [*RESULT_FIELDS, "partial"] if with_text else TABLE_COLUMNS
    frame = pd.DataFrame(rows, columns=columns)
    for name in ("ttft_ms", "total_ms", "decode_tokens_per_s", "itl_p50_ms", "itl_p95_ms",
                 "chars_per_s"):
        frame[name] = frame[name].astype("float64").round(1)
    for name in ("prompt_tokens", "completion_tokens"):
        frame[name] = frame[name].astype("Int64")
    return frame


def comparison_document(results: Sequence[TargetResult], wall_ms: float | None) -> dict[str, Any]:
    """``{"wall_ms", "results": [...]}`` with JSON-safe values (no NaN), in target order."""
    return {
        "wall_ms": _round(wall_ms),
        "results": [{k: _round(v) for k, v in r.public().items()} for r in results],
    }


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 2)
    return value
