"""Planted keys (server env keys and a key typed into the session settings) never reach
any output channel, even when servers echo them back in errors: the HTML and every HTTP
response the browser receives, browser storage, the API's event stream, the CSV/JSON
exports, the scenario report, the run history and the logs at DEBUG level."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from fake_services.server import FakeServer, Recorded, json_reply
from fake_services.services import KEYS, Behaviours, wire_all
from tests.browser.conftest import complete_bodies, served

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

SESSION_KEY = "nvapi-typed-by-a-visitor-PLANTED-7777"
PLANTED = [*KEYS.values(), SESSION_KEY]
TARGETS = ["nim:microsoft/phi-3.5-mini-instruct", "openai:phi-3.5-mini-instruct",
           "ollama:phi3.5", "azure:Phi-3.5-mini-instruct"]


def echo(request: Recorded):
    """A careless server: its 401 repeats the key it was sent, twice."""
    auth = request.headers.get("Authorization", "")
    return json_reply(401, {"error": {"message": f"Invalid key {auth.split()[-1]} ({auth})"}})


@dataclass
class LeakyApp:
    url: str
    logs: io.StringIO
    history: Path


@pytest.fixture(scope="module")
def leaky_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeakyApp]:
    root = logging.getLogger()
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    root.addHandler(handler)  # before build_demo: it attaches the redaction to handlers
    old_level, root.level = root.level, logging.DEBUG
    history = tmp_path_factory.mktemp("db") / "history.db"
    with pytest.MonkeyPatch.context() as patch, FakeServer() as fake:
        patch.setenv("PLAYGROUND_DB", str(history))
        env = wire_all(fake, Behaviours())
        for path in ("/compat/v1/chat/completions", "/nim/v1/chat/completions",
                     "/azure/openai/v1/chat/completions"):
            fake.on("POST", path, echo)
        try:
            with served(env) as url:
                yield LeakyApp(url, logs, history)
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)


def assert_clean(channel: str, text: str) -> None:
    for key in PLANTED:
        assert key not in text, f"{key} leaked into {channel}"


def test_planted_keys_reach_no_channel(page, leaky_app: LeakyApp, tmp_path: Path) -> None:
    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r))
    page.goto(leaky_app.url + "/?targets=" + ",".join(TARGETS) + "&prompt=Hello",
              wait_until="domcontentloaded")
    page.get_by_role("tab", name="Settings").click()
    page.locator("#key-NVIDIA_API_KEY input").fill(SESSION_KEY)
    page.locator("#keys-save").click()
    page.locator("#keys-status").get_by_text("NVIDIA_API_KEY").wait_for()
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-btn").click()
    page.locator("#dl-csv").wait_for(state="visible", timeout=30_000)
    # Positive control: the servers did echo the keys, and the page shows them redacted.
    assert "Invalid key ***" in page.locator("#status-0").inner_text()
    downloads = []
    for button in ("#dl-csv", "#dl-json"):
        with page.expect_download() as download:
            page.locator(button).click()
        downloads.append(Path(download.value.path()).read_text(encoding="utf-8"))
    page.get_by_role("tab", name="Scenarios").click()
    page.locator("#scenario-pack input").click()
    page.locator("#scenario-pack [role=option]", has_text="Chinese Q&A").first.click()
    page.locator("#scenario-repeats input").fill("1")
    page.locator("#scenario-run").click()
    page.locator("#scenario-report").wait_for(state="visible", timeout=60_000)
    with page.expect_download() as report:
        page.locator("#scenario-report").click()

    assert_clean("the page", page.content())
    assert_clean("browser storage", page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"))
    checked = 0
    for url, body in complete_bodies(bodies):  # the API test below reads the event stream
        assert_clean(f"response {url}", body)
        checked += 1
    assert checked > 10
    for text in downloads:
        assert_clean("exports", text)
    assert "***" in downloads[1]
    assert_clean("scenario report", Path(report.value.path()).read_text(encoding="utf-8"))
    assert_clean("history", leaky_app.history.read_bytes().decode("utf-8", "replace"))
    assert_clean("logs", leaky_app.logs.getvalue())
    assert leaky_app.logs.getvalue(), "the logs were captured"


def test_the_api_event_stream_carries_no_key(leaky_app: LeakyApp) -> None:
    data = ["nim:microsoft/phi-3.5-mini-instruct,openai:phi-3.5-mini-instruct".split(","),
            "Hello", "", None, 16, None, None, None, 10]
    started = requests.post(f"{leaky_app.url}/gradio_api/call/compare",
                            json={"data": data}, timeout=10)
    event = started.json()["event_id"]
    stream = requests.get(f"{leaky_app.url}/gradio_api/call/compare/{event}", timeout=30).text
    assert "Invalid key ***" in stream and "event: complete" in stream
    assert_clean("the API event stream", stream)
    assert_clean("/config", requests.get(f"{leaky_app.url}/config", timeout=10).text)
