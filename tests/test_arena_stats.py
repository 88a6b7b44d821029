"""The leaderboard's statistics: Bradley–Terry scores recovered from battles drawn from
known strengths, ties counting half as in FastChat's reference, intervals, win rates,
ranks and speeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from playground.arena.stats import (
    TOO_FEW,
    ScoredBattle,
    fit_scores,
    leaderboard,
    pair_weights,
)

STRENGTHS = {"alpha": 1150.0, "bravo": 1050.0, "charlie": 950.0, "delta": 850.0}  # mean 1000


def drawn(strengths: dict[str, float], n: int, seed: int) -> list[ScoredBattle]:
    """``n`` battles between random pairs, each won as the Bradley–Terry model says."""
    rng = np.random.default_rng(seed)
    names = list(strengths)
    battles = []
    for _ in range(n):
        a, b = rng.choice(len(names), 2, replace=False)
        p_a = 1 / (1 + 10 ** ((strengths[names[b]] - strengths[names[a]]) / 400))
        winner = "model_a" if rng.random() < p_a else "model_b"
        battles.append(ScoredBattle(names[a], names[b], winner))
    return battles


def test_fit_recovers_known_strengths_within_the_intervals() -> None:
    board = leaderboard(drawn(STRENGTHS, 3000, seed=7), rounds=200, seed=1)
    assert [r.model for r in board.rows] == list(STRENGTHS)  # best first
    for row in board.rows:
        true = STRENGTHS[row.model]
        assert row.lower <= true <= row.upper, (row, true)
        assert row.lower < row.score < row.upper
        assert row.upper - row.lower < 120  # 3000 battles pin them down
    assert [r.rank for r in board.rows] == [1, 2, 3, 4]
    assert board.note == "" and board.battles == 3000
    assert np.mean([r.score for r in board.rows]) == pytest.approx(1000, abs=1e-6)


def test_a_tie_counts_half_a_win_as_in_the_reference() -> None:
    # FastChat: ptbl_win = 2 * wins + ties, so one win and one tie of A over B give
    # W[A,B] = 3, W[B,A] = 1: P(A beats B) = 3/4, s_A - s_B = 400 * log10(3).
    battles = [ScoredBattle("A", "B", "model_a"), ScoredBattle("B", "A", "tie")]
    weights = pair_weights(battles, ["A", "B"])
    assert weights.tolist() == [[0, 3], [1, 0]]
    scores = fit_scores(weights)
    gap = 400 * math.log10(3)
    assert scores[0] - scores[1] == pytest.approx(gap, abs=0.05)
    assert scores.tolist() == pytest.approx([1000 + gap / 2, 1000 - gap / 2], abs=0.05)
    # ... which is what three wins against one loss give.
    same = [ScoredBattle("A", "B", "model_a")] * 3 + [ScoredBattle("A", "B", "model_b")]
    assert fit_scores(pair_weights(same, ["A", "B"])) == pytest.approx(scores, abs=0.05)
    # "Both bad" is a tie too (FastChat's "tie (bothbad)").
    bad = [ScoredBattle("A", "B", "model_a"), ScoredBattle("A", "B", "both_bad")]
    assert fit_scores(pair_weights(bad, ["A", "B"])) == pytest.approx(scores, abs=0.05)


def test_pair_weights_by_hand() -> None:
    battles = [ScoredBattle("A", "B", "model_a"), ScoredBattle("B", "A", "model_a"),
               ScoredBattle("A", "B", "tie")]
    # A beat B once (2), B beat A once (2), one tie (1 each way).
    assert pair_weights(battles, ["A", "B"]).tolist() == [[0, 3], [3, 0]]


def test_win_rates_wins_ties_and_speeds() -> None:
    battles = [ScoredBattle("A", "B", "model_a", 100, 300, 50, 20),
               ScoredBattle("B", "A", "model_b", 200, 120, 30, 40),
               ScoredBattle("A", "B", "tie", 140, None, None, 25),
               ScoredBattle("A", "C", "model_b", 90, 10, 60, 99)]
    board = leaderboard(battles, rounds=50, seed=3)
    rows = {r.model: r for r in board.rows}
    assert (rows["A"].wins, rows["A"].ties, rows["A"].losses, rows["A"].battles) == (2, 1, 1, 4)
    assert (rows["B"].wins, rows["B"].ties, rows["B"].losses) == (0, 1, 2)
    assert rows["A"].median_ttft_ms == 110  # median of 100, 120, 140, 90
    assert rows["A"].median_decode_tps == 50  # 50, 40, 60 (one not measured)
    assert rows["B"].median_ttft_ms == 250 and rows["B"].median_decode_tps == 25
    assert board.win_rate.loc["A", "B"] == pytest.approx(2.5 / 3)
    assert board.win_rate.loc["B", "A"] == pytest.approx(0.5 / 3)
    assert board.win_rate.loc["B", "C"] is None  # never met


def test_few_battles_cannot_rank() -> None:
    battles = [ScoredBattle("A", "B", "model_a"), ScoredBattle("A", "B", "model_b"),
               ScoredBattle("B", "A", "tie")]
    board = leaderboard(battles, rounds=100, seed=0)
    assert board.note == TOO_FEW
    assert all(r.rank == 1 for r in board.rows)
    assert all(r.lower <= r.score <= r.upper for r in board.rows)


def test_bootstrap_is_seeded_and_bounded() -> None:
    battles = drawn(STRENGTHS, 200, seed=2)
    one, two = leaderboard(battles, rounds=30, seed=5), leaderboard(battles, rounds=30, seed=5)
    assert [(r.lower, r.upper) for r in one.rows] == [(r.lower, r.upper) for r in two.rows]
    with pytest.raises(ValueError):
        leaderboard(battles, rounds=0)
    with pytest.raises(ValueError):
        leaderboard(battles, rounds=10_000)
    with pytest.raises(ValueError):
        ScoredBattle("A", "A", "tie")
    with pytest.raises(ValueError):
        ScoredBattle("A", "B", "draw")
    assert leaderboard([]).rows == []
