"""Issue 15's whole flow in a real browser, on a public server: three turns across two
panes (an image in turn 2), one pane unsynced with its own system prompt, a retry and a
follow-up to one pane (the fakes' bodies show each pane sent its own history); Save;
the link opened in a second browser context (read-only, no keys, not the owner's list),
"Continue from here" and a follow-up; the HTML export opened from disk with the network
cut. Answers carry markup, a script, a template and the server's key: none runs or
leaks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from fake_services.server import FakeServer
from fake_services.services import KEYS, Behaviours, wire_all
from tests.browser.conftest import ARTIFACTS, App, served
from tests.browser.test_playground_browser import compare, open_app

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

NIM = "nim:microsoft/phi-3.5-vision-instruct"
AZURE = "azure:Phi-3.5-vision-instruct"
PATHS = {NIM: "/nim/v1/chat/completions", AZURE: "/azure/openai/v1/chat/completions"}
MODELS = {NIM: "microsoft/phi-3.5-vision-instruct", AZURE: "Phi-3.5-vision-instruct"}
# Turn 1's answers try markup, a script, a template and echo the server's key.
# (No "<img": NIM reads inline <img> tags as images, refused in an assistant turn.)
HOSTILE = ["**长沙** is in Hunan. ",
           '<svg onload="window.__xss=1"></svg><script>window.__xss=2</script> ', "${7*6} ",
           KEYS["NVIDIA_API_KEY"]]


@pytest.fixture(scope="module")
def public_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The app on a public server (per-browser saved lists) with a store, on the fakes."""
    behaviours = Behaviours()
    with pytest.MonkeyPatch.context() as patch, FakeServer() as fake:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        patch.setenv("PLAYGROUND_PUBLIC", "1")  # Policy.from_env reads the environment
        folder = tmp_path_factory.mktemp("db")
        env = {**wire_all(fake, behaviours), "PLAYGROUND_DB": str(folder / "share.db")}
        with served(env) as url:
            yield App(url, fake, folder, behaviours)


def answer_as(app: App, turn: str, extra: list[str] = ()) -> None:
    """From now on each model answers "<its provider>-<turn> says hi." (then ``extra``):
    whose answer is whose shows."""
    for target, model in MODELS.items():
        app.behaviours.set(model, pieces=[f"{target.split(':')[0]}-{turn} ", "says hi. ",
                                          *extra], first_s=0.05, interval_s=0.01)


def bodies(app: App, target: str) -> list[dict]:
    return [r.json for r in app.fake.chat_requests() if r.path == PATHS[target]]


def texts(body: dict) -> list[tuple[str, str]]:
    """A chat body's messages as (role, text), image parts left out."""
    out = []
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if p.get("type") == "text")
        out.append((message["role"], content.strip()))
    return out


def context(browser):
    made = browser.new_context(viewport={"width": 1500, "height": 1250},
                               accept_downloads=True)
    made.set_default_timeout(20_000)
    return made


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


def save(page) -> str:
    page.locator("#save-btn").click()
    page.wait_for_function("document.querySelector('#saved-link textarea')?.value"
                           ".includes('comparison=')")
    return page.locator("#saved-link textarea").input_value()


def secrets_in(text: str) -> list[str]:
    return [name for name, value in KEYS.items() if value in text]


def test_conversation_save_share_continue_and_export(browser, public_app: App,
                                                     tmp_path: Path) -> None:
    image = tmp_path / "white.png"
    Image.new("RGB", (32, 32), "white").save(image)
    owner, visitor = context(browser), context(browser)
    try:
        owner_page = owner.new_page()
        converse(owner_page, public_app, image)
        link = save(owner_page)
        owner_page.locator("#saved-list").get_by_text("Saved comparisons").click()
        owner_page.locator("#saved-history").get_by_text("长沙在哪里？").wait_for()
        owner_page.locator("#new-conversation").click()
        owner_page.locator("#slot-0").wait_for(state="hidden")
        assert owner_page.locator("#follow-up").is_hidden()

        visitor_page = visitor.new_page()  # another session: saves its own first
        answer_as(public_app, "visitor")
        open_app(visitor_page, public_app, [NIM, AZURE], "Visitor's own question")
        compare(visitor_page)
        mine = save(visitor_page)
        assert mine != link
        visitor_page.goto(link, wait_until="domcontentloaded")
        read_only(visitor_page)
        exported = download_html(visitor_page, tmp_path)
        continue_and_follow_up(visitor_page, public_app)
        bad_links(visitor.new_page(), public_app.url)
    finally:
        owner.close()
        visitor.close()
    open_offline(browser, exported)


def converse(page, app: App, image: Path) -> None:
    """Three turns to both panes (an image in turn 2; pane 2 unsynced with its own
    system prompt for turn 3), a retry of turn 3 in pane 1, turn 4 to pane 2 only."""
    answer_as(app, "t1", HOSTILE)
    open_app(page, app, [NIM, AZURE], "长沙在哪里？")
    compare(page)
    wait_answer(page, 0, "nim-t1")
    assert page.evaluate("window.__xss") is None
    page.locator("#follow-up").wait_for(state="visible")

    answer_as(app, "t2")  # turn 2, with an image, to both panes
    send(page, "#follow-up", "What is in this image?", image)
    wait_answer(page, 0, "nim-t2")
    wait_answer(page, 1, "azure-t2")
    chat = page.locator("#chat-0")
    # Waited for, not counted: the chat view loads its image component on first use.
    chat.get_by_text("What is in this image?").first.wait_for()
    chat.locator("img").first.wait_for()  # the image is shown in its turn
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
        turns = [t for t in texts(bodies(app, target)[-1]) if t[0] != "system"]
        assert turns[1][1].startswith(f"{own}-t1 says hi. **长沙** is in Hunan.")
        assert turns[:1] + turns[2:] == [
            ("user", "长沙在哪里？"), ("user", "What is in this image?"),
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
    assert page.evaluate("window.__xss") is None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "conversation.png"), full_page=True)


