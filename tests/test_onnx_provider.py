"""The ``onnx`` provider on the tiny Phi-3 fixtures: real onnxruntime-genai generation
(in worker processes; tests/test_onnx_process.py covers those).

Expected answers and token counts are the fixtures' documented contract
(tests/fixtures/README.md, tests/fixtures/_tiny_data.py).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

import onnxruntime_genai as og
import pytest

import providers
from providers.base import ChatRequest, Finish, ImageInput, Notice, TextDelta, Usage
from providers.errors import BadRequestError, NotFoundError, UnavailableError, UnsupportedInputError
from providers.local import onnx as onnx_genai
from providers.local import onnx_model, onnx_process
from providers.local.onnx import generate_message
from providers.settings import Settings
from tests import onnx_hooks
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
    onnx_genai.shutdown()
    yield
    onnx_genai.shutdown()
    assert onnx_genai._CACHE.loaded() == []
    assert live_workers() == []


def live_workers() -> list[onnx_process.WorkerProcess]:
    """The worker processes of this process that are still running."""
    return onnx_process.running()


def parts(events):
    usage = [e for e in events if isinstance(e, Usage)]
    finish = [e for e in events if isinstance(e, Finish)]
    assert len(usage) == 1 and len(finish) == 1 and events[-1] is finish[0]
    return text_of(events), usage[0], finish[0]


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
    lm = onnx_model.load_model(MODELS / TEXT)  # here, in this process
    assert onnx_model.chat_prompt(lm, generate_message(request)) == (
        "<|system|>\nYou are a pirate.<|end|>\n<|user|>\nSay hello.<|end|>\n<|assistant|>\n")
    two = ChatRequest(TEXT, "Compare.", images=(WHITE, BLACK))
    assert onnx_model.chat_prompt(lm, generate_message(two)) == (
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


def test_images_for_a_text_model_are_refused_before_running(onnx_settings) -> None:
    with pytest.raises(UnsupportedInputError, match="text-only"):
        collect("onnx", onnx_settings, ChatRequest(TEXT, "Describe.", images=(WHITE,)))
    assert live_workers() == []  # no worker was even started


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


def test_engine_runs_onnx_next_to_a_cloud_target(fakes, behaviours, monkeypatch) -> None:
    behaviours.default.pieces = ["Hi", " there."]
    # A slow disk: must show as load_ms, never in TTFT.
    onnx_hooks.use(monkeypatch, "slow_load", delay_s=0.5)
    settings = Settings.load(dotenv_path=None, environ={**fakes, "ONNX_MODELS_DIR": str(MODELS)})
    results, _ = compare(settings, ["onnx:tiny-phi3", "ollama:phi3.5"],
                         ChatRequest("", "Say hello."))
    local, cloud = results
    assert local.status == "ok" and local.text == ANSWERS["Say hello."][0]
    assert (local.prompt_tokens, local.completion_tokens, local.tokens_source) == (
        11, 13, "counted")
    assert local.finish_reason == "stop" and local.decode_tokens_per_s > 0
    assert local.details["load_ms"] >= 500 and local.ttft_ms < 400
    assert any("before the run started" in n and "starting the worker process" in n
               for n in local.notices)
    assert cloud.status == "ok" and cloud.text == "Hi there."


def processes_with(marker: str) -> list[int]:
    """Pids of the processes whose environment holds ``marker`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:  # gone meanwhile, or not ours
            pass
    return found


def test_cli_compare_with_an_onnx_target(tmp_path) -> None:
    marker = f"SLM_TEST_RUN={uuid.uuid4().hex}"  # inherited by the CLI's worker processes
    done = playground("compare", "--prompt", "你知道长沙吗？", "--target", "onnx:tiny-phi3",
                      "--format", "json", env={"ONNX_MODELS_DIR": str(MODELS),
                                               marker.split("=")[0]: marker.split("=")[1]},
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    if Path("/proc/self/environ").exists():
        assert processes_with(marker) == []  # the worker ended with the CLI
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
