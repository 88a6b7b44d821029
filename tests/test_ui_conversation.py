"""Follow-ups, retries, per-pane overrides and New conversation, through the handlers,
against the fake servers (which check each body's turns alternate)."""

from __future__ import annotations

import asyncio
import math
import time

import gradio as gr
import pandas as pd
import pytest

from playground.ui import layout
from playground.ui.conversation_view import ConversationHandlers, sync_fill, sync_shown
from tests.conversation_support import N_COMPARE, bodies, controls, start, texts, turn_frames
from tests.support import png
from tests.ui_support import SKIP, form, handlers, shown, unpack

VISION = "nim:microsoft/phi-3.5-vision-instruct"
AZURE_VISION = "azure:Phi-3.5-vision-instruct"
TEXT_ONLY = "nim:microsoft/phi-3.5-mini-instruct"
NIM_PATH, AZURE_PATH = "/nim/v1/chat/completions", "/azure/openai/v1/chat/completions"


@pytest.fixture
def answers(behaviours):
    """Each model answers with its own words, so a history shows whose answers it holds."""
    def set_turn(n: int) -> None:
        behaviours.set("microsoft/phi-3.5-vision-instruct", pieces=[f"nim-{n} ", "answer."])
        behaviours.set("Phi-3.5-vision-instruct", pieces=[f"azure-{n} ", "answer."])
        behaviours.set("microsoft/phi-3.5-mini-instruct", pieces=[f"mini-{n} ", "answer."])
    set_turn(1)
    return set_turn


def image_file(tmp_path, name: str = "cat.png") -> str:
    path = tmp_path / name
    path.write_bytes(png())
    return str(path)


def test_three_turns_each_pane_with_its_own_history(settings, server, answers, tmp_path) -> None:
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([VISION, AZURE_VISION], "长沙?"))
    answers(2)
    frames = turn_frames(runs, turns, conversation,
                         {"text": "What is this?", "files": [image_file(tmp_path)]})
    page = shown(frames)
    assert page["answers"][:2] == ["nim-2 answer.", "azure-2 answer."]
    chat = page["chats"][0]["value"]
    assert [m["role"] for m in chat] == ["user", "assistant", "user", "user"]
    assert chat[1]["content"] == "nim-1 answer." and chat[3]["content"] == "What is this?"
    assert chat[2]["content"]["path"].endswith("cat.png")
    assert page["box"] == {"__type__": "update", "value": None}  # sent: the box empties
    answers(3)
    frames = turn_frames(runs, turns, conversation, "And its food?")
    page = shown(frames)
    for path, own in ((NIM_PATH, "nim"), (AZURE_PATH, "azure")):
        third = bodies(server, path)[-1]["messages"]
        assert texts(third) == [("user", "长沙?"), ("assistant", f"{own}-1 answer."),
                                ("user", "What is this?"), ("assistant", f"{own}-2 answer."),
                                ("user", "And its food?")]
        assert any(p.get("type") == "image_url" for p in third[2]["content"])
    table = page["table"]
    assert list(zip(table["target"], table["turn"])) == [
        (VISION, 1), (AZURE_VISION, 1), (VISION, 2), (AZURE_VISION, 2), (VISION, 3),
        (AZURE_VISION, 3)]
    assert list(table["status"]) == ["ok"] * 6
    assert conversation.panes[1].turns[2].answer == "azure-3 answer."  # recorded in place
    assert "conversation" not in page  # not sent back: Compare may have replaced it


def test_an_unsynced_pane_gets_its_own_system_prompt_and_its_own_follow_up(
        settings, server, answers) -> None:
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([VISION, AZURE_VISION], "Hi", system="Be brief."))
    values = controls(system="Be brief.", own={1: ("Answer in French.", 32, 0.2, None, 7)})
    turn_frames(runs, turns, conversation, "Next?", values=values)
    nim, azure = bodies(server, NIM_PATH)[-1], bodies(server, AZURE_PATH)[-1]
    assert nim["messages"][0] == {"role": "system", "content": "Be brief."}
    assert azure["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert azure["temperature"] == 0.2 and azure["seed"] == 7 and "temperature" not in nim
    sent = len(server.chat_requests())
    frames = turn_frames(runs, turns, conversation, "Only you?", pane=1, values=values)
    assert len(server.chat_requests()) == sent + 1  # that pane only
    assert bodies(server, AZURE_PATH)[-1]["messages"][-1]["content"] == "Only you?"
    page = shown(frames)
    assert page["answers"][0] is None  # pane 0 untouched
    assert [p.overrides.system for p in conversation.panes] == [None, "Answer in French."]
    assert [len(p.turns) for p in conversation.panes] == [2, 3]


def test_retry_replaces_the_last_answer_in_the_history(settings, server, answers) -> None:
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([VISION, AZURE_VISION], "Hi"))
    answers(2)
    turn_frames(runs, turns, conversation, "Second?")
    answers(9)
    frames = turn_frames(runs, turns, conversation, None, pane=0)  # retry pane 0
    retried = bodies(server, NIM_PATH)[-1]["messages"]
    assert texts(retried)[-1] == ("user", "Second?") and len(retried) == 3
    assert shown(frames)["answers"][0] == "nim-9 answer."
    assert [e.answer for e in conversation.panes[0].turns] == ["nim-1 answer.",
                                                               "nim-9 answer."]
    table = shown(frames)["table"]
    assert len(table) == 4 and list(table["turn"]) == [1, 1, 2, 2]
    turn_frames(runs, turns, conversation, "Third?")
    assert ("assistant", "nim-9 answer.") in texts(bodies(server, NIM_PATH)[-1]["messages"])
    assert ("assistant", "azure-2 answer.") in texts(bodies(server, AZURE_PATH)[-1]["messages"])
    answers(7)
    sent = len(server.chat_requests())
    turn_frames(runs, turns, conversation, None)  # Retry all
    assert len(server.chat_requests()) == sent + 2
    assert [p.turns[-1].answer for p in conversation.panes] == ["nim-7 answer.",
                                                                "azure-7 answer."]
    assert [len(p.turns) for p in conversation.panes] == [3, 3]


