"""End to end in a real browser: pick targets, Compare, read the live table, Stop a slow
stream, download the CSV, per-session keys, images and a local model download."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import ARTIFACTS, SCHEDULE, App, pieces

pytestmark = [pytest.mark.browser,
              # Gradio 6.31 uses pandas options that pandas 3 deprecates (harmless).
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

NIM = "nim:microsoft/phi-3.5-mini-instruct"
OLLAMA = "ollama:phi3.5"
AZURE = "azure:Phi-3.5-mini-instruct"
TINY_ANSWER = "Hello! I am a tiny test model."  # the tiny ONNX fixture's greedy answer


def open_app(page, app: App, targets: list[str] = (), prompt: str = "") -> None:
    query = f"?targets={','.join(targets)}&prompt={quote(prompt)}" if targets else ""
    page.goto(app.url + "/" + query, wait_until="domcontentloaded")
    page.locator("#compare-btn").wait_for(state="visible")
    if targets:  # the share link fills the form on load
        page.locator("#share-link textarea").wait_for()
        page.wait_for_function("document.querySelector('#share-link textarea').value"
                               ".includes('targets=')")


def choose(page, dropdown: str, option: str) -> None:
    page.locator(f"#{dropdown} input").click()
    page.locator(f"#{dropdown} [role=option]", has_text=option).first.click()


def attach(page, path: Path) -> None:
    """Attach an image the way a user does (the "Attach images" button, then the file
    chooser) and wait until its thumbnail is shown, i.e. it is uploaded and is part of
    Compare's input."""
    with page.expect_file_chooser() as chooser:
        page.locator("#attach-images").click()
    chooser.value.set_files(str(path))
    thumbnail = page.locator(f"#images img[alt='{path.name}'], #images img[src*='{path.stem}']")
    try:
        thumbnail.first.wait_for()
    except PlaywrightTimeout:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "attach-failed.png"), full_page=True)
        pytest.fail(f"{path.name} not shown as attached: #images-row shows "
                    f"{page.locator('#images-row').inner_html()[:2000]!r}, toasts "
                    f"{page.locator('.toast-body').all_inner_texts()!r}")


def table(page) -> dict[str, dict[str, str]]:
    """The metrics table as the browser shows it (Gradio's virtual grid)."""
    header = page.locator("#metrics thead th").all_inner_texts()
    header = [h.strip() for h in header if h.strip()]
    rows = {}
    for row in page.locator("#metrics .virtual-row").all():
        cells = [c.strip() for c in row.locator("[role=gridcell]").all_inner_texts()]
        rows[cells[0]] = dict(zip(header, cells))
    return rows


def compare(page) -> None:
    page.locator("#compare-btn").click()
    page.locator("#dl-csv").wait_for(state="visible")  # the .success step: every pane ended


def test_compare_four_targets_and_check_the_numbers(page, app: App) -> None:
    open_app(page, app, [NIM, OLLAMA], "Say hello.")
    page.get_by_text("Add a target from a provider's models").click()
    choose(page, "provider", "(azure)")
    page.locator("#model input").fill("Phi-3.5-mini-instruct")
    page.locator("#add-target").click()
    choose(page, "provider", "(onnx)")
    choose(page, "model", "tiny-phi3 ")
    page.locator("#add-target").click()
    page.wait_for_function("document.querySelector('#share-link textarea').value"
                           ".includes('onnx:tiny-phi3')")
    link = page.locator("#share-link textarea").input_value()
    assert link == (f"{app.url}/?targets={NIM},{OLLAMA},{AZURE},onnx:tiny-phi3"
                    "&prompt=Say%20hello.")
    compare(page)
    for i in range(4):
        assert "done in" in page.locator(f"#status-{i}").inner_text()
    rows = table(page)
    assert list(rows) == [NIM, OLLAMA, AZURE, "onnx:tiny-phi3"]
    for target, model in ((NIM, "microsoft/phi-3.5-mini-instruct"), (OLLAMA, "phi3.5"),
                          (AZURE, "Phi-3.5-mini-instruct")):
        row, (count, first_s, interval_s) = rows[target], SCHEDULE[model]
        assert row["status"] == "ok" and row["tokens_source"] == "reported"
        assert int(row["completion_tokens"]) == count
        # The fake sends its first token first_s after it receives the request. No upper
        # bound in ms: CPU load stretches every delay (a +400 ms bound failed with three
        # busy loops on two cores); below the total means it was taken at the first token.
        assert first_s * 1000 <= float(row["ttft_ms"]) < float(row["total_ms"])
        streamed_s = first_s + (count - 1) * interval_s
        assert streamed_s * 1000 <= float(row["total_ms"]) <= streamed_s * 1000 + 600
    onnx = rows["onnx:tiny-phi3"]
    assert onnx["status"] == "ok" and onnx["tokens_source"] == "counted"
    assert page.locator("#answer-3").inner_text().strip() == TINY_ANSWER
    assert page.locator("#answer-1").inner_text().strip() == "".join(pieces("phi3.5")).strip()
    page.wait_for_timeout(800)  # let the Vega charts finish drawing
    assert page.locator("#chart-ttft_ms canvas, #chart-ttft_ms svg").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)


