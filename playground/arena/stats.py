"""The arena leaderboard's statistics: Bradley–Terry scores, bootstrap intervals, win
rates and each model's speed, from voted battles. No Gradio, no store, no clock.

Method (the reference is FastChat's Chatbot Arena code, ``fastchat/serve/monitor/``:
``elo_analysis.py`` ``compute_mle_elo`` and ``rating_systems.py``; read, not copied):

- The Bradley–Terry model says model *i* beats model *j* with probability
  ``1 / (1 + 10 ** ((s_j - s_i) / 400))``. The scores ``s`` are its maximum-likelihood
  fit, found by scikit-learn's ``LogisticRegression`` (no intercept, no penalty) on one
  row per ordered pair of models, with each feature ``ln 10`` for the first model and
  ``-ln 10`` for the second, then put on the Elo-like scale ``400 * coef + 1000``
  (FastChat's scale 400, base 10, initial 1000). The mean score is therefore 1000.
- A win weighs 2 and a tie 1 in each direction, so **a tie counts as half a win for
  each side** (FastChat's ``ptbl_win = 2 * wins + ties``). "Both bad" is a tie
  (FastChat's ``tie (bothbad)``).
- The 95 % interval of each score is the 2.5th and 97.5th percentile over
  ``rounds`` bootstrap fits, each on the battles resampled with replacement
  (``numpy.random.default_rng(seed)``).
- Rank: 1 + how many models are surely better (their lower bound above this model's
  upper bound), as Chatbot Arena ranks; when every pair of intervals overlaps the
  board says there are too few battles to rank.
- Speed per model: the median TTFT (ms) and decode tokens/s of its answers in the same
  battles, as the engine measured them (``playground.metrics``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

SCALE, BASE, INIT_RATING = 400.0, 10.0, 1000.0
DEFAULT_ROUNDS, MAX_ROUNDS = 100, 1000
OUTCOMES = ("model_a", "model_b", "tie", "both_bad")
TOO_FEW = "Too few battles to rank: every model's 95 % interval overlaps every other's."


@dataclass(frozen=True)
class ScoredBattle:
    """One voted battle as the statistics see it.

    ``winner`` is one of :data:`OUTCOMES`; ``ttft_*_ms`` (milliseconds) and
    ``decode_tps_*`` (tokens per second) are the engine's measurements of each side's
    answer, None when not measured.
    """

    model_a: str
    model_b: str
    winner: str
    ttft_a_ms: float | None = None
    ttft_b_ms: float | None = None
    decode_tps_a: float | None = None
    decode_tps_b: float | None = None

    def __post_init__(self) -> None:
        if self.winner not in OUTCOMES:
            raise ValueError(f"winner must be one of {OUTCOMES}; got {self.winner!r}")
        if self.model_a == self.model_b:
            raise ValueError("a battle needs two different models")


@dataclass(frozen=True)
class ModelRow:
    """One model's line of the leaderboard (scores on the Elo-like scale)."""

    model: str
    score: float
    lower: float
    upper: float
    rank: int
    battles: int
    wins: int
    ties: int
    losses: int
    median_ttft_ms: float | None
    median_decode_tps: float | None


@dataclass
class Leaderboard:
    """Rows best first, the win-rate matrix (row beats column, ties half), the number
    of battles counted, and ``note`` when the intervals cannot rank the models."""

    rows: list[ModelRow]
    win_rate: pd.DataFrame
    battles: int
    rounds: int
    note: str = ""
    extra: dict[str, int] = field(default_factory=dict)


Entries = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _entries(battles: Sequence[ScoredBattle], models: Sequence[str]) -> Entries:
    """Each battle's cells of the win table: (battle, row, column, amount) arrays."""
    index = {m: k for k, m in enumerate(models)}
    cells: list[tuple[int, int, int, float]] = []
    for n, b in enumerate(battles):
        a, c = index[b.model_a], index[b.model_b]
        if b.winner == "model_a":
            cells.append((n, a, c, 2.0))
        elif b.winner == "model_b":
            cells.append((n, c, a, 2.0))
        else:  # a tie, "both bad" included: half a win each way
            cells += [(n, a, c, 1.0), (n, c, a, 1.0)]
    owner, rows, cols, amount = zip(*cells) if cells else ((), (), (), ())
    return (np.array(owner, dtype=int), np.array(rows, dtype=int),
            np.array(cols, dtype=int), np.array(amount, dtype=float))


def _table(entries: Entries, n_models: int, counts: np.ndarray) -> np.ndarray:
    """The win table when battle ``k`` is drawn ``counts[k]`` times."""
    owner, rows, cols, amount = entries
    weights = np.zeros((n_models, n_models))
    np.add.at(weights, (rows, cols), amount * counts[owner])
    return weights


def pair_weights(battles: Sequence[ScoredBattle], models: Sequence[str]) -> np.ndarray:
    """``W[i, j]`` = 2 × (wins of i over j) + (ties between i and j): the reference's
    win table, where a tie is half a win for each side."""
    return _table(_entries(battles, models), len(models), np.ones(len(battles)))


