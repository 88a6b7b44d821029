"""Conversations on the local runtimes (the tiny Phi-3 fixtures, tests/fixtures/README.md):
every turn through the model's chat template with exact prompt counts, and the context
check (playground.context_fit) counting the very prompt the runtime builds; a history
that overflows the 512-token window is said so, never cut."""

from __future__ import annotations

import pytest

from playground import context_fit
from providers import parse_target
from providers.base import ChatRequest, Turn, Usage
from providers.errors import BadRequestError
from providers.local import onnx as onnx_genai
from providers.settings import Settings
from tests.conftest import run
from tests.support import collect, text_of
from tests.test_onnx_provider import ANSWERS, MODELS, STORY, TEXT, VISION, WHITE

HF = str(MODELS.parent / "hf" / "tiny-phi3")
HELLO = ANSWERS["Say hello."][0]
# The fixture contract: user "Say hello.", its answer, user "What is 2 + 2?" -> 38 tokens.
TWO_TURNS = ChatRequest(TEXT, "What is 2 + 2?", history=(Turn("user", "Say hello."),
                                                        Turn("assistant", HELLO)))


@pytest.fixture
def onnx_settings() -> Settings:
    return Settings({"ONNX_MODELS_DIR": str(MODELS)})


@pytest.fixture(autouse=True)
def fresh_workers():
    onnx_genai.shutdown()
    yield
    onnx_genai.shutdown()


def usage_of(events) -> Usage:
    return next(e for e in events if isinstance(e, Usage))


def test_onnx_answers_the_second_turn_with_the_first_in_its_prompt(onnx_settings) -> None:
    events = collect("onnx", onnx_settings, TWO_TURNS)
    assert text_of(events) == "2 + 2 = 4."
    assert usage_of(events) == Usage(38, 7, "counted")
    fit = run(context_fit.check(parse_target(f"onnx:{TEXT}"), TWO_TURNS, onnx_settings))
    assert (fit.prompt_tokens, fit.context_tokens, fit.exact, fit.fits) == (38, 512, True, True)


def story_history(pairs: int) -> tuple[Turn, ...]:
    return tuple(turn for _ in range(pairs)
                 for turn in (Turn("user", "Tell me a story."), Turn("assistant", STORY)))


def test_onnx_history_over_the_context_is_said_with_the_pairs_to_drop(onnx_settings) -> None:
    target = parse_target(f"onnx:{TEXT}")
    long = ChatRequest(TEXT, "Say hello.", history=story_history(12), max_tokens=20)
    fit = run(context_fit.check(target, long, onnx_settings))
    assert not fit.fits and fit.fits_after_drop and fit.context_tokens == 512
    assert fit.prompt_tokens + 20 > 512
    assert fit.drop_pairs == 3  # 53 tokens a story pair (647 in all): 3 pairs make room
    assert "Dropping the oldest" in fit.message() and f"onnx:{TEXT}" in fit.message()
    # One pair fewer than asked still overflows: the check drops no more than it must.
    fewer = context_fit.drop_oldest(long, fit.drop_pairs - 1)
    assert not run(context_fit.check(target, fewer, onnx_settings)).fits
    # Sent as it is, the runtime refuses it (it never cuts the history itself).
    unlimited = ChatRequest(TEXT, "Say hello.", history=story_history(12))
    assert run(context_fit.check(target, unlimited, onnx_settings)).prompt_tokens == 647
    with pytest.raises(BadRequestError):
        collect("onnx", onnx_settings, unlimited)
    # Dropped as offered: it fits, keeps its turn numbers, and the count is the runtime's.
    fitted = context_fit.drop_oldest(long, fit.drop_pairs)
    assert fitted.first_turn == 1 + fit.drop_pairs and len(fitted.history) == 2 * (12 - fit.drop_pairs)
    refit = run(context_fit.check(target, fitted, onnx_settings))
    assert refit.fits and refit.message() is None
    events = collect("onnx", onnx_settings, fitted)
    assert usage_of(events).prompt_tokens == refit.prompt_tokens


def test_a_new_turn_alone_too_long_says_so(onnx_settings) -> None:
    request = ChatRequest(TEXT, "word " * 600, history=story_history(1))
    fit = run(context_fit.check(parse_target(f"onnx:{TEXT}"), request, onnx_settings))
    assert not fit.fits and not fit.fits_after_drop and fit.drop_pairs == 1
    assert "Even the new message alone" in fit.message()


def test_onnx_vision_conversation_keeps_the_image_in_its_turn(onnx_settings) -> None:
    request = ChatRequest(VISION, "Say hello.", history=(
        Turn("user", "Describe the image.", (WHITE,)), Turn("assistant", "The image is bright.")))
    events = collect("onnx", onnx_settings, request)
    prompt_tokens = usage_of(events).prompt_tokens
    fit = run(context_fit.check(parse_target(f"onnx:{VISION}"), request, onnx_settings))
    # The check counts an image at its maximum on top of its tag: an upper bound, close.
    assert not fit.exact and prompt_tokens <= fit.prompt_tokens <= prompt_tokens + 20
    assert prompt_tokens > 2509


def test_transformers_answers_the_second_turn_with_exact_counts() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    request = ChatRequest(HF, TWO_TURNS.prompt, history=TWO_TURNS.history)
    events = collect("transformers", Settings({}), request)
    assert text_of(events) == "2 + 2 = 4."
    assert usage_of(events) == Usage(38, 7, "counted")
    fit = run(context_fit.check(parse_target(f"transformers:{HF}"), request, Settings({})))
    assert (fit.prompt_tokens, fit.context_tokens, fit.exact) == (38, 512, True)
