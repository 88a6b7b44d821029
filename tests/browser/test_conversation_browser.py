"""A conversation in a real browser: three turns across two panes (an image in turn 2),
one pane unsynced with its own system prompt, a retry and a follow-up to one pane; the
fakes' bodies show that each pane sent its own history."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS, App
from tests.browser.test_playground_browser import compare, open_app

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

NIM = "nim:microsoft/phi-3.5-vision-instruct"
AZURE = "azure:Phi-3.5-vision-instruct"
PATHS = {NIM: "/nim/v1/chat/completions", AZURE: "/azure/openai/v1/chat/completions"}
MODELS = {NIM: "microsoft/phi-3.5-vision-instruct", AZURE: "Phi-3.5-vision-instruct"}


def answer_as(app: App, turn: str) -> None:
    """From now on each model answers "<its name> <turn>": whose answer is whose shows."""
    for target, model in MODELS.items():
        app.behaviours.set(model, pieces=[f"{target.split(':')[0]}-{turn} ", "says hi."])


def bodies(app: App, target: str) -> list[dict]:
    return [r.json for r in app.fake.chat_requests() if r.path == PATHS[target]]


def texts(body: dict) -> list[tuple[str, str]]:
    out = []
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
        out.append((message["role"], content))
    return out


def send(page, box: str, text: str, image: Path | None = None) -> None:
    """Type ``text`` (and attach ``image``) in the follow-up box ``box`` and send it."""
    if image is not None:
        page.locator(f"{box} input[type=file]").set_input_files(str(image))
        page.locator(f"{box} img").first.wait_for()  # uploaded: its thumbnail shows
    page.locator(f"{box} textarea").fill(text)
    page.locator(f"{box} button.submit-button").click()


def wait_answer(page, pane: int, text: str) -> None:
    page.locator(f"#answer-{pane}").get_by_text(text).wait_for()
    page.locator(f"#status-{pane}").get_by_text("done in").wait_for()


def table_turns(page) -> list[tuple[str, str]]:
    header = [h.strip() for h in page.locator("#metrics thead th").all_inner_texts()
              if h.strip()]
    rows = []
    for row in page.locator("#metrics .virtual-row").all():
        cells = dict(zip(header, (c.strip() for c in
                                  row.locator("[role=gridcell]").all_inner_texts())))
        rows.append((cells["target"], cells["turn"]))
    return rows


def test_three_turns_two_panes_unsync_retry(page, app: App, tmp_path) -> None:
    image = tmp_path / "white.png"
    Image.new("RGB", (32, 32), "white").save(image)
    answer_as(app, "t1")
    open_app(page, app, [NIM, AZURE], "长沙在哪里？")
    compare(page)
    wait_answer(page, 0, "nim-t1")
    page.locator("#follow-up").wait_for(state="visible")

    answer_as(app, "t2")  # turn 2, with an image, to both panes
    send(page, "#follow-up", "What is in this image?", image)
    wait_answer(page, 0, "nim-t2")
    wait_answer(page, 1, "azure-t2")
    chat = page.locator("#chat-0")
    assert chat.get_by_text("What is in this image?").count() >= 1
    assert chat.locator("img").count() >= 1  # the image is shown in its turn
    for target in (NIM, AZURE):
        second = bodies(app, target)[-1]
        assert any(p.get("type") == "image_url" for p in second["messages"][-1]["content"])

    page.locator("#sync-1 input").uncheck()  # pane 2 gets its own system prompt
    page.locator("#own-system-1 textarea").wait_for(state="visible")
    page.locator("#own-system-1 textarea").fill("Answer in French.")
    answer_as(app, "t3")
    send(page, "#follow-up", "And its food?")
    wait_answer(page, 0, "nim-t3")
    wait_answer(page, 1, "azure-t3")
    for target, own in ((NIM, "nim"), (AZURE, "azure")):
        third = texts(bodies(app, target)[-1])
        turns = [t for t in third if t[0] != "system"]
        assert turns == [("user", "长沙在哪里？"), ("assistant", f"{own}-t1 says hi."),
                         ("user", "What is in this image?"),
                         ("assistant", f"{own}-t2 says hi."), ("user", "And its food?")]
    assert texts(bodies(app, AZURE)[-1])[0] == ("system", "Answer in French.")
    assert texts(bodies(app, NIM)[-1])[0][0] == "user"  # no system prompt: still synced

    answer_as(app, "retried")  # retry turn 3 in pane 1 only
    sent = len(app.fake.chat_requests())
    page.locator("#retry-0").click()
    wait_answer(page, 0, "nim-retried")
    assert len(app.fake.chat_requests()) == sent + 1
    assert texts(bodies(app, NIM)[-1])[-1] == ("user", "And its food?")
    assert "azure-t3" in page.locator("#answer-1").inner_text()  # untouched

    answer_as(app, "t4")  # a follow-up typed in the unsynced pane goes there only
    send(page, "#pane-follow-1", "Merci ?")
    wait_answer(page, 1, "azure-t4")
    assert len(app.fake.chat_requests()) == sent + 2
    fourth = texts(bodies(app, AZURE)[-1])
    assert fourth[0] == ("system", "Answer in French.") and fourth[-1] == ("user", "Merci ?")
    assert ("assistant", "azure-t3 says hi.") in fourth
    page.wait_for_function("document.querySelectorAll('#metrics .virtual-row').length >= 7")
    assert table_turns(page) == [(NIM, "1"), (AZURE, "1"), (NIM, "2"), (AZURE, "2"),
                                 (NIM, "3"), (AZURE, "3"), (AZURE, "4")]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "conversation.png"), full_page=True)

    page.locator("#new-conversation").click()
    page.locator("#slot-0").wait_for(state="hidden")
    assert page.locator("#follow-up").is_hidden()
