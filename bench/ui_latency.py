"""Benchmark: token -> browser latency of the web UI, and its wall time over the slowest stream.

N panes stream from the fakes (in their own process) at known rates; the app runs in
this process and Debian's Chromium shows it. Every token is unique (``t<pane>x<k>``).
The fake logs the ``perf_counter()`` instant it wrote each token (CLOCK_MONOTONIC, the
same clock in every process); an in-page MutationObserver notes when each token's text
first appears in the DOM, and the browser's clock is mapped onto perf_counter by the tightest
of 30 round trips. Prints, over R rounds after a warm-up, in one run:

* token delay, fake wrote it -> its text is in the DOM: p50 / p95 (goal p95 <= 150 ms);
* wall / slowest: Compare click -> every pane shows "done" (browser clock), divided by the
  slowest stream's own duration at the fake (request received -> last token written)
  (goal <= 1.05).

Usage: python -m bench.ui_latency [--panes 6] [--rounds 5] [--tokens 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine_fanout import LEAD_EVENTS  # noqa: E402
from bench.support import fake_server_process, fake_url, percentile  # noqa: E402
from fake_services.server import free_port  # noqa: E402

PROVIDERS = ("nim", "azure", "ollama", "openai", "nim", "ollama")
OLLAMA_LISTED = ("phi3.5", "phi3")  # what the fake Ollama lists (/api/tags)
POLL_JS = """([panes, tokens]) => {
  // A MutationObserver notes the moment the page's DOM changes (cheaper and more exact
  // than polling, which would take CPU from the page it measures).
  window.__seen = Array.from({length: panes}, () => []);
  window.__done = null;
  const stamp = () => performance.timeOrigin + performance.now();
  const check = () => {
    const now = stamp();
    let done = 0;
    for (let i = 0; i < panes; i++) {
      const text = (document.querySelector('#answer-' + i) || {}).textContent || '';
      const last = text.match(/x(\\d{4})\\s*$/);
      const seen = window.__seen[i];
      if (last) { for (let k = seen.length; k <= Number(last[1]); k++) seen.push(now); }
      const status = (document.querySelector('#status-' + i) || {}).textContent || '';
      if (status.includes('done in')) done++;
    }
    if (done === panes && window.__done === null) window.__done = now;
  };
  // The panes only enter the DOM once Compare shows them: watch the whole page.
  window.__observer = new MutationObserver(check);
  window.__observer.observe(document.body, {subtree: true, childList: true,
                                            characterData: true});
  window.__click = stamp();
  document.querySelector('#compare-btn').click();
}"""


def schedule(panes: int, tokens: int) -> list[tuple[str, float, float]]:
    """(target, first token s, interval s) per pane: different, known rates."""
    ollama = iter(OLLAMA_LISTED)  # the planner refuses an Ollama model the server lacks
    plan = []
    for i in range(panes):
        provider = PROVIDERS[i % len(PROVIDERS)]
        model = next(ollama) if provider == "ollama" else f"bench-{i}"
        plan.append((f"{provider}:{model}", 0.1 + 0.05 * i, 0.02 + 0.005 * i))
    return plan


def behaviours(plan: list[tuple[str, float, float]], tokens: int) -> dict:
    return {"models": {target.split(":", 1)[1]: {
        "pieces": [f"t{i}x{k:04d} " for k in range(tokens)], "first_s": first,
        "interval_s": interval} for i, (target, first, interval) in enumerate(plan)}}


def browser_offset(page) -> float:
    """browser epoch seconds - perf_counter seconds, from the tightest of 30 round trips."""
    best = (float("inf"), 0.0)
    for _ in range(30):
        before = time.perf_counter()
        browser_ms = page.evaluate("performance.timeOrigin + performance.now()")
        after = time.perf_counter()
        best = min(best, (after - before, browser_ms / 1000 - (before + after) / 2))
    return best[1]


def one_round(page, url: str, plan, tokens: int, log_url: str) -> tuple:
    """Token delays (ms), wall/slowest, and (click -> first request at the fake, last
    token written -> all panes done) in ms, for one comparison."""
    query = "?targets=" + ",".join(t for t, _, _ in plan) + "&prompt=benchmark"
    page.goto(url + query, wait_until="domcontentloaded")
    page.wait_for_function("(document.querySelector('#share-link textarea') || {}).value"
                           "?.includes('bench-')")
    offset = browser_offset(page)
    page.evaluate(POLL_JS, [len(plan), tokens])
    page.wait_for_function("window.__done !== null", timeout=120_000)
    page.evaluate("window.__observer.disconnect()")
    seen, clicked, done = page.evaluate("[window.__seen, window.__click, window.__done]")
    log = requests.get(log_url, timeout=10).json()
    delays, slowest, first_request, last_token = [], 0.0, float("inf"), 0.0
    for i, (target, _, _) in enumerate(plan):
        provider, model = target.split(":", 1)
        entry = [e for e in log if e["model"] == model][-1]
        sent = entry["sent_at"][LEAD_EVENTS[provider]:LEAD_EVENTS[provider] + tokens]
        assert len(seen[i]) == tokens, f"pane {i}: saw {len(seen[i])} of {tokens} tokens"
        delays += [(shown / 1000 - offset - wrote) * 1000 for shown, wrote in zip(seen[i], sent)]
        slowest = max(slowest, sent[-1] - entry["received_at"])
        first_request = min(first_request, entry["received_at"])
        last_token = max(last_token, sent[-1])
    overheads = ((first_request - (clicked / 1000 - offset)) * 1000,
                 ((done / 1000 - offset) - last_token) * 1000)
    return delays, (done - clicked) / 1000 / slowest, overheads



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from playwright.sync_api import sync_playwright

    from playground.ui.layout import build_demo
    from providers.settings import Settings

    plan = schedule(args.panes, args.tokens)
    with fake_server_process(behaviours(plan, args.tokens)) as env:
        demo = build_demo(Settings.load(dotenv_path=None, environ=env))
        _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium"), headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                page = browser.new_page(viewport={"width": 1500, "height": 1250})
                rounds = [one_round(page, url, plan, args.tokens, fake_url(env) + "/_fake/requests")
                          for _ in range(args.rounds + 1)][1:]  # the first is a warm-up
                browser.close()
        finally:
            demo.close()
    report(args, plan, rounds)


def report(args: argparse.Namespace, plan, rounds: list[tuple]) -> None:
    delays = [d for round_delays, _, _ in rounds for d in round_delays]
    ratios = [ratio for _, ratio, _ in rounds]
    starts, ends = [o[0] for _, _, o in rounds], [o[1] for _, _, o in rounds]
    rates = ", ".join(f"{1 / interval:.0f}" for _, _, interval in plan)
    print(f"web UI latency: {args.panes} panes x {args.tokens} tokens x {args.rounds} rounds "
          f"(after 1 warm-up); fakes in their own process; tokens/s per pane: {rates}")
    print(f"  token written by the fake -> text in the DOM: p50 {percentile(delays, 0.5):.0f} ms, "
          f"p95 {percentile(delays, 0.95):.0f} ms, min {min(delays):.0f} ms, max {max(delays):.0f} ms"
          "   (goal p95 <= 150 ms)")
    print(f"  wall (click -> all panes done) / slowest stream: median "
          f"{statistics.median(ratios):.3f}, max {max(ratios):.3f}   (goal <= 1.05)")
    print(f"    of which click -> first request at the fake: median {statistics.median(starts):.0f} ms;"
          f" last token written -> all panes done: median {statistics.median(ends):.0f} ms")

if __name__ == "__main__":
    main()
