"""Make the README's screenshot: the lesson's Phi-3-mini vs Phi-3.5-mini comparison on
two routes, served by the project's fake servers (answers and timings are the fakes').

Usage: python -m tests.browser.screenshot [docs/screenshot.png]
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.browser.conftest import CHROMIUM_ARGS
from tests.conftest import REPO
from tests.fakes.server import FakeServer
from tests.fakes.services import Behaviours, wire_all
from tests.ui_support import free_port

PROMPT = "What is Changsha known for? Answer in three bullet points."
MINI_3 = ["Changsha is the capital of **Hunan** province in China.\n\n",
          "- Known for its spicy **Hunan cuisine**\n", "- Home to **Yuelu Academy**\n",
          "- Famous for the **Orange Isle** on the Xiang River\n"]
MINI_35 = ["**Changsha**, capital of Hunan, is known for:\n\n",
           "- **Yuelu Academy**, one of China's four great ancient academies\n",
           "- **Orange Isle** (Juzizhou) with its giant statue of young Mao Zedong\n",
           "- Spicy **stinky tofu** and a lively night-food scene\n"]


def words(paragraphs: list[str]) -> list[str]:
    """Split into word-sized pieces, as a service streams them."""
    return [piece for line in paragraphs for piece in line.replace(" ", "\0 ").split("\0")]


def behaviours() -> Behaviours:
    fakes = Behaviours()
    fakes.set("microsoft/phi-3-mini-4k-instruct", pieces=words(MINI_3), first_s=0.31,
              interval_s=0.035)
    fakes.set("microsoft/phi-3.5-mini-instruct", pieces=words(MINI_35), first_s=0.24,
              interval_s=0.03)
    fakes.set("phi3", pieces=words(MINI_3), first_s=0.52, interval_s=0.06)
    fakes.set("phi3.5", pieces=words(MINI_35), first_s=0.61, interval_s=0.065)
    return fakes


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(REPO) / "docs" / "screenshot.png")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from playwright.sync_api import sync_playwright

    from playground.ui.layout import build_demo, launch_options
    from providers.settings import Settings

    targets = ["nim:microsoft/phi-3-mini-4k-instruct", "nim:microsoft/phi-3.5-mini-instruct",
               "ollama:phi3", "ollama:phi3.5"]
    with FakeServer() as fake:
        demo = build_demo(Settings.load(dotenv_path=None, environ=wire_all(fake, behaviours())))
        _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True,
                                **launch_options())
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                                     headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{url}?targets={','.join(targets)}&prompt={PROMPT}")
                page.wait_for_function("document.querySelector('#share-link textarea')"
                                       "?.value.includes('targets=')")
                page.locator("#compare-btn").click()
                page.locator("#dl-csv").wait_for(state="visible", timeout=30_000)
                page.wait_for_timeout(1000)  # the charts finish drawing
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True)
                browser.close()
        finally:
            demo.close()
    print(out)


if __name__ == "__main__":
    main()
