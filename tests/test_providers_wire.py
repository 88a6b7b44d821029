"""Each provider, with its real SDK, against a fake that asserts the request and streams
the vendor's exact frames."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from fake_services.server import FakeServer
from fake_services.services import KEYS, VLM_PATH, Behaviours, openai_chat
from providers.base import ChatRequest, Finish, ImageInput, Notice, TextDelta, Usage
from providers.settings import Settings
from tests.support import collect, text_of

PIECES = ["Phi", "-3.5", " says", " 你好", "，长沙", "。"]
PNG_2X2 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==")


@pytest.fixture
def answer(behaviours: Behaviours) -> Behaviours:
    behaviours.default.pieces = PIECES
    behaviours.default.first_s = 0.0
    return behaviours


def full_request(model: str, **extra) -> ChatRequest:
    return ChatRequest(model, "你知道长沙吗？", system="用中文回答。", max_tokens=64,
                       temperature=0.2, top_p=0.9, seed=7, **extra)


def test_nim_chat_request_and_stream(server: FakeServer, settings: Settings, answer) -> None:
    events = collect("nim", settings, full_request("microsoft/phi-3.5-mini-instruct"))
    seen = server.last()
    assert seen.path == "/nim/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {KEYS['NVIDIA_API_KEY']}"
    assert seen.json == {
        "model": "microsoft/phi-3.5-mini-instruct",
        "messages": [{"role": "system", "content": "用中文回答。"},
                     {"role": "user", "content": "你知道长沙吗？"}],
        "max_tokens": 64, "temperature": 0.2, "top_p": 0.9, "seed": 7, "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert text_of(events) == "".join(PIECES)
    assert Usage(20, len(PIECES), "reported") in events
    assert events[-1] == Finish("stop", "microsoft/phi-3.5-mini-instruct")


def test_unset_sampling_options_are_not_sent(server: FakeServer, settings: Settings, answer) -> None:
    collect("nim", settings, ChatRequest("microsoft/phi-3.5-mini-instruct", "hi"))
    body = server.last().json
    assert not {"max_tokens", "temperature", "top_p", "seed"} & set(body)


def test_azure_openai_v1_route_skips_prompt_filter_frame(server: FakeServer, settings: Settings,
                                                          answer) -> None:
    events = collect("azure", settings, full_request("Phi-3.5-mini-instruct"))
    seen = server.last()
    assert seen.path == "/azure/openai/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {KEYS['AZURE_AI_API_KEY']}"
    # The leading choices:[] prompt-filter frame yields no event of its own.
    assert isinstance(events[0], TextDelta) and events[0].text == "Phi"
    assert text_of(events) == "".join(PIECES)
    assert Usage(20, len(PIECES), "reported") in events


def test_azure_inference_route_usage_inside_finish_chunk(server: FakeServer, fakes, answer) -> None:
    settings = Settings({**fakes, "AZURE_AI_ENDPOINT": f"{server.url}/serverless"})
    events = collect("azure", settings, full_request("Phi-3.5-mini-instruct"))
    seen = server.last()
    assert seen.path == "/serverless/chat/completions"
    assert seen.query == {"api-version": "2024-05-01-preview"}
    key = KEYS["AZURE_AI_API_KEY"]
    assert seen.headers["api-key"] == key and seen.headers["Authorization"] == f"Bearer {key}"
    assert "extra-parameters" not in seen.headers
    assert seen.json["messages"][0] == {"role": "system", "content": "用中文回答。"}
    assert seen.json["stream"] is True and seen.json["seed"] == 7
    assert text_of(events) == "".join(PIECES)
    assert Usage(20, len(PIECES), "reported") in events
    assert events[-1].reason == "stop"


def test_openai_sdk_reads_usage_from_finish_chunk_too(server: FakeServer, fakes, answer) -> None:
    server.on("POST", "/serverless-v1/openai/v1/chat/completions",
              openai_chat(answer, flavour="azure_serverless"))
    settings = Settings({**fakes, "AZURE_AI_ENDPOINT": f"{server.url}/serverless-v1/openai/v1"})
    events = collect("azure", settings, full_request("Phi-3.5-mini-instruct"))
    assert Usage(20, len(PIECES), "reported") in events


def test_generic_server_without_stream_usage(server: FakeServer, fakes, answer) -> None:
    settings = Settings({**fakes, "OPENAI_COMPAT_STREAM_USAGE": "0"})
    events = collect("openai", settings, full_request("phi-3.5-mini-instruct"))
    assert "stream_options" not in server.last().json
    assert not [e for e in events if isinstance(e, Usage)]
    assert text_of(events) == "".join(PIECES)


def test_openai_style_images_are_data_url_parts(server: FakeServer, settings: Settings, answer) -> None:
    image = ImageInput(PNG_2X2, "image/png", "red.png")
    collect("nim", settings, ChatRequest("microsoft/phi-3.5-vision-instruct", "What is in this image?",
                                         images=(image, image)))
    content = server.last().json["messages"][-1]["content"]
    data_url = "data:image/png;base64," + base64.b64encode(PNG_2X2).decode()
    assert content == [{"type": "text", "text": "What is in this image?"},
                       {"type": "image_url", "image_url": {"url": data_url}},
                       {"type": "image_url", "image_url": {"url": data_url}}]


def test_nim_vlm_route_inlines_img_tags(server: FakeServer, settings: Settings, answer) -> None:
    image = ImageInput(PNG_2X2, "image/png", "red.png")
    events = collect("nim", settings, ChatRequest("microsoft/phi-3-vision-128k-instruct",
                                                  "What is in this image?", images=(image,),
                                                  max_tokens=512))
    seen = server.last()
    assert seen.path == "/nim" + VLM_PATH
    assert seen.headers["Accept"] == "text/event-stream"
    b64 = base64.b64encode(PNG_2X2).decode()
    assert seen.json == {"messages": [{"role": "user", "content":
                                       f'What is in this image? <img src="data:image/png;base64,{b64}" />'}],
                         "stream": True, "max_tokens": 512}
    assert text_of(events) == "".join(PIECES)


def test_nim_vlm_downscales_images_over_the_inline_limit(server: FakeServer, settings: Settings,
                                                          answer) -> None:
    noise = Image.effect_noise((700, 700), 100).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    assert len(base64.b64encode(buffer.getvalue())) > 180_000
    events = collect("nim", settings, ChatRequest("microsoft/phi-3-vision-128k-instruct", "Describe.",
                                                  images=(ImageInput(buffer.getvalue(), name="noise.png"),)))
    notes = [e.message for e in events if isinstance(e, Notice)]
    assert len(notes) == 1 and "noise.png" in notes[0] and "700x700" in notes[0]
    content = server.last().json["messages"][0]["content"]
    inline = content.split('src="')[1].split('"')[0]
    assert inline.startswith("data:image/jpeg;base64,")
    assert len(inline.split(",", 1)[1]) <= 180_000


def test_ollama_native_request_and_counters(server: FakeServer, settings: Settings, answer) -> None:
    image = ImageInput(PNG_2X2, "image/png", "red.png")
    events = collect("ollama", settings, full_request("phi3.5", images=(image,)))
    seen = server.last()
    assert seen.path == "/api/chat"
    assert seen.json == {
        "model": "phi3.5", "stream": True,
        "options": {"temperature": 0.2, "top_p": 0.9, "num_predict": 64, "seed": 7},
        "messages": [{"role": "system", "content": "用中文回答。"},
                     {"role": "user", "content": "你知道长沙吗？",
                      "images": [base64.b64encode(PNG_2X2).decode()]}],
        "tools": [],
    }
    assert text_of(events) == "".join(PIECES)
    assert Usage(20, len(PIECES), "reported") in events
    finish = events[-1]
    assert finish.reason == "stop" and finish.details["load_ms"] == pytest.approx(1.334875)
    assert finish.details["server_eval_tokens_per_s"] > 0


def test_github_models_answers_retired(server: FakeServer, settings: Settings) -> None:
    from providers.errors import RetiredError

    with pytest.raises(RetiredError) as caught:
        collect("github", settings, ChatRequest("microsoft/phi-3.5-mini-instruct", "hi"))
    message = caught.value.message
    assert "retired" in message and "2026-07-30" in message
    for route in ("azure:", "nim:", "ollama:", "onnx:"):
        assert route in message
    assert server.last().path == "/inference/chat/completions"


def test_services_list_their_models(server: FakeServer, settings: Settings) -> None:
    import asyncio

    from playground.providers_report import models_report

    report = asyncio.run(models_report(settings))
    assert "microsoft/phi-3.5-vision-instruct" in report["nim"]["service"]
    assert report["ollama"]["service"] == ["phi3.5:latest", "phi3:latest"]
    assert report["openai"]["service"] == ["phi-3.5-mini-instruct"]
    assert report["github"]["service"] == [] and report["github"]["error"] is None
    assert "microsoft/phi-3.5-moe-instruct" in report["nim"]["catalog"]
    assert server.last("/nim/v1/models").headers["Authorization"].startswith("Bearer nvapi-")


def test_ollama_model_list_marks_phi_family(settings: Settings) -> None:
    import asyncio

    import providers

    async def listed():
        provider = providers.create("ollama", settings)
        try:
            return await provider.list_models()
        finally:
            await provider.aclose()

    entries = {e.id: e for e in asyncio.run(listed())}
    assert entries["phi3.5:latest"].family == "Phi-3.5-mini-instruct"
    assert entries["phi3.5:latest"].context_length == 131072
