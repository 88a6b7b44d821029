"""Save and share end to end on a public server (issue 15): a two-turn conversation with
one pane unsynced (its own system prompt) is saved; its link opens in a second browser
context (read-only, no keys, not the owner's list); "Continue from here" restores it and
a follow-up sends each pane's own history; the HTML export opens from disk (file://)
with nothing fetched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from fake_services.server import FakeServer
from fake_services.services import KEYS, Behaviours, wire_all
from tests.browser.conftest import ARTIFACTS, served

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

NIM = "nim:microsoft/phi-3.5-mini-instruct"
NIM_MINI = "nim:microsoft/phi-3-mini-4k-instruct"
TURNS = {"and its food?": 2, "thanks!": 3}
# An answer that tries markup, a template and echoes the server's key.
# (No "<img": NIM reads inline <img> tags as images, refused in an assistant turn.)
PIECES = ["**长沙** is in Hunan. ",
          '<svg onload="window.__xss=1"></svg><script>window.__xss=2</script> ', "${7*6} ",
          KEYS["NVIDIA_API_KEY"]]


@pytest.fixture(scope="module")
def public_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeServer]]:
    behaviours = Behaviours()
    for model in ("microsoft/phi-3.5-mini-instruct", "microsoft/phi-3-mini-4k-instruct"):
        behaviours.set(model, pieces=PIECES, first_s=0.05, interval_s=0.01)
    with pytest.MonkeyPatch.context() as patch, FakeServer() as fake:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        patch.setenv("PLAYGROUND_PUBLIC", "1")  # Policy.from_env reads the environment
        db = tmp_path_factory.mktemp("db") / "share.db"
        with served({**wire_all(fake, behaviours), "PLAYGROUND_DB": str(db)}) as url:
            yield url, fake


def context(browser):
    made = browser.new_context(viewport={"width": 1400, "height": 1100},
                               accept_downloads=True)
    made.set_default_timeout(20_000)
    return made


def first_turn(page, url: str, prompt: str) -> None:
    page.goto(f"{url}/?targets={NIM},{NIM_MINI}&prompt={quote(prompt)}",
              wait_until="domcontentloaded")
    page.wait_for_function("document.querySelector('#share-link textarea')?.value"
                           ".includes('targets=')")
    page.locator("#compare-btn").click()
    page.locator("#dl-csv").wait_for(state="visible")


def follow_up(page, text: str) -> None:
    """Send ``text`` to every pane and wait until both answered."""
    page.locator("#follow-up textarea").fill(text)
    page.locator("#follow-up button.submit-button").click()
    for pane in (0, 1):
        page.wait_for_function(
            "([id, turn]) => { const t = document.querySelector(id)?.innerText || '';"
            " return t.includes(turn) && /done in|error|stopped/.test(t); }",
            arg=[f"#status-{pane}", f"turn {TURNS[text]}"])
        status = page.locator(f"#status-{pane}").inner_text()
        assert "done in" in status, status


def save(page) -> str:
    page.locator("#save-btn").click()
    page.wait_for_function("document.querySelector('#saved-link textarea')?.value"
                           ".includes('comparison=')")
    return page.locator("#saved-link textarea").input_value()


def sent(fake: FakeServer, model: str) -> list[tuple[str, str]]:
    """The last chat body sent for ``model``: (role, text) per message."""
    body = [r.json for r in fake.chat_requests() if r.json.get("model") == model][-1]
    return [(m["role"], m["content"] if isinstance(m["content"], str) else
             " ".join(p.get("text", "") for p in m["content"])) for m in body["messages"]]


def secrets_in(text: str) -> list[str]:
    return [name for name, value in KEYS.items() if value in text]


def test_save_open_the_link_elsewhere_continue_and_open_the_export_offline(
        browser, public_app: tuple[str, FakeServer], tmp_path: Path) -> None:
    url, fake = public_app
    first, second = context(browser), context(browser)
    try:
        owner_page = first.new_page()
        first_turn(owner_page, url, "长沙在哪里？")
        owner_page.locator("#sync-1 input").uncheck()  # pane 2: its own system prompt
        owner_page.locator("#own-system-1 textarea").fill("You are a pirate.")
        follow_up(owner_page, "and its food?")
        link = save(owner_page)
        owner_page.locator("#saved-list").get_by_text("Saved comparisons").click()
        owner_page.locator("#saved-history").get_by_text("长沙在哪里？").wait_for()

        visitor = second.new_page()  # another session: saves its own first
        first_turn(visitor, url, "Visitor's own question")
        mine = save(visitor)
        assert mine != link
        visitor.goto(link, wait_until="domcontentloaded")
        read_only(visitor)
        exported = download_html(visitor, tmp_path)
        continue_and_follow_up(visitor, fake)

        bad = second.new_page()
        bad.goto(f"{url}/?comparison=not-a-real-id", wait_until="domcontentloaded")
        bad.locator("#saved-view").get_by_text("does not name a saved comparison").wait_for()
        bad.goto(f"{url}/?comparison={'A' * 22}", wait_until="domcontentloaded")
        bad.locator("#saved-view").get_by_text("No saved comparison has this id").wait_for()
    finally:
        first.close()
        second.close()
    open_offline(browser, exported)


def read_only(visitor) -> None:
    """The link shows both turns of both panes, escaped, with no field to edit and no
    key; the visitor's list has its own comparison only."""
    visitor.locator("#saved-viewer").get_by_text("read-only").wait_for()
    view = visitor.locator("#saved-view")
    text = view.inner_text()
    assert "长沙 is in Hunan." in text and "and its food?" in text and "Turn 2" in text
    assert "System: You are a pirate." in text
    assert "${7*6}" in text  # shown as typed, never evaluated
    assert view.locator("input, textarea, select, [contenteditable=true]").count() == 0
    assert visitor.evaluate("window.__xss") is None
    assert not secrets_in(visitor.content())
    visitor.locator("#saved-list").get_by_text("Saved comparisons").click()
    history = visitor.locator("#saved-history")
    history.get_by_text("Visitor's own question").wait_for()
    assert "长沙在哪里" not in history.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    visitor.screenshot(path=str(ARTIFACTS / "shared-comparison.png"), full_page=True)


