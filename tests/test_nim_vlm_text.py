"""NIM's VLM route reads ``<img`` tags from the text of every message: a ``<img`` that is
not one of the route's own image tags (a user's HTML, an earlier answer quoting a tag, a
system prompt) is written ``&lt;img`` in every turn, the route's tags stay intact, and
the user is told. The fake reads the tags as the server does and refuses a stray one."""

from __future__ import annotations

import base64

import pytest

import providers.nim
from fake_services.nim_vlm import inline_image_problem
from fake_services.server import FakeServer
from fake_services.services import VLM_PATH, Behaviours
from providers.base import ChatRequest, ImageInput, Notice, Turn
from providers.errors import ProviderError
from providers.settings import Settings
from tests.support import collect, png, text_of

VLM_MODEL = "microsoft/phi-3-vision-128k-instruct"
IMAGE = ImageInput(png(4, 4), "image/png", "chart.png")
TAG = f'<img src="data:image/png;base64,{base64.b64encode(IMAGE.data).decode()}" />'
QUOTED = '<IMG src="data:image/png;base64,iVBORw0KGgo=" />'  # well-formed: would be read
SYSTEM = "Answer in HTML-free text; never write <img> tags."
HISTORY = (Turn("user", "What does <img src=x onerror=alert(1)> do?"),
           Turn("assistant", f"It is an image tag, e.g. {QUOTED}"),
           Turn("user", "And this chart?", (IMAGE,)), Turn("assistant", "Sales by month."))
FOLLOW_UP = "Write <img alt='x'> differently."


@pytest.fixture(autouse=True)
def answer(behaviours: Behaviours) -> Behaviours:
    behaviours.default.pieces = ["ok"]
    behaviours.default.first_s = 0.0
    return behaviours


def request() -> ChatRequest:
    return ChatRequest(VLM_MODEL, FOLLOW_UP, system=SYSTEM, max_tokens=32, history=HISTORY)


def test_stray_img_is_neutralized_in_every_turn_and_ours_stay(server: FakeServer,
                                                              settings: Settings) -> None:
    events = collect("nim", settings, request())
    seen = server.last()
    assert seen.path == "/nim" + VLM_PATH
    assert seen.json["messages"] == [
        {"role": "system", "content": "Answer in HTML-free text; never write &lt;img> tags."},
        {"role": "user", "content": "What does &lt;img src=x onerror=alert(1)> do?"},
        {"role": "assistant", "content": "It is an image tag, e.g. "
                                         '&lt;IMG src="data:image/png;base64,iVBORw0KGgo=" />'},
        {"role": "user", "content": f"And this chart? {TAG}"},
        {"role": "assistant", "content": "Sales by month."},
        {"role": "user", "content": "Write &lt;img alt='x'> differently."}]
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and notices[0].startswith("4 `<img` in the conversation's text "
                                                       "written as `&lt;img`")
    assert text_of(events) == "ok"


def test_text_without_img_gets_no_notice(server: FakeServer, settings: Settings) -> None:
    plain = ChatRequest(VLM_MODEL, "And this one?", images=(IMAGE,), max_tokens=32,
                        history=(Turn("user", "<b>hi</b> & <i>img</i>"), Turn("assistant", "hi")))
    events = collect("nim", settings, plain)
    assert not [e for e in events if isinstance(e, Notice)]
    assert server.last().json["messages"][0]["content"] == "<b>hi</b> & <i>img</i>"


def test_the_route_would_be_refused_without_the_escape(server: FakeServer, settings: Settings,
                                                       monkeypatch) -> None:
    monkeypatch.setattr(providers.nim, "neutralize_img_tags", lambda text: (text, 0))
    with pytest.raises(ProviderError, match="not a readable image"):
        collect("nim", settings, request())


def test_other_nim_routes_send_text_as_it_is(server: FakeServer, settings: Settings) -> None:
    collect("nim", settings, ChatRequest("microsoft/phi-3.5-mini-instruct", FOLLOW_UP,
                                         max_tokens=32, history=HISTORY[:2]))
    assert [m["content"] for m in server.last().json["messages"]] == [
        HISTORY[0].text, HISTORY[1].text, FOLLOW_UP]  # a chat route does not parse tags


@pytest.mark.parametrize("messages,problem", [
    ([{"role": "user", "content": f"see {TAG}"}], None),
    ([{"role": "user", "content": 'an asset <img src="data:image/png;asset_id,3f1e-8c2a" />'}],
     None),
    ([{"role": "user", "content": "<img src=x>"}], "not a readable image"),
    ([{"role": "user", "content": "a <IMG"}], "not a readable image"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": TAG},
      {"role": "user", "content": "b"}], "in a assistant message"),
    ([{"role": "user", "content": '<img src="data:image/png;base64,@@@@" />'}],
     "not a readable image"),
    ([{"role": "user", "content": '<img src="data:image/png;base64,AAA" />'}], "does not decode"),
    ([{"role": "user", "content": f'<img src="data:image/png;base64,{"A" * 180_004}" />'}],
     "more than 180000"),
    ([{"role": "user", "content": [{"type": "text", "text": "<img"}]}], None),
])
def test_the_fake_reads_image_tags_as_the_vlm_route_does(messages, problem) -> None:
    found = inline_image_problem(messages)
    assert (found is None) if problem is None else (problem in found)
