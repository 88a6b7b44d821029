"""The context check for routes without a local tokenizer: the Phi catalog's window and
a stated estimate leaning high; unknown models are not checked; dropping pairs keeps
turn numbers. (The exact local counts: tests/test_conversation_local.py.)"""

from __future__ import annotations

import pytest

from playground import context_fit
from playground.metrics import turn_of
from providers import parse_target
from providers.base import ChatRequest, ImageInput, Turn
from providers.settings import Settings
from tests.conftest import run
from tests.support import png

MINI_4K = parse_target("nim:microsoft/phi-3-mini-4k-instruct")


def pairs(n: int, chars: int) -> tuple[Turn, ...]:
    return tuple(t for i in range(n) for t in (Turn("user", f"q{i} " + "x" * chars),
                                                 Turn("assistant", "y" * chars)))


def test_estimate_leans_high_and_says_how() -> None:
    request = ChatRequest("m", "长沙" + "a" * 30, system="sys")
    # 2 messages x 6 template tokens + ceil(33 / 3) Latin + 2 x 2 Chinese characters.
    assert context_fit.estimate_tokens(request) == 12 + 11 + 4
    with_image = ChatRequest("m", "hi", images=(ImageInput(png()),))
    assert context_fit.estimate_tokens(with_image) == 6 + 1 + context_fit.IMAGE_TOKENS


def test_a_4k_catalog_model_overflowing_gets_the_pairs_to_drop() -> None:
    request = ChatRequest("", "and its food?", history=pairs(5, 1500), max_tokens=256)
    fit = run(context_fit.check(MINI_4K, request, Settings({})))
    assert fit.context_tokens == 4096 and not fit.exact and not fit.fits
    assert fit.counted_by.startswith("estimated")
    # Each pair is about 1,013 tokens by the estimate: 2 of 5 must go.
    assert fit.drop_pairs == 2 and fit.fits_after_drop
    message = fit.message()
    assert "estimated" in message and "4,096" in message and "oldest 2 question/answer pairs" in message
    assert context_fit.overflow_problems([fit]) == [message]
    dropped = context_fit.drop_oldest(request, 2)
    assert run(context_fit.check(MINI_4K, dropped, Settings({}))).fits
    assert turn_of(request) == turn_of(dropped) == 6


def test_a_128k_model_takes_the_same_history() -> None:
    target = parse_target("nim:microsoft/phi-3.5-mini-instruct")
    request = ChatRequest("", "and its food?", history=pairs(5, 1500), max_tokens=256)
    fit = run(context_fit.check(target, request, Settings({})))
    assert fit.fits and fit.context_tokens == 131072 and fit.message() is None
    assert context_fit.overflow_problems([fit]) == []


def test_models_outside_the_catalog_are_not_checked() -> None:
    fit = run(context_fit.check(parse_target("openai:my-model"),
                                ChatRequest("", "x" * 90_000), Settings({})))
    assert fit.fits and fit.context_tokens is None and "not checked" in fit.counted_by


def test_drop_oldest_is_bounded() -> None:
    request = ChatRequest("", "q", history=pairs(2, 1))
    assert context_fit.drop_oldest(request, 0) == request
    assert context_fit.drop_oldest(request, 2).history == ()
    for bad in (-1, 3):
        with pytest.raises(ValueError):
            context_fit.drop_oldest(request, bad)


def test_check_all_keeps_the_order() -> None:
    short = ChatRequest("", "hi")
    long = ChatRequest("", "and?", history=pairs(5, 1500), max_tokens=256)
    fits = run(context_fit.check_all([(MINI_4K, short), (MINI_4K, long)], Settings({})))
    assert [f.fits for f in fits] == [True, False]
