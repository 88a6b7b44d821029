"""Benchmark: how long the arena's leaderboard takes to refit (Bradley–Terry fit plus
the bootstrap), for classes of a few to many voted battles. Every open Arena tab polls
the board; a refit happens once per new vote and the others are served from the cache
(``playground.arena.battles.Arena.leaderboard``), so this is the delay a vote adds
before it shows.

Usage: python -m bench.arena_leaderboard [--models 4] [--rounds 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.arena.stats import ScoredBattle, leaderboard  # noqa: E402


def battles(n_models: int, n: int, seed: int) -> list[ScoredBattle]:
    """``n`` battles between random pairs, won as Bradley–Terry says for strengths
    spread 100 points apart, a tenth of them ties."""
    rng = np.random.default_rng(seed)
    strengths = [1000 + 100 * (k - n_models / 2) for k in range(n_models)]
    out = []
    for _ in range(n):
        a, b = rng.choice(n_models, 2, replace=False)
        p_a = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
        draw = rng.random()
        winner = "tie" if draw < 0.1 else "model_a" if draw < 0.1 + 0.9 * p_a else "model_b"
        out.append(ScoredBattle(f"model-{a}", f"model-{b}", winner))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    leaderboard(battles(args.models, 20, 0), rounds=5)  # first-use imports, not timed
    for n in (10, 30, 100, 300, 1000, 3000):
        data = battles(args.models, n, 1)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            board = leaderboard(data, rounds=args.rounds)
            times.append(time.perf_counter() - started)
        widths = [r.upper - r.lower for r in board.rows]
        print(f"{n:5d} battles, {args.models} models, {args.rounds} rounds: refit median "
              f"{statistics.median(times) * 1000:7.1f} ms (min {min(times) * 1000:.1f}); "
              f"mean 95% interval width {statistics.mean(widths):6.1f} points"
              f"{'; too few to rank' if board.note else ''}")


if __name__ == "__main__":
    main()
