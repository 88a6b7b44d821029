"""The optional ``transformers`` provider on the tiny HF Phi-3 fixture (same weights and
answers as the ONNX one). Skipped only when torch/transformers are not installed
(``pip install -r requirements-transformers.txt``; CI installs them)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import pytest

import providers
from playground.providers_report import providers_report
from providers.base import ChatRequest, Finish, ImageInput, TextDelta, Usage
from providers.errors import ConfigError, NotFoundError, UnavailableError, UnsupportedInputError
from providers.local import transformers as hf_transformers
from providers.settings import Settings
from tests.conftest import REPO, run
from tests.support import answers_at_once, collect, compare, text_of, wait_for_workers
from tests.test_cli import playground
from tests.test_onnx_provider import ANSWERS, MODELS, STORY, stop_after

FIXTURES = Path(REPO) / "tests" / "fixtures"
HF = str(FIXTURES / "hf" / "tiny-phi3")
WHITE = ImageInput((FIXTURES / "images" / "white.png").read_bytes(), name="white.png")
SETTINGS = Settings({})


@pytest.fixture(scope="module")
def torch_installed() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")


@pytest.fixture
def slow_forward(torch_installed):
    """The loaded fixture model, slowed to 20 ms per forward pass; logs (start, end)."""
    key, load = providers.create("transformers", SETTINGS).loader(HF)
    model = hf_transformers._CACHE.load(key, load, 1)[0].model
    log: list[tuple[float, float]] = []
    original = model.forward

    def forward(*args, **kwargs):
        started = time.perf_counter()
        time.sleep(0.02)
        try:
            return original(*args, **kwargs)
        finally:
            log.append((started, time.perf_counter()))
    model.forward = forward
    yield log
    del model.forward


def parts(events):
    usage = [e for e in events if isinstance(e, Usage)]
    finish = [e for e in events if isinstance(e, Finish)]
    assert len(usage) == 1 and len(finish) == 1 and events[-1] is finish[0]
    return text_of(events), usage[0], finish[0]


@pytest.mark.parametrize("prompt", list(ANSWERS))
def test_exact_answers_and_token_counts(prompt, torch_installed) -> None:
    answer, prompt_tokens, completion_tokens = ANSWERS[prompt]
    events = collect("transformers", SETTINGS, ChatRequest(HF, prompt))
    text, usage, finish = parts(events)
    assert text == answer and finish.reason == "stop" and finish.model == "tiny-phi3"
    assert usage == Usage(prompt_tokens, completion_tokens, "counted")
    assert [e.tokens for e in events if isinstance(e, TextDelta)] == [1] * completion_tokens


def test_system_prompt_and_max_tokens(torch_installed) -> None:
    pirate = collect("transformers", SETTINGS,
                     ChatRequest(HF, "Say hello.", system="You are a pirate."))
    assert parts(pirate)[0] == "Arr! Hello, matey."
    assert parts(pirate)[1] == Usage(22, 9, "counted")
    short = parts(collect("transformers", SETTINGS,
                          ChatRequest(HF, "Tell me a story.", max_tokens=5)))
    assert short[0] == "Once upon a" and short[1].completion_tokens == 5
    assert short[2].reason == "length"


def test_seeded_sampling_repeats(torch_installed) -> None:
    request = ChatRequest(HF, "Tell me a story.", temperature=1.8, seed=11, max_tokens=25)
    first, second = (parts(collect("transformers", SETTINGS, request))[0] for _ in range(2))
    assert first == second and first
    greedy = ChatRequest(HF, "Say hello.", temperature=0)
    assert parts(collect("transformers", SETTINGS, greedy))[0] == ANSWERS["Say hello."][0]


def test_a_prompt_longer_than_the_context_is_refused(torch_installed) -> None:
    from providers.errors import BadRequestError

    with pytest.raises(BadRequestError, match="context is 512 tokens"):
        collect("transformers", SETTINGS, ChatRequest(HF, "Say hello. " * 200))


def test_stopping_mid_stream_ends_generation_within_one_token(slow_forward) -> None:
    received, closed_at = stop_after("transformers", SETTINGS,
                                     ChatRequest(HF, "Tell me a story."), 4)
    wait_for_workers("transformers")
    assert received == 4
    assert sum(1 for _, end in slow_forward if end > closed_at) <= 1
    assert len(slow_forward) <= 4 + 2  # the story has 37 tokens


def test_concurrent_requests_on_one_model(torch_installed) -> None:
    for prompt, events in zip(ANSWERS, run(answers_at_once("transformers", SETTINGS, HF,
                                                           list(ANSWERS)))):
        text, usage, _ = parts(events)
        assert (text, usage.prompt_tokens, usage.completion_tokens) == ANSWERS[prompt]


def test_images_for_a_text_model_are_refused(torch_installed) -> None:
    with pytest.raises(UnsupportedInputError, match="no image processor"):
        collect("transformers", SETTINGS, ChatRequest(HF, "Describe.", images=(WHITE,)))


def test_a_missing_or_corrupt_folder_gives_a_clear_error(torch_installed, tmp_path) -> None:
    with pytest.raises(NotFoundError, match="No model folder"):
        collect("transformers", SETTINGS, ChatRequest(str(tmp_path / "nope"), "hi"))
    broken = tmp_path / "broken"
    shutil.copytree(HF, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(UnavailableError, match="Cannot load the Transformers model"):
        run(providers.create("transformers", SETTINGS).prepare(str(broken)))
    (broken / "config.json").unlink()
    with pytest.raises(NotFoundError, match="has no config.json"):
        run(providers.create("transformers", SETTINGS).prepare(str(broken)))


def test_missing_packages_are_named(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(ConfigError, match="needs torch: pip install -r requirements-transformers"):
        providers.create("transformers", SETTINGS).check_configured()
    # `providers`, the UI's provider list and scenario routing must not call it ready.
    entry = next(e for e in providers_report(SETTINGS) if e["id"] == "transformers")
    assert not entry["configured"]
    assert "torch" in entry["why_not"]
    assert "pip install -r requirements-transformers.txt" in entry["why_not"]


def test_both_local_runtimes_agree_next_to_a_cloud_target(fakes, behaviours,
                                                          torch_installed) -> None:
    from providers.local import onnx as onnx_genai

    hf_transformers._CACHE.clear()  # both load in prepare(): load_ms, never in TTFT
    onnx_genai._CACHE.clear()
    behaviours.default.pieces = ["长沙", "是湖南的省会。"]
    settings = Settings.load(dotenv_path=None, environ={**fakes, "ONNX_MODELS_DIR": str(MODELS)})
    results, _ = compare(settings, [f"transformers:{HF}", "onnx:tiny-phi3", "ollama:phi3.5"],
                         ChatRequest("", "你知道长沙吗？"), timeout_s=30)
    hf, onnx, cloud = results
    for local in (hf, onnx):
        assert local.status == "ok" and local.text == "长沙是湖南的省会。"
        assert (local.prompt_tokens, local.completion_tokens, local.tokens_source) == (
            27, 27, "counted")
        assert "load_ms" in local.details
        assert any("before the run started" in n for n in local.notices)
    assert cloud.status == "ok" and cloud.tokens_source == "reported"


def test_cli_compare_with_a_transformers_target(torch_installed, tmp_path) -> None:
    done = playground("compare", "--prompt", "Tell me a story.", "--target", f"transformers:{HF}",
                      "--max-tokens", "64", "--format", "json", env={}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["results"][0]
    assert result["text"] == STORY and result["completion_tokens"] == 36
    assert result["tokens_source"] == "counted"


@pytest.fixture(scope="module")
def tiny_llava(torch_installed, tmp_path_factory) -> str:
    """A random tiny LLaVA (CLIP vision tower + Phi-3 text model, the fixture's tokenizer
    plus an <image> token) saved with its processor: the AutoProcessor vision route."""
    import torch
    import transformers as tf

    out = tmp_path_factory.mktemp("tiny-llava")
    tok = tf.AutoTokenizer.from_pretrained(HF)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    torch.manual_seed(0)
    vision = tf.CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                 num_attention_heads=2, image_size=32, patch_size=16)
    text = tf.Phi3Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=256, original_max_position_embeddings=256,
                         eos_token_id=[0, 4], pad_token_id=0, bos_token_id=0)
    config = tf.LlavaConfig(vision_config=vision, text_config=text,
                            image_token_index=tok.convert_tokens_to_ids("<image>"))
    tf.LlavaForConditionalGeneration(config).save_pretrained(out)
    template = ("{% for m in messages %}<|{{ m['role'] }}|>\n{% if m['content'] is string %}"
                "{{ m['content'] }}{% else %}{% for c in m['content'] %}{% if c['type'] == "
                "'image' %}<image>\n{% else %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
                "<|end|>\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
    images = tf.CLIPImageProcessor(size={"shortest_edge": 32},
                                   crop_size={"height": 32, "width": 32})
    tf.LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=16,
                      vision_feature_select_strategy="default", chat_template=template,
                      num_additional_image_tokens=1).save_pretrained(out)
    return str(out)


def test_images_go_through_the_models_processor(tiny_llava) -> None:
    black = ImageInput((FIXTURES / "images" / "black.png").read_bytes(), name="black.png")

    def run_with(*images: ImageInput):
        request = ChatRequest(tiny_llava, "Describe the image.", images=images, max_tokens=12)
        return parts(collect("transformers", SETTINGS, request))
    plain, white, dark, both = run_with(), run_with(WHITE), run_with(black), run_with(WHITE, black)
    # (32 / 16)^2 = 4 image tokens, plus the "\n" after each <image>, counted exactly.
    assert white[1].prompt_tokens == dark[1].prompt_tokens == plain[1].prompt_tokens + 5
    assert both[1].prompt_tokens == plain[1].prompt_tokens + 10
    assert white[1].completion_tokens == 12 == dark[1].completion_tokens
    assert white[0] != dark[0]  # the (random) model really sees the pixels
