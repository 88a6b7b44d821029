"""The arena's pool and pairing: pool from the teacher or the environment, ready targets
only, pairs drawn about equally often with sides shuffled; class codes; the
self-identification flag."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from playground.arena.identity import model_words, names_a_model
from playground.arena.pool import (
    MAX_POOL,
    PairDrawer,
    class_code,
    configured_pool,
    pair_of,
    parse_pool,
    ready_targets,
)
from playground.store import BattleRecord, Store
from playground.validate import InputError
from providers import Target
from providers.readiness import READY, SERVER_DOWN, Readiness
from providers.settings import Settings

POOL = ["ollama:phi3", "ollama:phi3.5", "nim:microsoft/phi-3-mini-4k-instruct",
        "nim:microsoft/phi-3.5-mini-instruct"]


def test_pairs_come_about_equally_often_with_sides_shuffled() -> None:
    drawer = PairDrawer(random.Random(4))
    targets = parse_pool(POOL)
    pairs, sides = Counter(), Counter()
    for _ in range(600):
        a, b = drawer.draw(targets)
        assert a != b
        pairs[frozenset((str(a), str(b)))] += 1
        sides[str(a)] += 1
    assert len(pairs) == 6 and set(pairs.values()) == {100}  # least-drawn first
    # Each target is Model A about half of its 300 battles (binomial: ±4.5 sd).
    assert all(150 - 40 <= n <= 150 + 40 for n in sides.values()), sides


def test_a_target_ready_later_catches_up() -> None:
    drawer = PairDrawer(random.Random(1))
    targets = parse_pool(POOL)
    early = Counter(frozenset(map(str, drawer.draw(targets[:3]))) for _ in range(30))
    assert set(early.values()) == {10}  # the fourth target was not ready
    late = Counter(frozenset(map(str, drawer.draw(targets))) for _ in range(30))
    # Its three pairs first, until the class's counts are level again.
    assert not set(late) & set(early) and set(late.values()) == {10}
    assert set(drawer.drawn().values()) == {10} and len(drawer.drawn()) == 6


def test_two_replicas_on_one_store_keep_the_class_balanced(store_db: str) -> None:
    """Each replica has its own drawer and store connection; they take turns (as a load
    balancer would send a class's battles), and the class's pairs stay balanced."""
    targets = parse_pool(POOL)
    replicas = [(PairDrawer(random.Random(seed)), Store(store_db)) for seed in (1, 2)]
    sides: Counter[str] = Counter()
    try:
        for n in range(60):
            drawer, store = replicas[n % 2]
            a, b = drawer.draw(targets, store.pair_counts("bio"), "bio")
            store.record_battle(BattleRecord("bio", "Hi?", str(a), str(b), "", ""))
            drawer.done(a, b, "bio")
            counts = store.pair_counts("bio")
            done = n + 1
            # Within one of equal after every battle, whichever replica drew it.
            assert sum(counts.values()) == done
            assert max(counts.get(p, 0) for p in pairs_of(targets)) - \
                min(counts.get(p, 0) for p in pairs_of(targets)) <= 1, counts
            sides[str(a)] += 1
        assert set(replicas[0][1].pair_counts("bio").values()) == {10}
        assert replicas[0][0].drawn("bio") == replicas[1][0].drawn("bio") == {}
        # Each target is Model A in about half of its 30 battles (seeded; ±3.6 sd).
        assert all(5 <= n <= 25 for n in sides.values()), sides
    finally:
        for _, store in replicas:
            store.close()


def pairs_of(targets) -> list[tuple[str, str]]:
    return [pair_of(a, b) for i, a in enumerate(targets) for b in targets[i + 1:]]


def test_battles_drawn_and_not_yet_recorded_count_too() -> None:
    """A class pressing "New battle" together on one replica: no battle is recorded yet,
    and still the pairs are spread, the store's counts added to this replica's draws."""
    drawer = PairDrawer(random.Random(3))
    targets = parse_pool(POOL)
    recorded = {pair_of(targets[0], targets[1]): 5}  # the other replica's battles
    drawn = [pair_of(*drawer.draw(targets, recorded, "bio")) for _ in range(5)]
    assert sorted(drawn) == sorted(p for p in pairs_of(targets) if p not in recorded)
    assert drawer.drawn("chem") == {}  # per class
    for pair in drawn:
        drawer.done(*pair, "bio")
    drawer.done(*drawn[0], "bio")  # once too often: ignored
    assert drawer.drawn("bio") == {}


def test_pool_from_the_teacher_or_the_environment() -> None:
    env = Settings({"PLAYGROUND_ARENA_TARGETS": "ollama:phi3, ollama:phi3.5,ollama:phi3"})
    assert configured_pool(env) == [Target("ollama", "phi3"), Target("ollama", "phi3.5")]
    assert configured_pool(env, ["nim:a", "nim:b"]) == [Target("nim", "a"), Target("nim", "b")]
    with pytest.raises(InputError, match="PLAYGROUND_ARENA_TARGETS"):
        configured_pool(Settings({}))
    with pytest.raises(InputError, match="at least two"):
        parse_pool("ollama:phi3")
    with pytest.raises(InputError, match="not PROVIDER:MODEL"):
        parse_pool(["phi3", "ollama:phi3.5"])
    with pytest.raises(InputError, match="limit"):
        parse_pool([f"ollama:m{i}" for i in range(MAX_POOL + 1)])


def test_only_ready_targets_battle() -> None:
    def check(target, settings):
        return Readiness(str(target), SERVER_DOWN if "down" in target.model else READY,
                         "server not running")
    pool = parse_pool(["ollama:up1", "ollama:down", "nim:up2"])
    assert ready_targets(pool, Settings({}), check) == [pool[0], pool[2]]
    with pytest.raises(InputError, match="Fewer than two"):
        ready_targets(pool[:2], Settings({}), check)


def test_class_codes() -> None:
    assert class_code(Settings({})) == "class"
    assert class_code(Settings({"PLAYGROUND_ARENA_NAME": "bio-7b"})) == "bio-7b"
    assert class_code(Settings({"PLAYGROUND_ARENA_NAME": "bio"}), " chem.2 ") == "chem.2"
    for bad in ("-x", "a b", "x" * 41, "<script>", "ü"):
        with pytest.raises(InputError):
            class_code(Settings({}), bad)


def test_answers_that_name_a_model_or_maker_are_flagged() -> None:
    pair = [Target("nim", "microsoft/phi-3.5-mini-instruct"), Target("ollama", "phi3")]
    assert {"phi", "phi-3.5", "phi3", "microsoft"} <= set(model_words(pair))
    assert "instruct" not in model_words(pair) and "mini" not in model_words(pair)
    assert names_a_model(["Changsha is in Hunan.", "I am Phi-3, a Microsoft model."],
                         pair) == "phi"
    assert names_a_model(["As PHI3 I can say..."], pair) == "phi3"
    assert names_a_model(["Built by OpenAI."], []) == "openai"  # a maker, any battle
    # Whole words only: physics, graphite, metadata name nobody.
    assert names_a_model(["Physics and graphite; metadata.", "长沙在湖南。",
                          "A meta-analysis of falcons."], pair) is None
    assert names_a_model(["I was trained by Meta AI."], []) == "meta ai"


def test_the_teachers_prompt_list_and_categories(tmp_path) -> None:
    from playground.arena.prompts import LESSON, arena_prompts, clean_category
    from playground.ui.arena_tab import _listed

    assert arena_prompts(Settings({})) == list(LESSON)
    listed = tmp_path / "prompts.txt"
    listed.write_text("# the teacher's list\nMaths | What is 7 x 8?\n\nchinese|你好？\n",
                      encoding="utf-8")
    prompts = arena_prompts(Settings({"PLAYGROUND_ARENA_PROMPTS": str(listed)}))
    assert [(p.category, p.text) for p in prompts] == [("maths", "What is 7 x 8?"),
                                                       ("chinese", "你好？")]
    assert _listed(prompts, 1) == ("你好？", "chinese")
    assert all(v == {"__type__": "update"} for v in _listed(prompts, 99))
    listed.write_text("no bar here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        arena_prompts(Settings({"PLAYGROUND_ARENA_PROMPTS": str(listed)}))
    assert clean_category("  Coding ") == "coding" and clean_category("") is None
    for bad in ("x" * 41, "a<b>"):
        with pytest.raises(InputError):
            clean_category(bad)
