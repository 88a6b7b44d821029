"""First contact in a real browser, with no key anywhere: the page says what can run, the
keyless path works end to end (two models downloaded from the loopback fake Hub, the
tiny ONNX fixture standing in for both, then compared), and every refused action leaves
a message and every input usable (no Gradio "Error" overlay over a dropdown or a table).

"Usable" is Playwright's own click check without clicking (``click(trial=True)``): it
fails when another element, such as a leftover status tracker, would take the click
("status-tracker intercepts pointer events").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import pytest

from playground.local_models import known_model
from tests.browser.conftest import served
from tests.conftest import REPO
from tests.fake_hub import FakeHub
from tests.ui_support import free_port

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

TINY = Path(REPO) / "tests" / "fixtures" / "models" / "tiny-phi3"
# The tiny fixture's greedy answer to the lesson's Chinese question (it stands in for both).
TINY_ZH_ANSWER = "长沙是湖南的省会。"
PAIR = ("phi-3-mini-4k", "phi-3.5-mini")
COMPARE_INPUTS = ["#preset input", "#targets input", "#prompt textarea", "#system textarea",
                  "#compare-btn", "#metrics table"]


def hub_repos() -> dict[str, dict[str, bytes]]:
    """Both models of the pair on the fake Hub, each the tiny fixture in its sub-folder."""
    repos = {}
    for name in PAIR:
        model = known_model(name)
        repos[model.repo_id] = {f"{model.subfolder}/{p.name}": p.read_bytes()
                                for p in TINY.iterdir()}
    return repos


@pytest.fixture(scope="module")
def keyless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app with no key at all, Ollama's address closed, and an empty models folder."""
    models_dir = tmp_path_factory.mktemp("keyless-models")
    with pytest.MonkeyPatch.context() as patch, FakeHub(hub_repos()) as hub:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # loopback hub
        env = {"ONNX_MODELS_DIR": str(models_dir), "HF_ENDPOINT": hub.url,
               "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
        with served(env) as url:
            yield url, models_dir


# Points on a 3 x 3 grid over a component where something else would take a click (a
# toast, top right and gone after 10 s, is not counted; a status tracker always is), and
# any "Error" status tracker left showing in it (the small badge of show_progress=
# "minimal" misses the grid).
COVERED_JS = """(el) => {
  const r = el.getBoundingClientRect(), found = [];
  for (const fx of [0.1, 0.5, 0.9]) for (const fy of [0.1, 0.5, 0.9]) {
    const x = r.left + r.width * fx, y = r.top + r.height * fy;
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    const hit = document.elementFromPoint(x, y);
    if (hit && hit.closest('.toast-wrap, .toast-body')) continue;
    if (!hit || !el.contains(hit) || hit.closest('[data-testid=status-tracker]'))
      found.push(hit ? hit.outerHTML.slice(0, 120) : 'nothing');
  }
  for (const tracker of el.querySelectorAll('[data-testid=status-tracker]')) {
    const box = tracker.getBoundingClientRect(), style = getComputedStyle(tracker);
    const shown = box.width > 0 && box.height > 0 && style.opacity !== '0'
      && style.visibility !== 'hidden' && style.display !== 'none';
    if (shown && /Error/.test(tracker.innerText))
      found.push('an "Error" status tracker');
  }
  return found;
}"""


def assert_usable(page, selectors: list[str]) -> None:
    """Each element would receive a click at its centre (Playwright's check), and no
    point of it is covered by a status tracker or another element."""
    for selector in selectors:
        element = page.locator(selector).first
        element.scroll_into_view_if_needed()
        element.click(trial=True, timeout=5_000)
        component = page.locator(selector.split()[0]).first  # the whole Gradio component
        covered = component.evaluate(COVERED_JS)
        assert not covered, f"{selector} is covered by {covered}"


def options(page, dropdown: str) -> list[str]:
    page.locator(f"#{dropdown} input").click()
    texts = page.locator(f"#{dropdown} [role=option]").all_inner_texts()
    page.keyboard.press("Escape")
    return [t.strip() for t in texts]


def open_page(page, url: str) -> None:
    page.goto(url + "/", wait_until="domcontentloaded")
    page.locator("#compare-btn").wait_for(state="visible")
    page.locator("#keyless-models").get_by_text("onnx:phi-3.5-mini").wait_for()
    # The page's load event has filled the form (it always writes the share link).
    page.wait_for_function("document.querySelector('#share-link textarea').value"
                           ".startsWith('http')")


def test_keyless_path_download_both_then_compare(page, keyless) -> None:
    url, models_dir = keyless
    open_page(page, url)
    notice = page.locator("#keyless")
    assert "No API key is set" in notice.inner_text()
    assert page.get_by_text("No API key is set").count() == 1  # said once
    assert "not downloaded (2.72 GB)" in page.locator("#keyless-models").inner_text()
    assert "server not running" in page.locator("#keyless-servers").inner_text()
    presets = options(page, "preset")
    assert presets and all("✗" in p for p in presets)  # nothing can run yet
    onnx = next(p for p in presets if "ONNX" in p and "Chinese" in p)
    assert "not downloaded" in onnx
    assert any("needs NVIDIA_API_KEY" in p for p in presets)
    assert page.locator("#preset input").input_value() == ""  # no runnable one to open on

    page.locator("#keyless-use").click()  # too early: says what to do, blocks nothing
    page.locator("#keyless-status").get_by_text("Download the two models first").wait_for()
    page.locator("#keyless-download").click()
    page.locator("#keyless-status").get_by_text("Both models are on this computer").wait_for(
        timeout=120_000)
    for name in PAIR:
        assert (models_dir / name / "genai_config.json").is_file()
    page.locator("#keyless-models").get_by_text("onnx:phi-3-mini-4k ✓ downloaded").wait_for()
    assert_usable(page, [*COMPARE_INPUTS, "#keyless-download", "#keyless-use"])

    page.locator("#keyless-use").click()
    page.wait_for_function("document.querySelector('#share-link textarea').value"
                           ".includes('onnx:phi-3.5-mini')")
    page.locator("#target-readiness").get_by_text("All 2 targets can run now").wait_for()
    page.locator("#compare-btn").click()
    page.locator("#dl-csv").wait_for(state="visible", timeout=60_000)
    for i in range(2):
        assert "done in" in page.locator(f"#status-{i}").inner_text()
        assert page.locator(f"#answer-{i}").inner_text().strip() == TINY_ZH_ANSWER
    assert_usable(page, COMPARE_INPUTS)

    ready = [p for p in options(page, "preset") if "✓ ready" in p]
    assert ready and "ONNX" in ready[0]  # runnable presets come first
    open_page(page, url)  # a new visit opens on the preset that can run
    page.wait_for_function("document.querySelector('#preset input').value.includes('ONNX')")
    page.wait_for_function("document.querySelector('#share-link textarea').value"
                           ".includes('targets=onnx:phi-3-mini-4k,onnx:phi-3.5-mini&prompt=')")
    chips = page.locator("#targets").inner_text()
    assert "onnx:phi-3-mini-4k · ✓ ready" in chips and "onnx:phi-3.5-mini · ✓ ready" in chips


def test_refused_actions_leave_every_input_usable(page, keyless) -> None:
    url, _ = keyless
    open_page(page, url)
    # Compare with a target that is not configured: one message, nothing covered.
    page.locator("#targets input").fill("nim:microsoft/phi-3.5-mini-instruct")
    page.keyboard.press("Enter")
    page.locator("#targets input").fill("nim:microsoft/phi-3-mini-4k-instruct")
    page.keyboard.press("Enter")
    page.locator("#target-readiness").get_by_text("needs NVIDIA_API_KEY").first.wait_for()
    page.locator("#prompt textarea").fill("Hello?")
    page.locator("#compare-btn").click()
    toast = page.locator(".toast-body").filter(has_text="cannot run yet").first
    toast.wait_for()
    text = toast.inner_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), text  # no line twice
    assert "needs NVIDIA_API_KEY" in text and "Settings tab" in text
    assert "Traceback" not in text
    assert page.locator("#status-0").is_hidden()  # nothing was sent: no pane opened
    assert_usable(page, COMPARE_INPUTS)

    page.get_by_role("tab", name="Local models").click()
    page.locator("#local-download").click()  # no model chosen
    page.locator("#local-status").get_by_text("Pick a model to download first").wait_for()
    assert_usable(page, ["#local-choice input", "#local-models table", "#local-download",
                         "#local-refresh"])
    page.locator("#local-choice input").click()  # not on the fake Hub: the download fails
    page.locator("#local-choice [role=option]", has_text="phi-3-vision-128k").first.click()
    page.locator("#local-download").click()
    page.locator("#local-status").get_by_text("was not downloaded").wait_for(timeout=60_000)
    assert_usable(page, ["#local-choice input", "#local-models table", "#local-download"])

    page.get_by_role("tab", name="Scenarios").click()
    page.locator("#scenario-run").click()  # no pack chosen
    page.locator("#scenario-progress").get_by_text("Pick a scenario pack first").wait_for()
    assert_usable(page, ["#scenario-pack input", "#scenario-repeats input",
                         "#scenario-table table", "#scenario-run", "#scenario-stop"])
    page.locator("#scenario-pack input").click()  # a pack whose routes cannot run here
    page.locator("#scenario-pack [role=option]", has_text="Vision: recreate").first.click()
    page.locator("#scenario-about").get_by_text("no route can run").first.wait_for()
    page.locator("#scenario-run").click()
    page.locator("#scenario-progress").get_by_text("No group of this pack can run").wait_for()
    assert "needs NVIDIA_API_KEY" in page.locator("#scenario-progress").inner_text()
    assert_usable(page, ["#scenario-pack input", "#scenario-repeats input",
                         "#scenario-table table", "#scenario-run"])

    page.get_by_role("tab", name="Settings").click()
    page.locator("#keys-save").click()  # nothing typed: saves nothing, traps nothing
    assert_usable(page, ["#key-NVIDIA_API_KEY input", "#keys-save", "#keys-clear"])
    page.get_by_role("tab", name="Compare").click()
    assert_usable(page, COMPARE_INPUTS)