def test_a_text_only_target_refuses_a_follow_up_with_images(settings, server, answers,
                                                            tmp_path) -> None:
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([VISION, TEXT_ONLY], "Hi"))
    sent = len(server.chat_requests())
    with pytest.raises(gr.Error, match="text-only model"):
        turn_frames(runs, turns, conversation,
                    {"text": "This?", "files": [image_file(tmp_path)]})
    assert len(server.chat_requests()) == sent
    assert [len(p.turns) for p in conversation.panes] == [1, 1]


@pytest.mark.parametrize("values, message", [
    (controls(own={0: ("", None, math.nan, None, None)}), "Pane 1 .*Temperature must be"),
    (controls(own={1: ("", 0, None, None, None)}), "Pane 2 .*Max tokens must be"),
    (controls(top_p=math.inf), "top_p must be"),
    (controls(timeout_s=-1), "idle timeout"),
    (controls()[:-1], "Expected 6 values"),
])
def test_bad_controls_are_refused_before_sending(settings, server, answers, values,
                                                 message) -> None:
    runs = handlers(settings)
    conversation = start(runs, form([VISION, AZURE_VISION], "Hi"))
    sent = len(server.chat_requests())
    with pytest.raises(gr.Error, match=message):
        turn_frames(runs, ConversationHandlers(runs), conversation, "Next?", values=values)
    assert len(server.chat_requests()) == sent


@pytest.mark.parametrize("message, pane, why", [
    ("  ", -1, "The follow-up is empty"),
    ({"text": 3}, -1, "must be text"),
    ("Next?", 5, "Pane must be -1"),
    ("Next?", 0.5, "Pane must be -1"),
])
def test_bad_follow_ups_are_refused(settings, server, answers, message, pane, why) -> None:
    runs = handlers(settings)
    conversation = start(runs, form([VISION], "Hi"))
    with pytest.raises(gr.Error, match=why):
        turn_frames(runs, ConversationHandlers(runs), conversation, message, pane=pane)


def test_no_conversation_yet_is_refused(settings) -> None:
    runs = handlers(settings)
    with pytest.raises(gr.Error, match="run a comparison first"):
        turn_frames(runs, ConversationHandlers(runs), None, "Next?")


def test_stop_keeps_the_partial_answer_and_sends_it_next_time(settings, server,
                                                              behaviours) -> None:
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([VISION], "Hi"))
    behaviours.set("microsoft/phi-3.5-vision-instruct",
                   pieces=[f"w{i} " for i in range(300)], interval_s=0.05)

    def stop_after_text(frames):
        if any(a not in (SKIP, "", None) for f in frames for a in f["answers"][:1]):
            runs.sessions.stop("local")
    frames = turn_frames(runs, turns, conversation, "Count.", during=stop_after_text)
    result = conversation.panes[0].turns[-1].result
    assert result.status == "stopped" and result.partial and result.text.startswith("w0")
    assert "stopped" in shown(frames)["status"][0]
    behaviours.set("microsoft/phi-3.5-vision-instruct", pieces=["ok"], interval_s=0.01)
    turn_frames(runs, turns, conversation, "Go on.")
    assert texts(bodies(server, NIM_PATH)[-1]["messages"])[3] == ("assistant", result.text)


def test_new_conversation_clears_everything(settings) -> None:
    outputs = ConversationHandlers(handlers(settings)).new_conversation()
    page = unpack(outputs[:N_COMPARE])
    assert page["conversation"] is None and page["record"] is None
    assert all(u == {"__type__": "update", "visible": False} for u in page["slots"])
    assert page["syncs"] == [True] * 6 and len(page["table"]) == 0


def test_unsyncing_a_pane_shows_its_settings_from_the_form() -> None:
    assert sync_shown(False) == {"__type__": "update", "visible": True}
    assert sync_shown(True) == {"__type__": "update", "visible": False}
    assert sync_fill(False, "Be brief.", 64, 0.5, None, 3) == ["Be brief.", 64, 0.5, None, 3]
    assert sync_fill(True, "Be brief.", 64, 0.5, None, 3) == [SKIP] * 5


