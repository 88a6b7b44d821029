"""Arena battles and votes in the store, on SQLite and PostgreSQL: one vote per battle,
refusals with a reason, filters, and class codes kept apart."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from playground.store import BattleRecord, Store, VoteRefused
from playground.store.errors import StoreError

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


def battle(class_code: str = "class-1", **fields) -> BattleRecord:
    values = dict(prompt="你知道长沙吗？", target_a="onnx:phi-3-mini-4k",
                  target_b="onnx:phi-3.5-mini", answer_a="长沙是…", answer_b="Changsha is…",
                  metrics_a={"ttft_ms": 210.5, "decode_tokens_per_s": 18.25},
                  metrics_b={"ttft_ms": 190.0, "decode_tokens_per_s": 20.0})
    return BattleRecord(class_code, **{**values, **fields})


def test_a_battle_and_its_vote_read_back(store_db: str) -> None:
    with Store(store_db) as store:
        record = battle(category="chinese", created_at=T0, self_identified=True)
        battle_id = store.record_battle(record)
        assert len(battle_id) >= 22
        [unvoted] = store.battles("class-1")
        assert unvoted.id == battle_id and unvoted.battle == record and unvoted.vote is None
        vote = store.vote(battle_id, "session-a", "tie")
        assert (vote.battle_id, vote.session, vote.choice) == (battle_id, "session-a", "tie")
        assert vote.created_at.tzinfo is not None
        [voted] = store.battles("class-1")
        assert voted.vote == vote and store.battle(battle_id) == voted
        assert store.votes_count("class-1") == 1


def test_a_battle_takes_one_vote_only(store_db: str) -> None:
    with Store(store_db) as store:
        battle_id = store.record_battle(battle())
        store.vote(battle_id, "session-a", "a")
        for session, choice in (("session-a", "b"), ("session-b", "a")):
            with pytest.raises(VoteRefused, match="already has its vote"):
                store.vote(battle_id, session, choice)
        assert store.battle(battle_id).vote.choice == "a"
        assert store.votes_count("class-1") == 1


def test_unknown_and_failed_battles_are_not_voted(store_db: str) -> None:
    with Store(store_db) as store:
        failed = store.record_battle(battle(failed=True, answer_b=""))
        with pytest.raises(VoteRefused, match="one of its answers failed"):
            store.vote(failed, "s", "a")
        with pytest.raises(VoteRefused, match="no such battle"):
            store.vote("not-a-battle", "s", "a")
        assert store.battle(failed).battle.failed and store.battle(failed).vote is None
        assert store.votes_count("class-1") == 0
        assert issubclass(VoteRefused, StoreError)


@pytest.mark.parametrize(("session", "choice"), [("s", "A"), ("s", "maybe"), ("", "a"),
                                                 ("s" * 201, "a")])
def test_a_malformed_vote_is_refused(store_db: str, session: str, choice: str) -> None:
    with Store(store_db) as store:
        battle_id = store.record_battle(battle())
        with pytest.raises(VoteRefused):
            store.vote(battle_id, session, choice)  # type: ignore[arg-type]
        assert store.votes_count("class-1") == 0


def test_battles_filter_by_class_date_and_category(store_db: str) -> None:
    with Store(store_db) as store:
        early = store.record_battle(battle(created_at=T0, category="chinese"))
        late = store.record_battle(battle(created_at=T0 + timedelta(hours=2), category="vision"))
        other = store.record_battle(battle("class-2", created_at=T0 + timedelta(hours=1)))
        store.vote(early, "s1", "a")
        store.vote(other, "s2", "b")
        assert [b.id for b in store.battles("class-1")] == [early, late]
        assert [b.id for b in store.battles("class-2")] == [other]
        assert [b.id for b in store.battles("class-1", since=T0 + timedelta(hours=1))] == [late]
        # an aware time in another zone is the same instant
        since = (T0 + timedelta(hours=2)).astimezone(timezone(timedelta(hours=8)))
        assert [b.id for b in store.battles("class-1", since=since)] == [late]
        assert [b.id for b in store.battles("class-1", category="chinese")] == [early]
        assert store.votes_count("class-1") == store.votes_count("class-2") == 1
        assert store.battles("class-3") == [] and store.votes_count("class-3") == 0


def test_times_read_back_aware_in_utc(store_db: str) -> None:
    with Store(store_db) as store:
        paris = timezone(timedelta(hours=1))
        battle_id = store.record_battle(battle(created_at=datetime(2026, 11, 30, 10, tzinfo=paris)))
        created = store.battle(battle_id).battle.created_at
        assert created == T0 and created.utcoffset() == timedelta(0)
        with pytest.raises(Exception, match="timezone-aware"):
            store.record_battle(battle(created_at=datetime(2026, 11, 30, 10)))


@pytest.mark.parametrize("code", ["", "c" * 101])
def test_a_class_code_is_bounded(store_db: str, code: str) -> None:
    with Store(store_db) as store, pytest.raises(ValueError, match="class code"):
        store.record_battle(battle(code))


def test_pair_counts_merge_sides_and_keep_classes_apart(store_db: str) -> None:
    with Store(store_db) as store:
        assert store.pair_counts("class-1") == {}
        owl, lynx, kite = "nim:owl", "openai:lynx", "ollama:kite"
        for a, b, code, failed in ((owl, lynx, "class-1", False), (lynx, owl, "class-1", True),
                                   (kite, owl, "class-1", False), (owl, lynx, "class-2", False)):
            store.record_battle(battle(code, target_a=a, target_b=b, failed=failed))
        # Either side, failed or not: the pair was drawn and shown.
        assert store.pair_counts("class-1") == {(owl, lynx): 2, (owl, kite): 1}
        assert store.pair_counts("class-2") == {(owl, lynx): 1}
        with pytest.raises(ValueError, match="class code"):
            store.pair_counts("")