def test_a_server_preload_shows_its_progress_then_the_models_can_run(page, tmp_path) -> None:
    with pytest.MonkeyPatch.context() as patch, FakeHub(hub_repos()) as hub:
        patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        patch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # loopback hub
        hub.gate.clear()  # the Hub holds every answer: the preload stays in flight
        env = {"ONNX_MODELS_DIR": str(tmp_path), "HF_ENDPOINT": hub.url,
               "OLLAMA_HOST": f"http://127.0.0.1:{free_port()}",
               "PLAYGROUND_PRELOAD_MODELS": ",".join(PAIR)}
        try:
            with served(env) as url:
                page.goto(url + "/", wait_until="domcontentloaded")  # the page serves
                status = page.locator("#preload-status")
                status.get_by_text("is downloading models for everyone").wait_for()
                assert "onnx:phi-3.5-mini waiting for its turn" in status.inner_text()
                assert_usable(page, COMPARE_INPUTS)
                hub.gate.set()
                status.get_by_text("This server's models are ready").wait_for(timeout=60_000)
                assert status.inner_text().count("✓ downloaded") == 2
                # The tick that saw the end re-labelled the lists: the pair can run now.
                page.locator("#keyless-models").get_by_text(
                    "onnx:phi-3.5-mini ✓ downloaded").wait_for()
                ready = [p for p in options(page, "preset") if "✓ ready" in p]
                assert ready and "ONNX" in ready[0]
        finally:
            hub.gate.set()