def test_stop_a_slow_stream_then_download_the_csv(page, app: App, tmp_path) -> None:
    open_app(page, app, [NIM, "ollama:slow-phi"], "Count slowly.")
    page.locator("#compare-btn").click()
    page.locator("#status-1").get_by_text("first token at").wait_for()
    page.locator("#status-0").get_by_text("done in").wait_for()
    page.wait_for_timeout(700)
    page.locator("#stop-btn").click()
    page.locator("#status-1").get_by_text("stopped").wait_for(timeout=3_000)
    page.locator("#dl-csv").wait_for(state="visible")
    shown = page.locator("#answer-1").inner_text()
    page.wait_for_timeout(500)
    assert page.locator("#answer-1").inner_text() == shown  # nothing arrives after Stop
    rows = table(page)
    assert rows[NIM]["status"] == "ok" and rows["ollama:slow-phi"]["status"] == "stopped"
    assert rows["ollama:slow-phi"]["partial"] == "yes"
    with page.expect_download() as download:
        page.locator("#dl-csv").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    exported = {r["target"]: r for r in csv.DictReader(io.StringIO(path.read_text("utf-8")))}
    assert exported["ollama:slow-phi"]["status"] == "stopped"
    assert exported["ollama:slow-phi"]["partial"] == "True"
    assert exported["ollama:slow-phi"]["text"].strip() == shown.strip()
    assert exported[NIM]["text"] == "".join(pieces("microsoft/phi-3.5-mini-instruct"))
    assert exported[NIM]["prompt"] == "Count slowly."
    # Ollama reports eval_count only in its last message, which a stopped stream never
    # gets, and its chunks are not documented as one per token: no count, no source.
    assert exported["ollama:slow-phi"]["completion_tokens"] == ""
    assert exported["ollama:slow-phi"]["tokens_source"] == ""


def test_bad_input_shows_a_message_and_sends_nothing(page, app: App) -> None:
    open_app(page, app)
    def posts() -> list:  # chat requests only: readiness probes are GETs
        return app.fake.chat_requests()

    # The page opens on a lesson preset that can run here: empty the form first.
    page.wait_for_function("document.querySelector('#prompt textarea').value !== ''")
    page.locator("#targets .remove-all").click()
    page.locator("#prompt textarea").fill("")
    before = len(posts())
    page.locator("#compare-btn").click()
    toast = page.locator(".toast-body").first
    toast.wait_for()
    assert "The prompt is empty" in toast.inner_text()
    assert "No target selected" in toast.inner_text()
    assert len(posts()) == before


def test_an_image_reaches_the_vision_model(page, app: App, tmp_path) -> None:
    from PIL import Image
    white = tmp_path / "white.png"
    Image.new("RGB", (32, 32), "white").save(white)
    open_app(page, app, ["onnx:tiny-phi3-vision"], "Describe the image.")
    attach(page, white)
    compare(page)
    assert page.locator("#answer-0").inner_text().strip() == "The image is bright."


def test_session_keys_apply_to_that_tab_only(page, app: App, browser) -> None:
    wrong_key = "nvapi-typed-in-this-tab-9999"
    open_app(page, app, [NIM], "Hello?")
    page.get_by_role("tab", name="Settings").click()
    page.locator("#key-NVIDIA_API_KEY input").fill(wrong_key)
    page.locator("#keys-save").click()
    page.locator("#keys-status").get_by_text("NVIDIA_API_KEY").wait_for()
    assert page.locator("#key-NVIDIA_API_KEY input").input_value() == ""
    assert wrong_key not in page.content()
    page.get_by_role("tab", name="Compare").click()
    compare(page)
    assert "error (auth)" in page.locator("#status-0").inner_text()  # this tab's key
    assert wrong_key not in page.content()
    other = browser.new_page()  # another session still uses the server's key
    try:
        open_app(other, app, [NIM], "Hello?")
        compare(other)
        assert "done in" in other.locator("#status-0").inner_text()
    finally:
        other.close()


def test_download_a_local_model_then_compare_with_it(page, app: App) -> None:
    open_app(page, app)
    page.get_by_role("tab", name="Local models").click()
    choose(page, "local-choice", "phi-3.5-mini")
    page.locator("#local-download").click()
    page.locator("#local-status").get_by_text("Downloaded").wait_for()
    assert (app.models_dir / "phi-3.5-mini" / "genai_config.json").is_file()
    present = page.locator("#local-models").get_by_text("phi-3.5-mini", exact=True)
    assert present.count() >= 1
    open_app(page, app, ["onnx:phi-3.5-mini"], "Say hello.")
    compare(page)
    assert page.locator("#answer-0").inner_text().strip() == TINY_ANSWER


def test_run_a_scenario_pack_and_download_its_report(page, app: App, tmp_path) -> None:
    open_app(page, app)
    page.get_by_role("tab", name="Scenarios").click()
    choose(page, "scenario-pack", "Chinese Q&A")
    page.locator("#scenario-about").get_by_text("Phi-3.5 mini").first.wait_for()
    page.locator("#scenario-repeats input").fill("1")
    page.locator("#scenario-run").click()
    page.locator("#scenario-report").wait_for(state="visible", timeout=60_000)
    assert page.locator("#scenario-progress").inner_text().startswith("Done: run")
    rows = page.locator("#scenario-table .virtual-row").all()
    checks = [r.locator("[role=gridcell]").all_inner_texts() for r in rows]
    # 2 groups x (changsha + changsha-food's 2 turns + learning-efficiency) + 2 warm-ups
    assert len(checks) == 10
    assert sum(cells[0] == "changsha-food/2" for cells in checks) == 2  # the follow-up, each group
    # The fakes answer in English: the Chinese-language check fails, and says so.
    assert any("✗ language zh" in " ".join(cells) for cells in checks)
    assert page.locator("#scenario-chart svg").count() == 2  # TTFT and total: median + p90
    with page.expect_download() as download:
        page.locator("#scenario-report").click()
    report = tmp_path / "report.md"
    download.value.save_as(report)
    assert "chinese-qa" in report.read_text() and "| Phi-3.5 mini" in report.read_text()
