"""Conversations are bounded before anything is sent: earlier turns, characters with the
history, images across every turn, empty questions; roles must alternate."""

from __future__ import annotations

import pytest

from playground.validate import (
    MAX_CONVERSATION_CHARS,
    MAX_HISTORY_TURNS,
    MAX_IMAGES,
    InputError,
    check_request,
    plan,
)
from providers.base import ChatRequest, ImageInput, Turn
from providers.settings import Settings
from tests.support import png

IMAGE = ImageInput(png(), name="white.png")


def history(pairs: int, text: str = "q", images: tuple[ImageInput, ...] = ()) -> tuple[Turn, ...]:
    return tuple(t for _ in range(pairs) for t in (Turn("user", text, images),
                                                     Turn("assistant", "a")))


def test_a_short_conversation_has_no_problem() -> None:
    assert check_request(ChatRequest("m", "and its food?", history=history(2))) == []


def test_too_many_earlier_turns() -> None:
    problems = check_request(ChatRequest("m", "next", history=history(MAX_HISTORY_TURNS // 2 + 1)))
    assert any(f"the limit is {MAX_HISTORY_TURNS}" in p for p in problems)


def test_characters_count_the_whole_conversation() -> None:
    big = "x" * (MAX_CONVERSATION_CHARS // 4)
    problems = check_request(ChatRequest("m", "next", history=history(4, big)))
    assert any("with its history" in p and f"{MAX_CONVERSATION_CHARS:,}" in p for p in problems)


def test_images_count_across_every_turn() -> None:
    request = ChatRequest("m", "next", images=(IMAGE,), history=history(4, "q", (IMAGE,) * 5))
    assert f"{MAX_IMAGES + 1} images attached in the conversation; the limit is {MAX_IMAGES}." \
        in check_request(request)


def test_an_empty_earlier_question_is_refused() -> None:
    request = ChatRequest("m", "next", history=(Turn("user", "  "), Turn("assistant", "a")))
    assert any("ask nothing" in p for p in check_request(request))


def test_roles_must_alternate() -> None:
    with pytest.raises(ValueError, match="should be the assistant's"):
        ChatRequest("m", "q", history=(Turn("user", "a"), Turn("user", "b")))
    with pytest.raises(ValueError, match="no answer"):
        ChatRequest("m", "q", history=(Turn("user", "a"),))
    with pytest.raises(ValueError):
        Turn("assistant", "a", (IMAGE,))


def test_a_single_image_route_counts_the_images_of_earlier_turns(settings: Settings) -> None:
    request = ChatRequest("", "and now?", images=(IMAGE,), history=history(1, "q", (IMAGE,)))
    with pytest.raises(InputError) as caught:
        plan(["nim:microsoft/phi-3-vision-128k-instruct"], request, settings)
    assert "takes at most 1 image(s) per request here; 2 attached" in caught.value.message


def test_a_text_only_target_refuses_images_in_any_turn(settings: Settings) -> None:
    request = ChatRequest("", "and now?", history=history(1, "q", (IMAGE,)))
    with pytest.raises(InputError) as caught:
        plan(["nim:microsoft/phi-3.5-mini-instruct"], request, settings)
    assert "text-only" in caught.value.message
