"""Fault matrix: every provider route x every fault, against the fakes, as a Markdown table.

Each cell shows the error kind the engine reports, ``+partial`` when text received before
the fault was kept, and the time from dispatch to the error in ms. A healthy control target
runs next to the faulty one in every comparison; the last column says whether it finished
normally each time. Usage: python -m bench.fault_matrix [--timeout 1.0]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import compare  # noqa: E402
from fake_services.faults import FAULTS, ROUTES, inject  # noqa: E402
from fake_services.server import FakeServer  # noqa: E402
from fake_services.services import Behaviours, wire_all  # noqa: E402
from providers.base import ChatRequest  # noqa: E402
from providers.settings import Settings  # noqa: E402


def cell(route: str, fault: str, timeout_s: float) -> tuple[str, bool]:
    behaviours = Behaviours()
    behaviours.default.pieces = ["one", " two", " three", " four", " five"]
    behaviours.default.first_s, behaviours.default.interval_s = 0.0, 0.005
    with FakeServer() as server:
        env, target = inject(server, wire_all(server, behaviours), route, fault,
                             timeout_s=timeout_s)
        # A healthy target on another provider runs alongside the faulty one.
        control = "ollama:control" if target.provider != "ollama" else "openai:control"
        results, _ = compare(Settings(env), [target.target, control],
                             ChatRequest("", "Hello?", max_tokens=16), timeout_s=timeout_s)
    faulty = results[0]
    control_ok = all(r.status == "ok" for r in results[1:])
    kind = faulty.error_kind or faulty.status
    partial = "+partial" if faulty.partial else ""
    return f"{kind}{partial} ({faulty.total_ms:.0f} ms)", control_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    logging.getLogger("azure").setLevel(logging.ERROR)  # "Incomplete download." per cut-off
    routes = [r for r in ROUTES if r != "github"]
    print(f"| fault | {' | '.join(routes)} | others unaffected |")
    print("|---" * (len(routes) + 2) + "|")
    for fault in ("429-short", *[f for f in FAULTS if f != "429-short"]):
        cells, controls = [], []
        for route in routes:
            text, ok = cell(route, fault, args.timeout)
            cells.append(text)
            controls.append(ok)
        print(f"| {fault} | {' | '.join(cells)} | {'yes' if all(controls) else 'NO'} |")
    print(f"\nidle timeout {args.timeout:g} s; github answers 410 (retired) to everything")


if __name__ == "__main__":
    main()
