"""Save and share end to end on a public server (issue 15): save a comparison, open its
link in a second browser context (read-only, no keys, no other session's list), continue
from it, and open the HTML export from disk (file://) with nothing fetched."""

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
# An answer that tries markup, a template and echoes the server's key.
PIECES = ["**长沙** is in Hunan. ", '<img src=x onerror="window.__xss=1"> ', "${7*6} ",
          KEYS["NVIDIA_API_KEY"]]


@pytest.fixture(scope="module")
def public_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    behaviours = Behaviours()
    for model in ("microsoft/phi-3.5-mini-instruct", "microsoft/phi-3-mini-4k-instruct"):
        behaviours.set(model, pieces=PIECES, first_s=0.05, interval_s=0.01)
    with pytest.MonkeyPatch.context() as patch, FakeServer() as fake:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        patch.setenv("PLAYGROUND_PUBLIC", "1")  # Policy.from_env reads the environment
        db = tmp_path_factory.mktemp("db") / "share.db"
        with served({**wire_all(fake, behaviours), "PLAYGROUND_DB": str(db)}) as url:
            yield url


def context(browser):
    made = browser.new_context(viewport={"width": 1400, "height": 1100},
                               accept_downloads=True)
    made.set_default_timeout(20_000)
    return made


def save_a_comparison(page, url: str, prompt: str) -> str:
    page.goto(f"{url}/?targets={NIM},{NIM_MINI}&prompt={quote(prompt)}",
              wait_until="domcontentloaded")
    page.wait_for_function("document.querySelector('#share-link textarea')?.value"
                           ".includes('targets=')")
    page.locator("#compare-btn").click()
    page.locator("#dl-csv").wait_for(state="visible")
    page.locator("#save-btn").click()
    page.wait_for_function("document.querySelector('#saved-link textarea')?.value"
                           ".includes('comparison=')")
    return page.locator("#saved-link textarea").input_value()


def secrets_in(text: str) -> list[str]:
    return [name for name, value in KEYS.items() if value in text]


def test_save_open_the_link_elsewhere_continue_and_open_the_export_offline(
        browser, public_url: str, tmp_path: Path) -> None:
    first, second = context(browser), context(browser)
    try:
        owner_page = first.new_page()
        link = save_a_comparison(owner_page, public_url, "长沙在哪里？")
        owner_page.locator("#saved-list").get_by_text("Saved comparisons").click()
        owner_page.locator("#saved-history").get_by_text("长沙在哪里？").wait_for()

        visitor = second.new_page()  # another session: saves its own first
        mine = save_a_comparison(visitor, public_url, "Visitor's own question")
        assert mine != link
        visitor.goto(link, wait_until="domcontentloaded")
        viewer = visitor.locator("#saved-viewer")
        viewer.get_by_text("read-only").wait_for()
        view = visitor.locator("#saved-view")
        assert "长沙 is in Hunan." in view.inner_text()
        assert "${7*6}" in view.inner_text()  # shown as typed, never evaluated
        assert view.locator("input, textarea, select, [contenteditable=true]").count() == 0
        assert visitor.evaluate("window.__xss") is None
        assert not secrets_in(visitor.content())
        # This session's list: its own comparison only, never the owner's.
        visitor.locator("#saved-list").get_by_text("Saved comparisons").click()
        history = visitor.locator("#saved-history")
        history.get_by_text("Visitor's own question").wait_for()
        assert "长沙在哪里" not in history.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        visitor.screenshot(path=str(ARTIFACTS / "shared-comparison.png"), full_page=True)

        with visitor.expect_download() as download:
            visitor.locator("#saved-dl-html").click()
        exported = tmp_path / download.value.suggested_filename
        download.value.save_as(exported)
        assert exported.suffix == ".html" and not secrets_in(exported.read_text("utf-8"))

        # The page opened on a lesson preset: empty the targets so that they can only
        # come back from the saved comparison.
        visitor.locator("#targets .remove-all").click()
        visitor.wait_for_function("!document.querySelector('#targets').innerText"
                                  ".includes('phi-3')")
        visitor.locator("#continue-btn").click()
        viewer.wait_for(state="hidden")
        visitor.wait_for_function("document.querySelector('#targets').innerText"
                                  ".includes('phi-3-mini-4k')")
        chosen = visitor.locator("#targets").inner_text()
        assert "phi-3.5-mini-instruct" in chosen and "phi-3-mini-4k-instruct" in chosen

        bad = second.new_page()
        bad.goto(f"{public_url}/?comparison=not-a-real-id", wait_until="domcontentloaded")
        bad.locator("#saved-view").get_by_text("does not name a saved comparison").wait_for()
        bad.goto(f"{public_url}/?comparison={'A' * 22}", wait_until="domcontentloaded")
        bad.locator("#saved-view").get_by_text("No saved comparison has this id").wait_for()
    finally:
        first.close()
        second.close()
    open_offline(browser, exported)


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
        assert page.locator("table.metrics tbody tr").count() == 2
        assert page.locator("svg.chart").count() >= 2
        assert page.evaluate("window.__xss") is None
        page.screenshot(path=str(ARTIFACTS / "export-offline.png"), full_page=True)
    finally:
        offline.close()
