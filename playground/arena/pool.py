"""The arena's pool of targets and how battles draw their pair from it.

The pool is the teacher's pick in the Arena tab, else ``PLAYGROUND_ARENA_TARGETS``
(comma-separated ``PROVIDER:MODEL``), read through :class:`providers.settings.Settings`
like every other variable. Pairs are drawn among the targets that are ready now
(:mod:`providers.readiness`), the pairs with the fewest battles in the class first (as the
store recorded them on every replica), so that each pair comes about equally often;
which side is "Model A" is a coin toss.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from itertools import combinations

import providers
from playground.validate import InputError
from providers import Target
from providers.errors import ConfigError
from providers.readiness import Readiness, target_readiness
from providers.settings import Settings

TARGETS_VAR = "PLAYGROUND_ARENA_TARGETS"
CLASS_VAR = "PLAYGROUND_ARENA_NAME"
MAX_POOL = 12  # 66 pairs: a class sees each pair only a few times past that
DEFAULT_CLASS = "class"
CLASS_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def parse_pool(specs: str | Sequence[str] | None) -> list[Target]:
    """The targets of a pool (a comma-separated string or a list), each once, in order;
    InputError naming every problem (a bad target, fewer than 2, more than
    :data:`MAX_POOL`)."""
    if isinstance(specs, str):
        specs = specs.split(",")
    problems, targets = [], []
    for spec in [s.strip() for s in specs or [] if s and s.strip()]:
        try:
            target = providers.parse_target(spec)
        except ConfigError as exc:
            problems.append(exc.message)
            continue
        if target not in targets:
            targets.append(target)
    if len(targets) > MAX_POOL:
        problems.append(f"{len(targets)} targets in the arena's pool; the limit is {MAX_POOL}.")
    if len(targets) < 2 and not problems:
        problems.append("The arena needs at least two targets in its pool.")
    if problems:
        raise InputError(problems)
    return targets


def configured_pool(settings: Settings, picked: Sequence[str] | None = None) -> list[Target]:
    """The teacher's ``picked`` targets, else :data:`TARGETS_VAR`; InputError when
    neither gives a pool (:func:`parse_pool`)."""
    chosen = [p for p in picked or [] if p and p.strip()]
    if chosen:
        return parse_pool(chosen)
    configured = settings.get(TARGETS_VAR)
    if not configured:
        raise InputError([f"No arena pool: pick two or more targets, or set {TARGETS_VAR} "
                          "on the server (comma-separated PROVIDER:MODEL)."])
    return parse_pool(configured)


def class_code(settings: Settings, typed: str | None = None) -> str:
    """The class code: the typed one, else :data:`CLASS_VAR`, else ``class``. Letters,
    digits, ``_ . -``, 1 to 40 characters (InputError otherwise)."""
    code = (typed or "").strip() or (settings.get(CLASS_VAR) or "").strip() or DEFAULT_CLASS
    if not CLASS_PATTERN.fullmatch(code):
        raise InputError(["A class code is 1 to 40 letters, digits, '_', '.' or '-', "
                          "starting with a letter or digit."])
    return code


def ready_targets(pool: Sequence[Target], settings: Settings,
                  check: Callable[[Target, Settings], Readiness] = target_readiness,
                  ) -> list[Target]:
    """The pool's targets that can run now (may probe a local server: call it off the
    event loop); InputError saying what the others need when fewer than two can."""
    found = [(t, check(t, settings)) for t in pool]
    ready = [t for t, r in found if r.ready]
    if len(ready) < 2:
        # Said to the teacher setting the pool up; a battle's own panes never name a target.
        lines = [f"{r.target}: {r.describe()}" for _, r in found if not r.ready]
        raise InputError(["Fewer than two of the arena's targets can run now.", *lines])
    return ready


Pair = tuple[str, str]  # two target names, sorted


def pair_of(first: Target | str, second: Target | str) -> Pair:
    """The pair two targets make, whichever side each took."""
    low, high = sorted((str(first), str(second)))
    return low, high


class PairDrawer:
    """Draws battle pairs so that every pair of a pool comes about equally often:
    among the pairs with the fewest battles, one at random, sides shuffled.

    The battles counted are those the store ``recorded`` for the class (every replica's,
    :meth:`playground.store.Store.pair_counts`) plus the ones this process drew and has
    not yet recorded (:meth:`done` ends that), so that a class pressing "New battle"
    together is spread over the pairs too. A battle still streaming on another replica
    counts once it is recorded. Thread-safe."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()
        self._drawn: dict[str, Counter[Pair]] = {}  # class -> drawn, not yet recorded
        self._lock = threading.Lock()

    def draw(self, ready: Sequence[Target], recorded: Mapping[Pair, int] | None = None,
             class_code: str = "") -> tuple[Target, Target]:
        """(Model A, Model B) from ``ready`` (at least two targets), given the battles
        the class ``recorded`` per pair (None: none); counted as drawn until
        :meth:`done`."""
        if len(ready) < 2:
            raise ValueError("a battle needs two targets")
        by_name = {str(t): t for t in ready}
        pairs = list(combinations(sorted(by_name), 2))
        recorded = recorded or {}
        with self._lock:
            drawn = self._drawn.setdefault(class_code, Counter())
            battles = {p: recorded.get(p, 0) + drawn[p] for p in pairs}
            fewest = min(battles.values())
            pair = self._rng.choice([p for p in pairs if battles[p] == fewest])
            drawn[pair] += 1
            first, second = pair if self._rng.random() < 0.5 else pair[::-1]
        return by_name[first], by_name[second]

    def done(self, first: Target, second: Target, class_code: str = "") -> None:
        """The battle of ``first`` and ``second`` was recorded (the store counts it now)
        or never will be: stop counting it as drawn."""
        pair = pair_of(first, second)
        with self._lock:
            drawn = self._drawn.get(class_code)
            if drawn is None or drawn[pair] <= 0:
                return
            drawn[pair] -= 1
            if drawn[pair] == 0:
                del drawn[pair]
            if not drawn:
                del self._drawn[class_code]

    def drawn(self, class_code: str = "") -> dict[Pair, int]:
        """The battles this process drew for a class and has not recorded, per pair."""
        with self._lock:
            return dict(self._drawn.get(class_code, {}))
