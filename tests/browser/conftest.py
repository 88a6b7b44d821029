"""The real app in Debian's Chromium (Playwright, no `playwright install`), wired to the
fake servers, the tiny ONNX fixtures and a fake Hugging Face Hub.

Chromium missing is a failure, not a skip (CI must run these); set
PLAYGROUND_SKIP_BROWSER=1 to skip them on a machine without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub.constants
import pytest

from fake_services.server import FakeServer
from fake_services.services import Behaviours, ollama_tags, wire_all
from playground.ui.layout import build_demo, launch_options
from providers.settings import Settings
from tests.conftest import REPO
from tests.fake_hub import FakeHub
from tests.test_local_models import MODEL, repo_files
from tests.ui_support import free_port

ARTIFACTS = Path(REPO) / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

# model -> (pieces, first token s, interval s): the fakes' known schedule.
SCHEDULE = {
    "microsoft/phi-3.5-mini-instruct": (12, 0.20, 0.03),
    "phi3.5": (20, 0.35, 0.04),
    "Phi-3.5-mini-instruct": (16, 0.25, 0.03),
    "slow-phi": (300, 0.10, 0.10),
}


def complete_bodies(responses: list) -> Iterator[tuple[str, str]]:
    """(url, body text) of each response the page received whole. An event stream's body
    is only complete when it closes (``body()`` would wait on the open queue stream):
    tests read that channel whole through the API instead. Redirects and aborted
    requests have no body."""
    for response in responses:
        if "event-stream" in response.headers.get("content-type", ""):
            continue
        try:
            body = response.body().decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - no body to check
            continue
        yield response.url, body


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if os.environ.get("PLAYGROUND_SKIP_BROWSER") == "1":
        pytest.skip("PLAYGROUND_SKIP_BROWSER=1")
    if path is None:
        pytest.fail("Chromium is missing: `apt-get install -y chromium` (tests/run.sh does "
                    "it when run as root), or set PLAYGROUND_SKIP_BROWSER=1 to skip.")
    return path


def pieces(model: str) -> list[str]:
    count = SCHEDULE[model][0]
    return [f"Piece{i} " for i in range(count)]


@dataclass
class App:
    url: str
    fake: FakeServer
    models_dir: Path
    behaviours: Behaviours  # the fakes read it at each request: a test may change it



@contextlib.contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    """The app built for ``env``, launched on a free loopback port; yields its URL."""
    demo = build_demo(Settings.load(dotenv_path=None, environ=env))
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(),
                            prevent_thread_lock=True, quiet=True, **launch_options())
    try:
        yield url.rstrip("/")
    finally:
        demo.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    behaviours = Behaviours()
    for model, (_, first_s, interval_s) in SCHEDULE.items():
        behaviours.set(model, pieces=pieces(model), first_s=first_s, interval_s=interval_s)
    models_dir = tmp_path_factory.mktemp("models")
    for fixture in ("tiny-phi3", "tiny-phi3-vision"):
        shutil.copytree(Path(REPO) / "tests" / "fixtures" / "models" / fixture,
                        models_dir / fixture)
    with pytest.MonkeyPatch.context() as patch, FakeServer() as fake, \
            FakeHub({MODEL.repo_id: repo_files()}) as hub:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # the hub is local
        env = {**wire_all(fake, behaviours), "ONNX_MODELS_DIR": str(models_dir),
               "HF_ENDPOINT": hub.url}
        # Ollama lists every model the tests use: an unlisted one is refused before sending.
        fake.on("GET", "/api/tags", ollama_tags(["phi3.5:latest", "phi3:latest", "slow-phi"]))
        with served(env) as url:
            yield App(url, fake, models_dir, behaviours)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (a new Gradio session) per test."""
    context = browser.new_context(viewport={"width": 1500, "height": 1250},
                                  accept_downloads=True)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
