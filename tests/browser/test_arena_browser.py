"""The arena in a real browser: two visitors battle and vote in one class while a third
watches the leaderboard update; no target name is on the page, or in any response the
browser receives, before the vote."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from fake_services.server import FakeServer
from fake_services.services import Behaviours, wire_all
from tests.arena_support import LYNX, OWL, SECRET_WORDS, failing_compat
from tests.browser.conftest import complete_bodies, served

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]
CLASS = "room-1"


@pytest.fixture(scope="module")
def arena_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("arena") / "arena.db"
    with pytest.MonkeyPatch.context() as patch, FakeServer() as fake:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        behaviours = Behaviours()
        # Slow enough that the panes are seen streaming before the buttons enable.
        behaviours.default.first_s, behaviours.default.interval_s = 0.3, 0.05
        env = wire_all(fake, behaviours)
        fake.on("POST", "/compat/v1/chat/completions", failing_compat(behaviours))
        env.update(PLAYGROUND_DB=str(db), PLAYGROUND_ARENA_TARGETS=f"{OWL},{LYNX}")
        with served(env) as url:
            yield url


def open_arena(context, url: str, responses: list | None = None):
    page = context.new_page()
    if responses is not None:
        page.on("response", lambda response: responses.append(response))
    page.goto(url + "/", wait_until="domcontentloaded")
    page.get_by_role("tab", name="Arena").click()
    page.locator("#arena-class input").fill(CLASS)
    return page


def assert_no_names(channel: str, text: str) -> None:
    for word in SECRET_WORDS:
        assert word not in text.lower(), f"{word} in {channel}"


def bodies_without_names(responses: list) -> int:
    """Check every complete response body (the queue's open event stream is read whole
    by tests/test_arena_app.py instead); how many were checked."""
    checked = 0
    for url, body in complete_bodies(responses):
        assert_no_names(f"response {url}", body)
        checked += 1
    return checked


def battle(page, prompt: str) -> None:
    page.locator("#arena-prompt textarea").fill(prompt)
    page.locator("#arena-go").click()
    expect(page.locator("#arena-status-a")).to_contain_text("Model A")
    expect(page.locator("#arena-vote-a")).to_be_enabled(timeout=30_000)
    expect(page.locator("#arena-status-b")).to_contain_text("done in")


def test_two_voters_and_a_watcher(browser, arena_url: str) -> None:
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1100},
                                    accept_downloads=True) for _ in range(3)]
    try:
        for context in contexts:
            context.set_default_timeout(20_000)
        seen: list[list] = [[], []]
        voters = [open_arena(contexts[i], arena_url, seen[i]) for i in range(2)]
        watcher = open_arena(contexts[2], arena_url)
        watcher.locator("#arena-class input").press("Enter")
        expect(watcher.locator("#arena-note")).to_contain_text("no voted battle yet")

        for page, prompt in zip(voters, ("Hello from one?", "Hello from two?")):
            battle(page, prompt)
            assert f"This is a fake answer to: {prompt}" in page.locator(
                "#arena-answer-a").inner_text()
        for page, responses in zip(voters, seen):
            assert_no_names("the page before the vote", page.content())
            assert bodies_without_names(responses) > 5

        voters[0].locator("#arena-vote-a").click()
        voters[1].locator("#arena-vote-tie").click()
        for page, vote in zip(voters, ("A is better", "Tie")):
            reveal = page.locator("#arena-reveal")
            expect(reveal).to_contain_text("arena-owl-7b")
            expect(reveal).to_contain_text(f"Your vote: {vote}")
            expect(page.locator("#arena-vote-b")).to_be_disabled()
            expect(page.locator("#arena-metrics")).to_contain_text("ttft_ms")

        # The watcher voted nothing: its poll (every 3 s) brings both votes.
        expect(watcher.locator("#arena-note")).to_contain_text("2 voted battles",
                                                               timeout=30_000)
        expect(watcher.locator("#arena-board")).to_contain_text("arena-lynx-3b")
        expect(watcher.locator("#arena-chart svg")).to_be_visible()
        with watcher.expect_download() as download:
            watcher.locator("#arena-csv").click()
        assert OWL in open(download.value.path(), encoding="utf-8").read()
    finally:
        for context in contexts:
            context.close()