def read_only(visitor) -> None:
    """The link shows every turn of both panes, escaped, with no field to edit and no
    key; the visitor's list has its own comparison only."""
    visitor.locator("#saved-viewer").get_by_text("read-only").wait_for()
    view = visitor.locator("#saved-view")
    text = view.inner_text()
    assert "长沙 is in Hunan." in text and "And its food?" in text and "Turn 4" in text
    assert "nim-retried" in text and "nim-t3" not in text  # the retry replaced turn 3
    assert "System: Answer in French." in text
    assert "${7*6}" in text  # shown as typed, never evaluated
    assert view.locator("input, textarea, select, [contenteditable=true]").count() == 0
    assert visitor.evaluate("window.__xss") is None
    assert not secrets_in(visitor.content())
    visitor.locator("#saved-list").get_by_text("Saved comparisons").click()
    history = visitor.locator("#saved-history")
    history.get_by_text("Visitor's own question").wait_for()
    assert "长沙在哪里" not in history.inner_text()
    visitor.screenshot(path=str(ARTIFACTS / "shared-comparison.png"), full_page=True)


def download_html(visitor, tmp_path: Path) -> Path:
    with visitor.expect_download() as download:
        visitor.locator("#saved-dl-html").click()
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    assert exported.suffix == ".html" and not secrets_in(exported.read_text("utf-8"))
    return exported


def continue_and_follow_up(visitor, app: App) -> None:
    """Continue from here: the panes come back with their turns and pane 2's own system
    prompt; the next follow-up sends each pane its own history."""
    # The link opened no lesson preset under the saved comparison: the form is empty
    # (share field filled: on_load has run), so the targets can only come from it.
    visitor.wait_for_function("document.querySelector('#share-link textarea')?.value"
                              ".includes('targets=')")
    assert visitor.locator("#preset input").input_value() == ""
    assert "phi-3" not in visitor.locator("#targets").inner_text().lower()
    assert visitor.locator("#prompt textarea").input_value() == ""
    visitor.locator("#continue-btn").click()
    visitor.locator("#saved-viewer").wait_for(state="hidden")
    visitor.locator("#chat-1").get_by_text("Merci ?").wait_for()
    chosen = visitor.locator("#targets").inner_text()
    assert "phi-3.5-vision-instruct" in chosen and "Phi-3.5-vision-instruct" in chosen
    assert not visitor.locator("#sync-1 input").is_checked()
    visitor.wait_for_function("document.querySelector('#own-system-1 textarea')?.value"
                              " === 'Answer in French.'")
    answer_as(app, "t5")
    send(visitor, "#follow-up", "thanks!")
    wait_answer(visitor, 0, "nim-t5")
    wait_answer(visitor, 1, "azure-t5")
    french = texts(bodies(app, AZURE)[-1])
    assert french[0] == ("system", "Answer in French.")
    assert [m[0] for m in french[1:]] == ["user", "assistant"] * 4 + ["user"]
    # The saved answer comes back with the server's key redacted.
    assert french[1:3] == [("user", "长沙在哪里？"),
                           ("assistant", "azure-t1 says hi. " + "".join(HOSTILE[:3]) + "***")]
    assert french[-1] == ("user", "thanks!")
    assert texts(bodies(app, NIM)[-1])[0][0] == "user"  # synced: the form's (no) system
    assert texts(bodies(app, NIM)[-1])[-1] == ("user", "thanks!")
    # The HTML download under the results follows the continued conversation.
    visitor.locator("#dl-html").get_by_text("(5 turns)").wait_for()
    with visitor.expect_download() as download:
        visitor.locator("#dl-html").click()
    page = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Turn 5" in page and "thanks!" in page and not secrets_in(page)


def bad_links(page, url: str) -> None:
    page.goto(f"{url}/?comparison=not-a-real-id", wait_until="domcontentloaded")
    page.locator("#saved-view").get_by_text("does not name a saved comparison").wait_for()
    page.goto(f"{url}/?comparison={'A' * 22}", wait_until="domcontentloaded")
    page.locator("#saved-view").get_by_text("No saved comparison has this id").wait_for()


def open_offline(browser, exported: Path) -> None:
    """The export from disk in a fresh context with the network cut: it shows the
    answers, the image, the table and the charts, and asks for nothing but itself."""
    offline = context(browser)
    try:
        offline.set_offline(True)
        page = offline.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(exported.as_uri())
        # data: URLs (the embedded image) are the file's own bytes, not a fetch.
        assert [u for u in requested if not u.startswith("data:")] == [exported.as_uri()]
        text = page.locator("body").inner_text()
        assert "长沙在哪里？" in text and "长沙 is in Hunan." in text and "Merci ?" in text
        assert page.locator("table.metrics tbody tr").count() == 7  # 3 + 4 turns
        assert page.locator("svg.chart").count() >= 2
        assert page.evaluate("[...document.images].filter(i => i.naturalWidth > 0).length") >= 1
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(ARTIFACTS / "export-offline.png"), full_page=True)
    finally:
        offline.close()
