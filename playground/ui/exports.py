"""CSV and JSON downloads of one comparison: answers, parameters and metrics.

Built only from the request and the engine's results, so no key can end up in a file
(settings are never passed in).
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from playground.metrics import TargetResult
from playground.results import comparison_document, to_dataframe
from providers.base import ChatRequest

KEEP_S = 3600.0


def prune(root: Path, older_than_s: float) -> None:
    """Remove export folders under ``root`` last changed more than ``older_than_s`` ago."""
    cutoff = time.time() - older_than_s
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # removed by another session meanwhile
            pass


@dataclass
class RunRecord:
    """A finished (or stopped) comparison as the exports and charts see it."""

    request: ChatRequest
    results: list[TargetResult]
    wall_ms: float | None
    timeout_s: float
    started: str = field(default_factory=lambda: datetime.now(timezone.utc)
                         .isoformat(timespec="seconds"))

    def parameters(self) -> dict[str, Any]:
        """The request's parameters (images described, not embedded)."""
        r = self.request
        return {
            "prompt": r.prompt, "system": r.system,
            "images": [{"name": i.name, "mime": i.mime, "bytes": len(i.data)} for i in r.images],
            "max_tokens": r.max_tokens, "temperature": r.temperature, "top_p": r.top_p,
            "seed": r.seed, "timeout_s": self.timeout_s,
            "targets": [res.target for res in self.results], "started": self.started,
        }


def json_document(record: RunRecord) -> dict[str, Any]:
    """``{"parameters", "wall_ms", "results"}``; each result also has its notices and
    the service's extra measurements (``details``)."""
    document = comparison_document(record.results, record.wall_ms)
    for row, result in zip(document["results"], record.results):
        row["notices"] = list(result.notices)
        row["details"] = dict(result.details)
    return {"parameters": record.parameters(), **document}


def write_csv(record: RunRecord, path: Path) -> Path:
    """One row per target: every result column, then the run's parameters."""
    frame = to_dataframe(record.results)
    frame["notices"] = [" | ".join(r.notices) for r in record.results]
    frame["wall_ms"] = None if record.wall_ms is None else round(record.wall_ms, 1)
    for name, value in record.parameters().items():
        if name == "targets":
            continue
        if name == "images":
            value = ";".join(i["name"] for i in value)
        frame[name] = value
    frame.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def write_exports(record: RunRecord, root: Path | None = None) -> tuple[Path, Path]:
    """Write ``slm-playground-<time>.csv`` and ``.json`` into a fresh folder under
    ``root``, removing folders older than KEEP_S (the page has fetched them by then)."""
    root = root or Path(tempfile.gettempdir()) / "slm-playground-exports"
    root.mkdir(parents=True, exist_ok=True)
    prune(root, KEEP_S)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=root))
    stem = "slm-playground-" + record.started.replace(":", "").replace("+0000", "Z")
    json_path = folder / f"{stem}.json"
    json_path.write_text(json.dumps(json_document(record), ensure_ascii=False, indent=2),
                         encoding="utf-8")
    return write_csv(record, folder / f"{stem}.csv"), json_path
