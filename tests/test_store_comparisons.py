"""Saved comparisons in the store, on SQLite and PostgreSQL: unguessable ids, lists by
owner only, a bounded size, no secret kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from playground.store import MAX_DOCUMENT_BYTES, DocumentRefused, Store, StoreError

DOCUMENT = {"title": "长沙, then its food", "targets": ["nim:phi-3.5", "ollama:phi3.5"],
            "turns": [{"user": "你知道长沙吗？"}, {"user": "and its food?"}],
            "metrics": [{"ttft_ms": 120.5, "total_ms": 900.25}]}


def test_a_saved_comparison_reads_back_whole(store_db: str) -> None:
    with Store(store_db) as store:
        before = datetime.now(timezone.utc)
        saved = store.save_comparison(DOCUMENT, owner="session-1")
        assert store.load_comparison(saved) == DOCUMENT
        [summary] = store.list_comparisons("session-1")
        assert (summary.id, summary.title, summary.targets, summary.turns) == (
            saved, DOCUMENT["title"], DOCUMENT["targets"], 2)
        assert summary.created_at.tzinfo is not None
        assert before - timedelta(seconds=1) <= summary.created_at <= datetime.now(timezone.utc)


def test_ids_are_unguessable_and_unknown_ones_load_nothing(store_db: str) -> None:
    with Store(store_db) as store:
        ids = {store.save_comparison({"title": str(n)}, None) for n in range(20)}
        assert len(ids) == 20 and all(len(i) >= 22 for i in ids)  # 16 random bytes each
        for unknown in ("nope", "", "x" * 40, "../etc/passwd", "a' OR '1'='1"):
            assert store.load_comparison(unknown) is None


def test_a_list_shows_only_its_owners_comparisons_newest_first(store_db: str) -> None:
    with Store(store_db) as store:
        mine = [store.save_comparison({"title": f"mine {n}"}, "me") for n in range(3)]
        theirs = store.save_comparison({"title": "theirs"}, "them")
        nobody = store.save_comparison({"title": "nobody's"}, None)
        listed = store.list_comparisons("me")
        assert [s.id for s in listed] == mine[::-1]
        assert [s.id for s in store.list_comparisons("them")] == [theirs]
        assert [s.id for s in store.list_comparisons("me", limit=2)] == mine[:0:-1]
        # Not listed to anyone, but opened by whoever has the link.
        assert store.load_comparison(nobody) == {"title": "nobody's"}


def test_a_document_over_the_bound_is_refused_with_its_size(store_db: str) -> None:
    with Store(store_db) as store:
        big = {"title": "images", "image": "A" * MAX_DOCUMENT_BYTES}
        with pytest.raises(DocumentRefused, match=r"5\.0 MB; a saved comparison is at most 5 MB"):
            store.save_comparison(big, "me")
        assert store.list_comparisons("me") == []
        just_under = {"image": "A" * (MAX_DOCUMENT_BYTES - 100)}
        assert store.load_comparison(store.save_comparison(just_under, "me")) == just_under


@pytest.mark.parametrize("document", [
    ["not", "an", "object"], {"turns": "three"}, {"targets": "nim:x"}, {"x": float("nan")},
    {"x": object()}, {"turns": -1}])
def test_what_is_not_a_comparison_is_refused(store_db: str, document) -> None:
    with Store(store_db) as store, pytest.raises(StoreError):
        store.save_comparison(document, "me")


def test_an_owner_key_is_bounded(store_db: str) -> None:
    with Store(store_db) as store, pytest.raises(ValueError, match="1 to 200 characters"):
        store.save_comparison({}, "k" * 201)


def test_no_secret_is_kept(store_db: str) -> None:
    key = "nvapi-secret-key-value-123"
    with Store(store_db, [key]) as store:
        saved = store.save_comparison({"title": f"echo {key}", "answer": f"it said {key}"}, "me")
        assert store.load_comparison(saved) == {"title": "echo ***", "answer": "it said ***"}
        assert store.list_comparisons("me")[0].title == "echo ***"
