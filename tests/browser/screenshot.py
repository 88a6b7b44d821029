"""Make the README's screenshot: the lesson's Chinese question (你知道长沙吗？) compared on
Phi-3-mini and Phi-3.5-mini through the lesson preset, served by the project's fake
servers (answers and timings are the fakes', written for the picture).

Usage: python -m tests.browser.screenshot [OUT.png] [--size 1400x900] [--first-screen]
(default docs/screenshot.png, the whole page at 1400 px wide; ``--first-screen`` keeps
only what a 1280x800 window shows without scrolling, to check the answers are on it).
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from fake_services.server import FakeServer
from fake_services.services import Behaviours, wire_all
from tests.browser.conftest import CHROMIUM_ARGS
from tests.conftest import REPO
from tests.ui_support import free_port

PRESET = "Phi-3-mini vs Phi-3.5-mini (Chinese) · NVIDIA NIM"
MINI_3 = ["长沙是湖南省的省会，位于湘江下游，已有三千多年的历史。\n\n",
          "- 以辣味十足的**湘菜**和臭豆腐闻名\n", "- 有千年学府**岳麓书院**\n",
          "- 湘江中的**橘子洲**风景优美\n"]
MINI_35 = ["当然知道！**长沙**是湖南省省会，也是一座历史文化名城。\n\n",
           "1. **岳麓山**与岳麓书院：中国古代四大书院之一\n",
           "2. **橘子洲头**：湘江中的长岛，有青年毛泽东雕像\n",
           "3. **美食**：臭豆腐、糖油粑粑、口味虾，夜宵文化很热闹\n\n",
           "长沙还因电视和娱乐产业被称为“娱乐之都”。\n"]


def chunks(paragraphs: list[str], size: int = 3) -> list[str]:
    """Split into pieces of a few characters, as a service streams Chinese text."""
    text = "".join(paragraphs)
    return [text[i:i + size] for i in range(0, len(text), size)]


def behaviours() -> Behaviours:
    fakes = Behaviours()
    fakes.set("microsoft/phi-3-mini-4k-instruct", pieces=chunks(MINI_3), first_s=0.31,
              interval_s=0.035)
    fakes.set("microsoft/phi-3.5-mini-instruct", pieces=chunks(MINI_35), first_s=0.24,
              interval_s=0.03)
    return fakes


def shoot(out: Path, width: int, height: int, first_screen: bool) -> None:
    """Open the app on the fakes, pick the Chinese preset, Compare, save a PNG."""
    from playwright.sync_api import sync_playwright

    from playground.ui.layout import build_demo, launch_options
    from providers.settings import Settings

    with FakeServer() as fake:
        demo = build_demo(Settings.load(dotenv_path=None, environ=wire_all(fake, behaviours())))
        _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True,
                                **launch_options())
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                                     headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(url)
                page.locator("#preset input").click()
                page.locator("#preset [role=option]", has_text=PRESET).first.click()
                page.wait_for_function("document.querySelector('#prompt textarea')"
                                       "?.value.includes('长沙')")
                page.locator("#compare-btn").click()
                page.locator("#dl-csv").wait_for(state="visible", timeout=30_000)
                page.wait_for_timeout(1000)  # the charts finish drawing
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=not first_screen)
                browser.close()
        finally:
            demo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path,
                        default=Path(REPO) / "docs" / "screenshot.png")
    parser.add_argument("--size", default="1400x900", help="viewport WIDTHxHEIGHT (px)")
    parser.add_argument("--first-screen", action="store_true",
                        help="only the viewport, not the whole page")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    shoot(args.out, width, height, args.first_screen)
    print(args.out)


if __name__ == "__main__":
    main()