def download_html(visitor, tmp_path: Path) -> Path:
    with visitor.expect_download() as download:
        visitor.locator("#saved-dl-html").click()
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    assert exported.suffix == ".html" and not secrets_in(exported.read_text("utf-8"))
    return exported


def continue_and_follow_up(visitor, fake: FakeServer) -> None:
    """Continue from here: the panes come back with their turns and pane 2's own system
    prompt; the next follow-up sends each pane its own history."""
    # The page opened on a lesson preset: empty the targets so that they can only come
    # back from the saved comparison.
    visitor.locator("#targets .remove-all").click()
    visitor.wait_for_function("!document.querySelector('#targets').innerText"
                              ".includes('phi-3')")
    visitor.locator("#continue-btn").click()
    visitor.locator("#saved-viewer").wait_for(state="hidden")
    visitor.locator("#chat-1").get_by_text("and its food?").wait_for()
    chosen = visitor.locator("#targets").inner_text()
    assert "phi-3.5-mini-instruct" in chosen and "phi-3-mini-4k-instruct" in chosen
    assert not visitor.locator("#sync-1 input").is_checked()
    visitor.wait_for_function("document.querySelector('#own-system-1 textarea')?.value"
                              " === 'You are a pirate.'")
    follow_up(visitor, "thanks!")
    history = [("user", "长沙在哪里？"), ("assistant", "".join(PIECES[:3]) + "***"),
               ("user", "and its food?")]
    pirate = sent(fake, "microsoft/phi-3-mini-4k-instruct")
    assert pirate[0] == ("system", "You are a pirate.")
    assert [m[0] for m in pirate[1:]] == ["user", "assistant"] * 2 + ["user"]
    assert pirate[1:4] == history and pirate[-1] == ("user", "thanks!")
    assert sent(fake, "microsoft/phi-3.5-mini-instruct")[-1] == ("user", "thanks!")
    # The HTML download under the results follows the continued conversation.
    visitor.locator("#dl-html").get_by_text("(3 turns)").wait_for()
    with visitor.expect_download() as download:
        visitor.locator("#dl-html").click()
    page = Path(download.value.path()).read_text(encoding="utf-8")
    assert "Turn 3" in page and "thanks!" in page and not secrets_in(page)


def open_offline(browser, exported: Path) -> None:
    """The export from disk in a fresh context with the network cut: it shows the
    answers, the table and the charts, and asks for nothing but itself."""
    offline = context(browser)
    try:
        offline.set_offline(True)
        page = offline.new_page()
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(exported.as_uri())
        assert requested == [exported.as_uri()]
        text = page.locator("body").inner_text()
        assert "长沙在哪里？" in text and "长沙 is in Hunan." in text
        assert page.locator("table.metrics tbody tr").count() == 4  # 2 panes x 2 turns
        assert page.locator("svg.chart").count() >= 2
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(ARTIFACTS / "export-offline.png"), full_page=True)
    finally:
        offline.close()
