"""One row of a scenario run: the runner produces it, the store keeps it, reports show it.

Its own module so that the store and the runner both import it and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.metrics import TargetResult
from playground.scenarios.checks import CheckResult


@dataclass
class RunRow:
    """One target's answer to one case in one round, with its checks."""

    case: str
    group: str
    repeat: int  # 1-based within its kind: warm-up runs and measured runs count apart
    warmup: bool
    mode: str  # concurrent | sequential | not sent
    result: TargetResult
    checks: list[CheckResult] = field(default_factory=list)