def fit_scores(weights: np.ndarray) -> np.ndarray:
    """Maximum-likelihood Bradley–Terry scores on the Elo-like scale for the win table
    ``weights`` (:func:`pair_weights`); mean 1000. A pair that never met adds nothing."""
    n = len(weights)
    rows, labels, sample = [], [], []
    for i, j in combinations(range(n), 2):
        if weights[i, j] + weights[j, i] == 0:
            continue
        x = np.zeros(n)
        x[i], x[j] = math.log(BASE), -math.log(BASE)
        rows += [x, x]
        labels += [1, 0]
        sample += [weights[i, j], weights[j, i]]
    if not rows or len(set(labels[k] for k, w in enumerate(sample) if w > 0)) < 2:
        return np.full(n, INIT_RATING)
    # As the reference: no intercept, no penalty (C=inf), tol 1e-6, lbfgs, 100 iterations.
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6, max_iter=100)
    with warnings.catch_warnings():
        # An undefeated model has no finite maximum (the fit stops at max_iter); its
        # bootstrap interval then shows how little the battles say.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(np.array(rows), np.array(labels), sample_weight=np.array(sample))
    return SCALE * model.coef_[0] + INIT_RATING


def bootstrap(battles: Sequence[ScoredBattle], models: Sequence[str], rounds: int,
              seed: int | None) -> np.ndarray:
    """``rounds`` × models scores, each round fitted on the battles resampled with
    replacement; NaN where a round drew no battle of that model."""
    rng = np.random.default_rng(seed)
    entries, n = _entries(battles, models), len(battles)
    out = np.full((rounds, len(models)), np.nan)
    for r in range(rounds):
        counts = np.bincount(rng.integers(0, n, n), minlength=n)
        weights = _table(entries, len(models), counts)
        present = weights.sum(axis=0) + weights.sum(axis=1) > 0
        out[r, present] = fit_scores(weights)[present]
    return out


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(known)) if known else None


def _speeds(battles: Sequence[ScoredBattle], model: str) -> tuple[float | None, float | None]:
    ttft, tps = [], []
    for b in battles:
        if b.model_a == model:
            ttft.append(b.ttft_a_ms)
            tps.append(b.decode_tps_a)
        elif b.model_b == model:
            ttft.append(b.ttft_b_ms)
            tps.append(b.decode_tps_b)
    return _median(ttft), _median(tps)


def win_rates(weights: np.ndarray, models: Sequence[str]) -> pd.DataFrame:
    """Row beats column: (wins + ties / 2) / battles of that pair; empty where the two
    never met."""
    met = weights + weights.T
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(met > 0, weights / np.where(met > 0, met, 1), np.nan)
    frame = pd.DataFrame(rate, index=list(models), columns=list(models))
    return frame.astype(object).where(frame.notna(), None)


def ranks(lower: np.ndarray, upper: np.ndarray) -> list[int]:
    """1 + the number of models whose lower bound is above this one's upper bound."""
    return [1 + int(np.sum(lower > upper[k])) for k in range(len(lower))]


def leaderboard(battles: Sequence[ScoredBattle], *, rounds: int = DEFAULT_ROUNDS,
                seed: int | None = 0) -> Leaderboard:
    """The leaderboard of ``battles`` (flagged or unvoted ones already left out).
    ``rounds`` bootstrap fits (1 to :data:`MAX_ROUNDS`); ``seed`` makes them repeatable."""
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ValueError(f"rounds must be 1 to {MAX_ROUNDS}; got {rounds}")
    models = sorted({m for b in battles for m in (b.model_a, b.model_b)})
    if not models:
        return Leaderboard([], pd.DataFrame(), 0, rounds)
    weights = pair_weights(battles, models)
    scores = fit_scores(weights)
    samples = bootstrap(battles, models, rounds, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a model absent from all rounds
        lower = np.nanpercentile(samples, 2.5, axis=0)
        upper = np.nanpercentile(samples, 97.5, axis=0)
    rank = ranks(lower, upper)
    rows = []
    for k, model in enumerate(models):
        wins = int(weights[k].sum() - _ties(battles, model)) // 2
        ties = _ties(battles, model)
        played = sum(model in (b.model_a, b.model_b) for b in battles)
        ttft, tps = _speeds(battles, model)
        rows.append(ModelRow(model, float(scores[k]), float(lower[k]), float(upper[k]),
                             rank[k], played, wins, ties, played - wins - ties, ttft, tps))
    rows.sort(key=lambda r: (-r.score, r.model))
    order = [r.model for r in rows]
    rates = win_rates(weights, models).loc[order, order]
    note = TOO_FEW if len(models) > 1 and all(r.rank == 1 for r in rows) else ""
    return Leaderboard(rows, rates, len(battles), rounds, note)


def _ties(battles: Sequence[ScoredBattle], model: str) -> int:
    return sum(b.winner in ("tie", "both_bad") and model in (b.model_a, b.model_b)
               for b in battles)
