"""Save and share from the page (issue 15): Save keeps the whole comparison (never keys),
its link opens it read-only, "Continue from here" copies it, lists are per session on a
public server, bad ids say why. Handlers against a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from playground import saved
from playground.conversation import Conversation, Exchange, Params
from playground.metrics import TargetResult
from playground.policy import Policy
from playground.store import Store
from playground.ui import saved_handlers
from playground.ui.exports import RunRecord
from playground.ui.handlers import COMPARE_OUTPUTS
from playground.ui.saved_handlers import SavedHandlers
from playground.ui.session import Sessions
from providers.base import ChatRequest
from providers.settings import Settings
from tests.ui_support import unpack

SERVER_KEY = "nvapi-server-key-0123456789abcdefghij"
SESSION_KEY = "sk-session-key-0123456789abcdefghijkl"
BASE = "http://127.0.0.1:7777/"


def result(target: str, text: str, ttft: float) -> TargetResult:
    provider, _, model = target.partition(":")
    return TargetResult(target, provider, model, status="ok", text=text, ttft_ms=ttft,
                        total_ms=ttft * 3, completion_tokens=5, tokens_source="reported")


def two_turns() -> Conversation:
    """Two panes, two turns; the second pane unsynced with its own system prompt; an
    answer that echoes the session's key and the server's."""
    shared = Params(system="Be brief.", max_tokens=64)
    chat = Conversation.start(["ollama:phi3.5", "openai:gpt-4o-mini"], shared)
    for index, text in enumerate(["In Hunan.", "Hunan."]):
        chat.record(index, Exchange(1, "长沙在哪里？", shared,
                                    result(chat.panes[index].target, text, 100.0 * index)))
    chat.panes[1].synced = False
    chat.panes[1].overrides = Params(system="You are a pirate.", temperature=1.0)
    for index, text in enumerate([f"Spicy food. {SERVER_KEY}", f"Arr {SESSION_KEY}"]):
        answer = result(chat.panes[index].target, text, 150.0)
        chat.record(index, Exchange(2, "and its food?", chat.panes[index].params(chat.shared),
                                    answer))
    return chat


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "saved.db", [SERVER_KEY])
    yield opened
    opened.close()


def handlers_for(store: Store, *, public: bool) -> SavedHandlers:
    settings = Settings.load(dotenv_path=None, environ={"NVIDIA_API_KEY": SERVER_KEY})
    return SavedHandlers(Sessions(settings, Policy(public=public)), lambda: store)


def link_request(query: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(session_hash="other", query_params=query, headers={})


def comparison_id(link: dict[str, Any]) -> str:
    return link["value"].split("?comparison=")[1]


def test_save_keeps_every_turn_and_no_key_and_the_link_opens_it_read_only(store) -> None:
    ui = handlers_for(store, public=False)
    keys = {"GITHUB_TOKEN": SESSION_KEY}
    link, history, owner = ui.save(two_turns(), None, BASE, keys, None)
    assert owner == gr.skip()  # not public: one list for the machine, no token
    assert link["value"].startswith(BASE + "?comparison=") and link["visible"]
    kept = store.load_comparison(comparison_id(link))
    text = repr(kept)
    assert SESSION_KEY not in text and SERVER_KEY not in text and "***" in text
    assert kept["targets"] == ["ollama:phi3.5", "openai:gpt-4o-mini"] and kept["turns"] == 2
    assert [len(p["turns"]) for p in kept["panes"]] == [2, 2]
    assert kept["panes"][1]["overrides"]["system"] == "You are a pirate."
    assert comparison_id(link) in history and "长沙在哪里？" in history

    viewer, body, opened, download = ui.open_link(link_request(
        {"comparison": comparison_id(link)}))
    assert viewer["visible"] and download["visible"] and opened == kept
    assert "read-only" in body and "In Hunan." in body and "You are a pirate." in body
    assert "<input" not in body and "<textarea" not in body and "contenteditable" not in body
    page = Path(download["value"]).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and SESSION_KEY not in page


def test_a_one_turn_run_without_a_conversation_is_saved_from_its_record(store) -> None:
    ui = handlers_for(store, public=False)
    request = ChatRequest(model="", prompt="Hi", temperature=0.3)
    record = RunRecord(request, [result("ollama:phi3", "Hello", 50.0)], 60.0, 30.0)
    link, _, _ = ui.save(None, record, BASE, {}, None)
    kept = store.load_comparison(comparison_id(link))
    assert kept["panes"][0]["turns"][0]["answer"] == "Hello"
    assert kept["shared"]["temperature"] == 0.3


def test_on_a_public_server_lists_are_per_browser_and_links_still_open(store) -> None:
    ui = handlers_for(store, public=True)
    link_a, history_a, token_a = ui.save(two_turns(), None, BASE, {}, None)
    assert token_a.startswith(saved.OWNER_PREFIX) and ui.owner_keys.valid(token_a)
    link_a2, history_a2, again = ui.save(two_turns(), None, BASE, {}, token_a)
    assert again == token_a  # the browser keeps its token
    assert comparison_id(link_a) in history_a2 and comparison_id(link_a2) in history_a2
    assert ui.show_history(token_a) == history_a2  # after a reload, the same list
    # Another browser: nothing listed, before and after it saves its own.
    assert ui.show_history(None) == "Nothing saved from this browser yet."
    link_b, history_b, token_b = ui.save(two_turns(), None, BASE, {}, None)
    assert token_b != token_a
    assert comparison_id(link_a) not in history_b and comparison_id(link_b) in history_b
    assert comparison_id(link_b) not in ui.show_history(token_a)
    # The store keeps a digest of the token, never the token a browser presents.
    assert token_a not in repr(store.list_comparisons(ui.owner_keys.owner(token_a)))
    # The link opens for anyone.
    viewer, body, opened, _ = ui.open_link(link_request({"comparison": comparison_id(link_a)}))
    assert viewer["visible"] and opened is not None and "In Hunan." in body


def test_a_token_this_server_did_not_sign_is_never_an_owner(store) -> None:
    ui = handlers_for(store, public=True)
    _, _, token = ui.save(two_turns(), None, BASE, {}, None)
    random_part, signature = token[len(saved.OWNER_PREFIX):].split(".")
    forged = f"{saved.OWNER_PREFIX}{'A' * 32}.{signature}"
    other_server = saved.OwnerKeys()  # another process (or a restart): another key
    for bad in (forged, token[:-1] + ("A" if token[-1] != "A" else "B"), "session-x", 42,
                other_server.new()):
        assert ui.show_history(bad) == "Nothing saved from this browser yet."
        assert ui.token(bad) != bad
    assert handlers_for(store, public=False).token(token) is None  # not public: nobody's


def test_a_title_cannot_add_markup_or_a_link_to_the_list(store) -> None:
    ui = handlers_for(store, public=False)
    chat = two_turns()
    for pane in chat.panes:
        pane.turns[0].text = "<img src=x onerror=alert(1)> [click](javascript:x) **big**"
    link, history, _ = ui.save(chat, None, BASE, {}, None)
    assert "<img" not in history and "](javascript" not in history and "**big" not in history
    assert f"](?comparison={comparison_id(link)})" in history  # the one real link


def test_unknown_and_malformed_ids_say_why(store) -> None:
    ui = handlers_for(store, public=True)
    unknown = ui.open_link(link_request({"comparison": "A" * 22}))
    assert unknown[0]["visible"] and unknown[2] is None
    assert "No saved comparison has this id" in unknown[1]
    for bad in ("", "abc", "../../etc/passwd", "<script>x</script>" * 3, "A" * 33):
        viewer, message, opened, download = ui.open_link(link_request({"comparison": bad}))
        assert viewer["visible"] and opened is None and not download["visible"]
        assert "does not name a saved comparison" in message and "<script>" not in message
    assert ui.open_link(link_request({}))[0]["visible"] is False  # no link: no viewer


def test_continue_from_here_copies_the_comparison_into_a_new_one(store) -> None:
    ui = handlers_for(store, public=False)
    link, _, _ = ui.save(two_turns(), None, BASE, {"GITHUB_TOKEN": SESSION_KEY}, None)
    _, _, opened, _ = ui.open_link(link_request({"comparison": comparison_id(link)}))
    outputs = ui.continue_from(opened)
    n_view = sum(COMPARE_OUTPUTS.values())
    view = unpack(outputs[:n_view])
    targets, shared = outputs[n_view], outputs[n_view + 1:n_view + 6]
    groups, fields = outputs[n_view + 6:n_view + 12], outputs[n_view + 12:n_view + 42]
    assert len(outputs) == n_view + 43 and outputs[-1]["visible"] is False  # viewer hidden
    conversation = view["conversation"]
    assert isinstance(conversation, Conversation)
    assert [len(p.turns) for p in conversation.panes] == [2, 2]
    assert conversation.panes[0].history()[1].text == "In Hunan."  # sent as history next
    assert targets["value"] == ["ollama:phi3.5", "openai:gpt-4o-mini"]
    assert shared == ["Be brief.", 64, None, None, None]
    # The panes show: the last answer below, the earlier turns in the chat view.
    assert [s["visible"] for s in view["slots"]] == [True, True] + [False] * 4
    assert view["answers"][:2] == ["Spicy food. ***", "Arr ***"]
    chat = view["chats"][0]["value"]
    assert [m["content"] for m in chat] == ["长沙在哪里？", "In Hunan.", "and its food?"]
    assert list(view["table"]["turn"]) == [1, 1, 2, 2]
    assert view["syncs"][:2] == [True, False] and view["follow"]["visible"]
    # The unsynced pane gets its own settings back; the synced one is left alone.
    assert [g["visible"] for g in groups] == [False, True] + [False] * 4
    assert fields[5:10] == ["You are a pirate.", None, 1.0, None, None]
    assert all(f == gr.skip() for f in fields[:5] + fields[10:])
    assert store.load_comparison(comparison_id(link)) == opened  # the saved one unchanged
    with pytest.raises(gr.Error):
        ui.continue_from({"format": "something else"})


def test_nothing_to_save_and_the_public_cap_refuse_with_a_message(store, monkeypatch) -> None:
    ui = handlers_for(store, public=True)
    with pytest.raises(gr.Error, match="Nothing to save yet"):
        ui.save(None, None, BASE, {}, None)
    monkeypatch.setattr(saved_handlers, "PUBLIC_MAX_SAVES", 2)
    _, _, token = ui.save(two_turns(), None, BASE, {}, None)
    ui.save(two_turns(), None, BASE, {}, token)
    with pytest.raises(gr.Error, match="has saved 2 comparisons"):
        ui.save(two_turns(), None, BASE, {}, token)
    ui.save(two_turns(), None, BASE, {}, None)  # another browser's own count


def test_a_store_that_cannot_be_used_is_a_message_not_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    settings = Settings.load(dotenv_path=None, environ={"PLAYGROUND_DB": str(folder)})
    ui = SavedHandlers(Sessions(settings, Policy(public=False)))  # the real default store
    assert ui.show_history(None) == saved_handlers.UNAVAILABLE
    viewer, message, opened, _ = ui.open_link(link_request({"comparison": "A" * 22}))
    assert viewer["visible"] and opened is None and "not available" in message
    assert str(folder) not in message  # the visitor is not told the server's paths
    with pytest.raises(gr.Error, match="not available"):
        ui.save(two_turns(), None, BASE, {}, None)


def test_html_download_follows_the_comparison(store) -> None:
    ui = handlers_for(store, public=False)
    assert ui.html_download(None, None)["visible"] is False
    update = ui.html_download(two_turns(), None)
    page = Path(update["value"]).read_text(encoding="utf-8")
    assert update["visible"] and "and its food?" in page and "Turn 2" in page
    assert update["label"] == "Download HTML (2 turns)"