def test_a_restored_pane_keeps_its_settings_whatever_the_event_order(settings) -> None:
    """Continue sets each pane's sync switch and its saved settings in one step; the
    switch's ``.change`` (which Gradio fires after, in any order with other events)
    only shows or hides the group, and the form's values fill the fields only on the
    user's ``.input``: no event can write the form's values over a restore."""
    demo = layout.build_demo(settings)
    by_id = {block.elem_id: block for block in demo.blocks.values()
             if getattr(block, "elem_id", None)}
    fns = list(demo.fns.values())
    for i in range(6):
        sync, group = by_id[f"sync-{i}"], by_id[f"own-{i}"]
        fields = {by_id[f"own-{name}-{i}"]._id
                  for name in ("system", "max-tokens", "temperature", "top-p", "seed")}
        on_sync = {event: fn for fn in fns for block, event in fn.targets if block == sync._id}
        assert set(on_sync) == {"change", "input"}
        assert [b._id for b in on_sync["change"].outputs] == [group._id]
        assert on_sync["change"].fn is sync_shown
        assert {b._id for b in on_sync["input"].outputs} == fields
        assert on_sync["input"].fn is sync_fill
        # Continue writes the group and the fields itself, and nothing runs after it.
        (restore,) = [fn for fn in fns
                      if any(block == by_id["continue-btn"]._id for block, _ in fn.targets)]
        written = {b._id for b in restore.outputs}
        assert fields | {group._id, sync._id} <= written
        assert not [fn for fn in fns if fn.trigger_after == restore._id]


def test_a_history_too_long_for_the_context_is_said_and_dropped_on_request(
        settings, server, behaviours) -> None:
    small = "nim:microsoft/phi-3-mini-4k-instruct"  # a 4,096-token context (the catalog)
    behaviours.set("microsoft/phi-3-mini-4k-instruct", pieces=["Noted."])
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([small], "a" * 7000))  # ~2,300 tokens, estimated
    sent = len(server.chat_requests())
    frames = turn_frames(runs, turns, conversation, "b" * 7000)
    notice, drop, offer = frames[-1]["notice"]
    assert len(server.chat_requests()) == sent  # nothing sent
    assert "context holds 4,096" in notice["value"] and "oldest 1" in notice["value"]
    assert drop == {"__type__": "update", "visible": True} and offer == {0: 1}
    assert frames[-1]["box"] == SKIP  # the follow-up stays typed
    kept, note, hidden, cleared = turns.drop_oldest(conversation, offer)
    assert "dropped the oldest 1" in note["value"] and cleared == {}
    frames = turn_frames(runs, turns, conversation, "b" * 7000)
    messages = bodies(server, "/nim/v1/chat/completions")[-1]["messages"]
    assert [m["content"][:1] for m in messages] == ["b"]  # turn 1 no longer sent
    table = shown(frames)["table"]
    assert list(table["turn"]) == [1, 2]  # still shown, numbers kept
    assert "no longer sent" in shown(frames)["chats"][0]["value"][1]["content"]


def test_a_closed_page_stops_a_follow_up(settings, server, behaviours) -> None:
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([VISION], "Hi"))
    behaviours.set("microsoft/phi-3.5-vision-instruct",
                   pieces=[f"w{i} " for i in range(400)], interval_s=0.05)

    async def leave_after_text():
        outputs = turns.follow_up(None, conversation, "Count.", -1, *controls())
        async for _ in outputs:
            run, = runs.sessions.running("local")
            if run.comparison.results[0].text:
                break
        await outputs.aclose()  # what Gradio does when the browser goes away
        await runs.sessions.close_pool()
        return run.comparison

    comparison = asyncio.run(asyncio.wait_for(leave_after_text(), 10))
    assert comparison.results[0].status == "stopped"
    assert runs.sessions.running("local") == []
    assert len(server.last("/nim/v1/chat/completions").sent_at) < 200  # abandoned
    behaviours.set("microsoft/phi-3.5-vision-instruct", pieces=["ok"], interval_s=0.01)
    turn_frames(runs, turns, conversation, "Again?")  # the conversation is free again
    assert conversation.panes[0].turns[-1].answer == "ok"


def test_follow_up_updates_are_throttled_as_compare_is(settings, behaviours) -> None:
    runs = handlers(settings)
    turns = ConversationHandlers(runs)
    conversation = start(runs, form([VISION, AZURE_VISION], "Hi"))
    behaviours.default.pieces = [f"t{i} " for i in range(400)]  # ~400 frames unthrottled
    behaviours.default.interval_s = 0.002
    behaviours.by_model.clear()
    started = time.perf_counter()
    frames = turn_frames(runs, turns, conversation, "Count.")
    seconds = time.perf_counter() - started
    assert len(frames) <= seconds / 0.05 + 4
    tables = [f for f in frames if isinstance(f["table"], pd.DataFrame)]
    assert len(tables) < len(frames)  # the table less often than the panes
    assert [r.completion_tokens for r in frames[-1]["record"].results] == [400, 400]
    chats = [f for f in frames if f["chats"][0] != SKIP]
    assert len(chats) == 1  # the chat view is sent once per turn, not with every token
