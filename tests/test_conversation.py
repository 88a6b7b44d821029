"""The conversation model: each pane's own history, overrides, retry, and its document."""

from __future__ import annotations

import json

import pytest

from playground.conversation import MAX_TURNS, Conversation, Exchange, Params
from playground.metrics import TargetResult
from playground.validate import InputError
from providers.base import ImageInput, Turn
from tests.support import png

A, B = "nim:microsoft/phi-3.5-vision-instruct", "ollama:phi3.5"


def answered(target: str, text: str, status: str = "ok", **measured) -> TargetResult:
    provider, _, model = target.partition(":")
    return TargetResult(target, provider, model, status=status, text=text, **measured)


def two_turns() -> Conversation:
    conversation = Conversation.start([A, B], Params(system="Be brief.", max_tokens=64))
    image = ImageInput(png(), "image/png", "cat.png")
    for index, target in enumerate((A, B)):
        conversation.record(index, Exchange(0, "长沙?", conversation.shared,
                                            answered(target, f"{target} says Changsha")))
        conversation.record(index, Exchange(0, "This?", conversation.shared,
                                            answered(target, f"{target} sees a cat",
                                                     ttft_ms=12.5, prompt_tokens=40),
                                            (image,)))
    return conversation


def test_each_pane_sends_its_own_answers_as_history() -> None:
    conversation = two_turns()
    request = conversation.request(1, "And its food?")
    assert [t.role for t in request.history] == ["user", "assistant"] * 2
    assert request.history[1] == Turn("assistant", f"{B} says Changsha")
    assert request.history[3].text == f"{B} sees a cat"
    assert len(request.history[2].images) == 1 and request.all_images()
    assert request.system == "Be brief." and request.max_tokens == 64
    assert conversation.request(0, "x").history[1].text == f"{A} says Changsha"


def test_an_unsynced_pane_uses_its_own_parameters() -> None:
    conversation = two_turns()
    conversation.panes[1].synced = False
    conversation.panes[1].overrides = Params(system="Answer in French.", temperature=0.2)
    assert conversation.request(1, "x").system == "Answer in French."
    assert conversation.request(1, "x").temperature == 0.2
    assert conversation.request(0, "x").system == "Be brief."


def test_retry_resends_the_last_turn_and_replaces_its_answer() -> None:
    conversation = two_turns()
    again = conversation.request(0, "This?", retry=True)
    assert len(again.history) == 2  # only the turn before the retried one
    conversation.record(0, Exchange(0, "This?", conversation.shared,
                                    answered(A, "a dog, in fact")), retry=True)
    assert [e.number for e in conversation.panes[0].turns] == [1, 2]
    assert conversation.request(0, "next").history[-1].text == "a dog, in fact"
    assert conversation.turn_problems([0], retry=True) == []
    assert "no turn to retry" in Conversation.start([A], Params()).turn_problems(
        [0], retry=True)[0]


def test_a_turn_without_answer_text_is_shown_but_never_sent() -> None:
    conversation = Conversation.start([A], Params())
    conversation.record(0, Exchange(0, "one", Params(), answered(A, "", status="error")))
    conversation.record(0, Exchange(0, "two", Params(),
                                    answered(A, "half an ans", status="stopped", partial=True)))
    history = conversation.request(0, "three").history
    assert [t.text for t in history] == ["two", "half an ans"]  # the partial answer is sent


def test_dropping_the_oldest_turns_keeps_the_numbers() -> None:
    conversation = two_turns()
    assert conversation.drop_oldest(0, 1) == 1
    assert [e.number for e in conversation.panes[0].turns] == [1, 2]  # still shown
    assert [t.text for t in conversation.request(0, "x").history] == ["This?",
                                                                      f"{A} sees a cat"]
    back = Conversation.from_document(conversation.to_document())
    assert back.request(0, "x").history == conversation.request(0, "x").history


def test_the_document_round_trips_through_json_without_paths() -> None:
    conversation = two_turns()
    conversation.panes[0].turns[1].image_paths = ("/tmp/gradio/secret-path/cat.png",)
    conversation.panes[1].synced = False
    conversation.panes[1].overrides = Params(seed=7)
    text = json.dumps(conversation.to_document(), ensure_ascii=False)
    assert "secret-path" not in text
    document = json.loads(text)
    assert document["panes"][0]["turns"][1]["result"]["ttft_ms"] == 12.5
    assert document["panes"][0]["turns"][1]["user"]["images"][0]["name"] == "cat.png"
    back = Conversation.from_document(document)
    assert back.to_document() == document
    assert back.request(1, "x").history == conversation.request(1, "x").history
    assert back.request(1, "x").seed == 7


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="other"), "Not a conversation document"),
    (lambda d: d["shared"].update(temperature=float("nan")), "Temperature must be"),
    (lambda d: d["panes"][0]["overrides"].update(top_p=3), "top_p must be"),
    (lambda d: d["panes"][0]["turns"][1]["user"]["images"][0].update(data="%%"), "base64"),
    (lambda d: d["panes"][0]["turns"][0]["result"].update(ttft_ms="fast"), "ttft_ms"),
    (lambda d: d["panes"][0].update(turns=[{}] * (MAX_TURNS + 1)), "at most"),
    (lambda d: d.update(panes=[]), "1 to 6 panes"),
])
def test_a_bad_document_is_refused_with_its_reason(change, message) -> None:
    document = two_turns().to_document()
    change(document)
    with pytest.raises(InputError, match=message):
        Conversation.from_document(document)
