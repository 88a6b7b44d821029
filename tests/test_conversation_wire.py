"""Every provider route sends the whole conversation in its own wire form: a three-turn
history (an image in turn 2) asserted message by message in the body the fake received.
The fakes refuse a body whose roles do not alternate (as Phi chat templates do)."""

from __future__ import annotations

import base64

import pytest

from fake_services.server import FakeServer
from fake_services.services import VLM_PATH, Behaviours, conversation_problem
from providers.base import ChatRequest, ImageInput, Turn, Usage
from providers.errors import RetiredError
from providers.settings import Settings
from tests.support import collect, png, text_of

PIECES = ["长沙", "的", "美食", "很多。"]
IMAGE = ImageInput(png(4, 4), "image/png", "map.png")
B64 = base64.b64encode(IMAGE.data).decode()
DATA_URL = f"data:image/png;base64,{B64}"
SYSTEM = "用中文回答。"
HISTORY = (Turn("user", "你知道长沙吗？"), Turn("assistant", "长沙是湖南的省会。"),
           Turn("user", "这张地图上它在哪里？", (IMAGE,)), Turn("assistant", "在中间。"))
FOLLOW_UP = "它的美食呢？"


@pytest.fixture(autouse=True)
def answer(behaviours: Behaviours) -> Behaviours:
    behaviours.default.pieces = PIECES
    behaviours.default.first_s = 0.0
    return behaviours


def conversation(model: str) -> ChatRequest:
    return ChatRequest(model, FOLLOW_UP, system=SYSTEM, max_tokens=64, history=HISTORY)


def openai_messages_expected() -> list[dict]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": "你知道长沙吗？"},
            {"role": "assistant", "content": "长沙是湖南的省会。"},
            {"role": "user", "content": [
                {"type": "text", "text": "这张地图上它在哪里？"},
                {"type": "image_url", "image_url": {"url": DATA_URL}}]},
            {"role": "assistant", "content": "在中间。"},
            {"role": "user", "content": FOLLOW_UP}]


@pytest.mark.parametrize("provider,model,path", [
    ("nim", "microsoft/phi-3.5-vision-instruct", "/nim/v1/chat/completions"),
    ("azure", "Phi-3.5-vision-instruct", "/azure/openai/v1/chat/completions"),
    ("openai", "phi-3.5-vision-instruct", "/compat/v1/chat/completions"),
])
def test_openai_style_routes_send_every_turn(server: FakeServer, settings: Settings,
                                             provider: str, model: str, path: str) -> None:
    events = collect(provider, settings, conversation(model))
    seen = server.last()
    assert seen.path == path
    assert seen.json["messages"] == openai_messages_expected()
    assert text_of(events) == "".join(PIECES)


def test_github_route_sends_every_turn_before_its_retirement_answer(
        server: FakeServer, settings: Settings) -> None:
    with pytest.raises(RetiredError):
        collect("github", settings, conversation("microsoft/phi-3.5-vision-instruct"))
    assert server.last().json["messages"] == openai_messages_expected()


def test_azure_inference_route_sends_every_turn(server: FakeServer, fakes) -> None:
    settings = Settings({**fakes, "AZURE_AI_ENDPOINT": f"{server.url}/serverless"})
    events = collect("azure", settings, conversation("Phi-3.5-vision-instruct"))
    seen = server.last()
    assert seen.path == "/serverless/chat/completions"
    assert seen.json["messages"] == openai_messages_expected()
    assert text_of(events) == "".join(PIECES)


def test_nim_vlm_route_inlines_the_image_in_its_own_turn(server: FakeServer,
                                                         settings: Settings) -> None:
    events = collect("nim", settings, conversation("microsoft/phi-3-vision-128k-instruct"))
    seen = server.last()
    assert seen.path == "/nim" + VLM_PATH
    assert seen.json["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "你知道长沙吗？"},
        {"role": "assistant", "content": "长沙是湖南的省会。"},
        {"role": "user", "content": f'这张地图上它在哪里？ <img src="{DATA_URL}" />'},
        {"role": "assistant", "content": "在中间。"},
        {"role": "user", "content": FOLLOW_UP}]
    assert text_of(events) == "".join(PIECES)


def test_ollama_sends_images_with_the_message_that_had_them(server: FakeServer,
                                                            settings: Settings) -> None:
    events = collect("ollama", settings, conversation("phi3.5"))
    seen = server.last()
    assert seen.path == "/api/chat"
    assert seen.json["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "你知道长沙吗？"},
        {"role": "assistant", "content": "长沙是湖南的省会。"},
        {"role": "user", "content": "这张地图上它在哪里？", "images": [B64]},
        {"role": "assistant", "content": "在中间。"},
        {"role": "user", "content": FOLLOW_UP}]
    assert Usage(20, len(PIECES), "reported") in events


@pytest.mark.parametrize("messages,problem", [
    ([{"role": "user", "content": "a"}], None),
    ([{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
      {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}], None),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "alternate"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "last message"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "images": ["x"]},
      {"role": "user", "content": "c"}], "no images"),
    ([], "non-empty"),
])
def test_the_fakes_refuse_a_broken_conversation(messages, problem) -> None:
    found = conversation_problem(messages)
    assert (found is None) if problem is None else (problem in found)
