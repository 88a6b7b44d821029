"""The ``onnx`` provider on the tiny Phi-3 fixtures: real onnxruntime-genai generation.

Expected answers and token counts are the fixtures' documented contract
(tests/fixtures/README.md, tests/fixtures/_tiny_data.py).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from pathlib import Path

import onnxruntime_genai as og
import pytest

import providers
from playground.engine import Comparison, ProviderPool
from providers import onnx_genai
from providers.base import ChatRequest, Finish, ImageInput, Notice, TextDelta, Usage
from providers.errors import (BadRequestError, NotFoundError, UnavailableError,
                              UnsupportedInputError)
from providers.settings import Settings
from tests.conftest import REPO, run
from tests.support import collect, compare, text_of
from tests.test_cli import playground

FIXTURES = Path(REPO) / "tests" / "fixtures"
MODELS = FIXTURES / "models"
WHITE = ImageInput((FIXTURES / "images" / "white.png").read_bytes(), name="white.png")
BLACK = ImageInput((FIXTURES / "images" / "black.png").read_bytes(), name="black.png")
TEXT, VISION = "tiny-phi3", "tiny-phi3-vision"
STORY = ("Once upon a time there was a tiny model that loved to count tokens one by one "
         "until the end.")
# prompt -> (answer, prompt tokens, completion tokens without the final <|end|>)
ANSWERS = {
    "Say hello.": ("Hello! I am a tiny test model.", 11, 13),
    "What is 2 + 2?": ("2 + 2 = 4.", 12, 7),
    "Tell me a story.": (STORY, 15, 36),
    "你知道长沙吗？": ("长沙是湖南的省会。", 27, 27),  # byte tokens: 3 per CJK character
}
IMAGE_TOKENS = 2509  # any <= 64x64 image becomes a 4x4 HD grid in the phi3v processor


@pytest.fixture
def onnx_settings() -> Settings:
    return Settings({"ONNX_MODELS_DIR": str(MODELS)})


@pytest.fixture(autouse=True)
def fresh_cache():
    onnx_genai._CACHE.clear()
    yield
    onnx_genai._CACHE.clear()


class SlowGenerator(og.Generator):
    """A real generator that takes ``delay_s`` per token and logs each (start, end)."""

    delay_s = 0.02
    log: list[tuple[float, float]] = []
    by_thread: dict[int, list[float]] = {}

    def generate_next_token(self) -> None:
        started = time.perf_counter()
        time.sleep(self.delay_s)
        super().generate_next_token()
        SlowGenerator.log.append((started, time.perf_counter()))
        SlowGenerator.by_thread.setdefault(threading.get_ident(), []).append(started)


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> type[SlowGenerator]:
    SlowGenerator.log, SlowGenerator.by_thread = [], {}
    monkeypatch.setattr(og, "Generator", SlowGenerator)
    return SlowGenerator


def parts(events):
    usage = [e for e in events if isinstance(e, Usage)]
    finish = [e for e in events if isinstance(e, Finish)]
    assert len(usage) == 1 and len(finish) == 1 and events[-1] is finish[0]
    return text_of(events), usage[0], finish[0]


def wait_for_workers(prefix: str = "onnx-", timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(t.name.startswith(prefix) for t in threading.enumerate()):
        assert time.monotonic() < deadline, "generation thread still running"
        time.sleep(0.005)


def stop_after(provider_id: str, settings: Settings, request: ChatRequest,
               tokens: int) -> tuple[int, float]:
    """Stream ``request``, close the stream after ``tokens`` deltas; return the deltas
    received and the perf_counter() time right after the close."""
    async def go() -> tuple[int, float]:
        provider = providers.create(provider_id, settings)
        await provider.prepare(request.model)
        stream = provider.stream(request)
        received = 0
        async for event in stream:
            received += isinstance(event, TextDelta)
            if received == tokens:
                break
        await stream.aclose()
        return received, time.perf_counter()
    return run(go())


@pytest.mark.parametrize("prompt", list(ANSWERS))
def test_exact_answers_and_token_counts(prompt: str, onnx_settings: Settings) -> None:
    answer, prompt_tokens, completion_tokens = ANSWERS[prompt]
    events = collect("onnx", onnx_settings, ChatRequest(TEXT, prompt))
    text, usage, finish = parts(events)
    assert text == answer
    assert usage == Usage(prompt_tokens, completion_tokens, "counted")
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert all(d.tokens == 1 for d in deltas) and len(deltas) == completion_tokens
    assert finish.reason == "stop" and finish.model == TEXT
    # The counted ids are the answer's own tokens (the stop id is not one of them).
    tokenizer = og.Tokenizer(og.Model(str(MODELS / TEXT)))
    assert len(tokenizer.encode(answer)) == completion_tokens


def test_system_prompt_goes_through_the_chat_template(onnx_settings: Settings) -> None:
    request = ChatRequest(TEXT, "Say hello.", system="You are a pirate.")
    text, usage, _ = parts(collect("onnx", onnx_settings, request))
    assert text == "Arr! Hello, matey."
    assert (usage.prompt_tokens, usage.completion_tokens) == (22, 9)
    lm, _ = onnx_genai._CACHE.load(str(MODELS / TEXT), lambda: None, 2)
    assert onnx_genai.chat_prompt(lm, request) == (
        "<|system|>\nYou are a pirate.<|end|>\n<|user|>\nSay hello.<|end|>\n<|assistant|>\n")
    with_images = ChatRequest(VISION, "Compare.", images=(WHITE, BLACK))
    assert onnx_genai.chat_prompt(lm, with_images) == (
        "<|user|>\n<|image_1|>\n<|image_2|>\nCompare.<|end|>\n<|assistant|>\n")


def test_max_tokens_truncates_exactly(onnx_settings: Settings) -> None:
    events = collect("onnx", onnx_settings, ChatRequest(TEXT, "Tell me a story.", max_tokens=5))
    text, usage, finish = parts(events)
    assert text == "Once upon a"  # 5 tokens: "Once", " upon", " a"... as the tokenizer splits
    assert usage == Usage(15, 5, "counted") and finish.reason == "length"
    assert sum(e.tokens for e in events if isinstance(e, TextDelta)) == 5


def test_max_tokens_is_capped_by_the_context(onnx_settings: Settings) -> None:
    events = collect("onnx", onnx_settings,
                     ChatRequest(TEXT, "Tell me a story.", max_tokens=10_000))
    text, usage, _ = parts(events)
    assert text == STORY and usage.completion_tokens == 36
    notes = [e.message for e in events if isinstance(e, Notice)]
    assert any("lowered from 10000 to 497" in n and "512-token context" in n for n in notes)


def test_a_prompt_longer_than_the_context_is_refused(onnx_settings: Settings) -> None:
    with pytest.raises(BadRequestError, match=r"The prompt is \d+ tokens; tiny-phi3's context "
                                              r"is 512 tokens"):
        collect("onnx", onnx_settings, ChatRequest(TEXT, "Say hello. " * 200))


def test_seeded_sampling_repeats_and_temperature_zero_is_greedy(onnx_settings) -> None:
    hot = ChatRequest(TEXT, "Tell me a story.", temperature=1.8, top_p=0.95, seed=7,
                      max_tokens=30)
    first, second = (parts(collect("onnx", onnx_settings, hot))[0] for _ in range(2))
    assert first == second
    cold = ChatRequest(TEXT, "Say hello.", temperature=0, seed=7)
    assert parts(collect("onnx", onnx_settings, cold))[0] == ANSWERS["Say hello."][0]


def test_stopping_mid_stream_ends_generation_within_one_token(onnx_settings, slow) -> None:
    received, closed_at = stop_after("onnx", onnx_settings,
                                     ChatRequest(TEXT, "Tell me a story."), 4)
    wait_for_workers()
    generated_after_stop = [end for _, end in slow.log if end > closed_at]
    assert received == 4
    assert len(generated_after_stop) <= 1  # at most the one in flight at the stop
    assert len(slow.log) < 10  # the story has 37


def test_concurrent_requests_on_one_model(onnx_settings, slow) -> None:
    async def go():
        provider = providers.create("onnx", onnx_settings)
        await provider.prepare(TEXT)

        async def one(prompt):
            return [e async for e in provider.stream(ChatRequest(TEXT, prompt))]
        return await asyncio.gather(*(one(p) for p in ANSWERS))
    slow.delay_s = 0.005
    for prompt, events in zip(ANSWERS, run(go())):
        text, usage, _ = parts(events)
        assert (text, usage.prompt_tokens, usage.completion_tokens) == ANSWERS[prompt]
    assert len(slow.log) == sum(a[2] + 1 for a in ANSWERS.values())
    # They really ran at the same time: each thread's first token came before any
    # thread's last one.
    runs = list(slow.by_thread.values())
    assert len(runs) == len(ANSWERS)
    assert max(r[0] for r in runs) < min(r[-1] for r in runs)


@pytest.mark.parametrize(("image", "answer"), [(WHITE, "The image is bright."),
                                               (BLACK, "The image is dark.")])
def test_the_vision_model_sees_the_image(image, answer, onnx_settings) -> None:
    request = ChatRequest(VISION, "Describe the image.", images=(image,))
    text, usage, finish = parts(collect("onnx", onnx_settings, request))
    assert text == answer and finish.reason == "stop"
    assert usage.prompt_tokens == IMAGE_TOKENS + 13 and usage.completion_tokens == 5


def test_two_images_in_one_prompt(onnx_settings) -> None:
    for image, answer in ((WHITE, "The images are bright."), (BLACK, "The images are dark.")):
        request = ChatRequest(VISION, "Describe the image.", images=(image, image))
        text, usage, _ = parts(collect("onnx", onnx_settings, request))
        assert text == answer
        assert usage.prompt_tokens == 2 * IMAGE_TOKENS + 14  # one "\n" more than one image


@pytest.mark.parametrize("fmt", ["WEBP", "GIF", "BMP"])
def test_formats_the_native_decoder_lacks_are_converted(fmt, onnx_settings) -> None:
    # Handed over as they are, these abort the process inside libjpeg.
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.open(io.BytesIO(BLACK.data)).convert("RGB").save(buffer, fmt)
    image = ImageInput(buffer.getvalue(), f"image/{fmt.lower()}", f"black.{fmt.lower()}")
    request = ChatRequest(VISION, "Describe the image.", images=(image,))
    assert parts(collect("onnx", onnx_settings, request))[0] == "The image is dark."


def test_an_undecodable_image_is_refused(onnx_settings) -> None:
    broken = ImageInput(WHITE.data[:40], name="cut.png")
    with pytest.raises(UnsupportedInputError, match="'cut.png' cannot be decoded"):
        collect("onnx", onnx_settings, ChatRequest(VISION, "Describe.", images=(broken,)))


def test_the_vision_model_answers_text_without_images(onnx_settings) -> None:
    text, usage, _ = parts(collect("onnx", onnx_settings, ChatRequest(VISION, "Say hello.")))
    assert text == ANSWERS["Say hello."][0] and usage.prompt_tokens == 11


def test_images_for_a_text_model_are_refused_before_running(onnx_settings, slow) -> None:
    with pytest.raises(UnsupportedInputError, match="text-only"):
        collect("onnx", onnx_settings, ChatRequest(TEXT, "Describe.", images=(WHITE,)))
    assert slow.log == [] and onnx_genai._CACHE.loaded() == []


def test_a_missing_model_lists_what_is_available(onnx_settings) -> None:
    with pytest.raises(NotFoundError) as caught:
        collect("onnx", onnx_settings, ChatRequest("phi-3.5-mini", "hi"))
    message = caught.value.message
    assert "No ONNX model 'phi-3.5-mini'" in message and str(MODELS) in message
    assert "Available: tiny-phi3, tiny-phi3-vision." in message
    assert "python -m playground models download phi-3.5-mini" in message


def test_a_missing_model_in_an_empty_folder(tmp_path) -> None:
    settings = Settings({"ONNX_MODELS_DIR": str(tmp_path / "nothing")})
    with pytest.raises(NotFoundError, match="Available: none.*models list"):
        run(providers.create("onnx", settings).prepare("my-model"))


@pytest.mark.parametrize(("damage", "error", "says"), [
    ("no config", NotFoundError, "has no genai_config.json"),
    ("bad json", UnavailableError, "genai_config.json is corrupt"),
    ("truncated model", UnavailableError, "Cannot load the ONNX model.*Protobuf parsing failed"),
    ("missing weights", UnavailableError, "Cannot load the ONNX model.*model.onnx.data"),
])
def test_a_corrupt_model_folder_gives_a_clear_error(damage, error, says, tmp_path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(MODELS / TEXT, folder)
    if damage == "no config":
        (folder / "genai_config.json").unlink()
    elif damage == "bad json":
        (folder / "genai_config.json").write_text("{ not json")
    elif damage == "truncated model":
        (folder / "model.onnx").write_bytes((MODELS / TEXT / "model.onnx").read_bytes()[:1000])
    else:
        (folder / "model.onnx.data").unlink()
    settings = Settings({"ONNX_MODELS_DIR": str(tmp_path)})
    with pytest.raises(error, match=says):
        run(providers.create("onnx", settings).prepare("broken"))
    assert onnx_genai._CACHE.loaded() == []


def test_a_path_target_and_list_models(tmp_path) -> None:
    settings = Settings({"ONNX_MODELS_DIR": str(MODELS)})
    events = collect("onnx", settings, ChatRequest(str(MODELS / TEXT), "What is 2 + 2?"))
    assert parts(events)[0] == "2 + 2 = 4."
    entries = run(providers.create("onnx", settings).list_models())
    assert [(e.id, e.vision, e.max_images, e.context_length, e.source) for e in entries] == [
        (TEXT, False, 0, 512, "local"), (VISION, True, 3, 8192, "local")]


def test_models_load_once_and_at_most_onnx_max_loaded_stay(onnx_settings) -> None:
    settings = onnx_settings.with_overrides({"ONNX_MAX_LOADED": "1"})

    async def go():
        provider = providers.create("onnx", settings)
        await provider.prepare(TEXT)
        first = [e async for e in provider.stream(ChatRequest(TEXT, "Say hello."))]
        again = [e async for e in provider.stream(ChatRequest(TEXT, "Say hello."))]
        await provider.prepare(VISION)
        return first, again
    first, again = run(go())
    assert "load_ms" in parts(first)[2].details and "load_ms" not in parts(again)[2].details
    assert [e for e in again if isinstance(e, Notice)] == []
    assert onnx_genai._CACHE.loaded() == [str((MODELS / VISION).resolve())]


def test_engine_runs_onnx_next_to_a_cloud_target(fakes, behaviours, monkeypatch) -> None:
    behaviours.default.pieces = ["Hi", " there."]
    real_load = onnx_genai.load_model

    def slow_load(path):
        time.sleep(0.5)  # a slow disk: must show as load_ms, never in TTFT
        return real_load(path)
    monkeypatch.setattr(onnx_genai, "load_model", slow_load)
    settings = Settings.load(dotenv_path=None, environ={**fakes, "ONNX_MODELS_DIR": str(MODELS)})
    results, _ = compare(settings, ["onnx:tiny-phi3", "ollama:phi3.5"],
                         ChatRequest("", "Say hello."))
    local, cloud = results
    assert local.status == "ok" and local.text == ANSWERS["Say hello."][0]
    assert (local.prompt_tokens, local.completion_tokens, local.tokens_source) == (
        11, 13, "counted")
    assert local.finish_reason == "stop" and local.decode_tokens_per_s > 0
    assert local.details["load_ms"] >= 500 and local.ttft_ms < 400
    assert any("before the run started" in n for n in local.notices)
    assert cloud.status == "ok" and cloud.text == "Hi there."


def test_engine_stop_keeps_the_partial_answer(onnx_settings, slow) -> None:
    async def go():
        pool = ProviderPool(onnx_settings)
        comparison = Comparison(ChatRequest("", "Tell me a story."),
                                [providers.parse_target("onnx:tiny-phi3")], pool)
        async for _ in comparison.updates():
            if len(comparison.results[0].text) >= 10:
                comparison.stop()
        return comparison.results[0], time.perf_counter()
    result, stopped_by = run(go())
    wait_for_workers()
    assert result.status == "stopped" and result.partial
    assert STORY.startswith(result.text) and result.text != STORY
    assert result.completion_tokens == result.counted_tokens < 36
    assert len(slow.log) <= result.counted_tokens + 2


def test_engine_timeout_stops_the_thread(onnx_settings, slow) -> None:
    slow.delay_s = 0.5
    results, _ = compare(onnx_settings, ["onnx:tiny-phi3"], ChatRequest("", "Say hello."),
                         timeout_s=0.2)
    wait_for_workers()
    assert results[0].status == "error" and results[0].error_kind == "timeout"
    assert len(slow.log) <= 2


def test_cli_compare_with_an_onnx_target(tmp_path) -> None:
    done = playground("compare", "--prompt", "你知道长沙吗？", "--target", "onnx:tiny-phi3",
                      "--format", "json", env={"ONNX_MODELS_DIR": str(MODELS)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["results"][0]
    assert result["status"] == "ok" and result["text"] == "长沙是湖南的省会。"
    assert (result["prompt_tokens"], result["completion_tokens"]) == (27, 27)
    assert result["tokens_source"] == "counted" and result["finish_reason"] == "stop"


def test_cli_refuses_images_for_the_text_model(tmp_path) -> None:
    done = playground("compare", "--prompt", "Describe.", "--target", "onnx:tiny-phi3",
                      "--image", str(FIXTURES / "images" / "white.png"), "--format", "json",
                      env={"ONNX_MODELS_DIR": str(MODELS)}, cwd=tmp_path)
    assert done.returncode == 1
    result = json.loads(done.stdout)["results"][0]
    assert result["status"] == "error" and result["error_kind"] == "unsupported_input"
