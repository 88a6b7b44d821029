"""What the page shows, measured in the browser: the answers on the first screen at
1280x800, panes sharing the row and lining up, one colour per target across pane, table
row and chart bars, every table column visible at 1400 px, and Chinese drawn with real
glyphs (not the boxes a missing font gives)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from playground.ui.render import TABLE_COLUMNS
from playground.ui.style import colour
from tests.browser.conftest import ARTIFACTS, App
from tests.browser.test_playground_browser import NIM, OLLAMA, compare, open_app

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

CHINESE_PRESET = "Phi-3-mini vs Phi-3.5-mini (Chinese) · NVIDIA NIM"

# Draws each character on a canvas in the element's own font (family and weight, at
# 40 px) and returns the pixels as strings. U+0378 and U+0379 are unassigned code points
# that no font has: they draw the "missing glyph" box, the tofu a CJK character also
# gets when no installed font covers it.
GLYPHS_JS = """([selector, text]) => {
  const style = getComputedStyle(document.querySelector(selector));
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = `${style.fontWeight} 40px ${style.fontFamily}`;
    ctx.fillStyle = '#000';
    ctx.textBaseline = 'top';
    ctx.fillText(ch, 4, 4);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  };
  return {missing: [draw('\\u0378'), draw('\\u0379')], glyphs: Array.from(text, draw)};
}"""


@pytest.fixture
def small_page(browser):
    """A 1280x800 window, the size of a classroom projector's laptop."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def box(page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def test_answers_on_the_first_screen_sharing_the_row(small_page, app: App) -> None:
    page = small_page
    open_app(page, app, [NIM, OLLAMA], "Say hello.")
    compare(page)
    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "first-screen-1280x800.png"))
    panes, first, second = box(page, "#panes"), box(page, "#slot-0"), box(page, "#slot-1")
    for i in (0, 1):  # status line and at least 150 px of the answer without scrolling
        assert box(page, f"#status-{i}")["y"] >= 0
        assert box(page, f"#answer-{i}")["y"] + 150 <= 800
    for slot in (first, second):  # two panes: half the row each
        assert 0.45 * panes["width"] <= slot["width"] <= 0.55 * panes["width"]
    assert abs(first["y"] - second["y"]) < 1
    # A status line two lines longer than its neighbour's: the answers still line up.
    page.evaluate("document.querySelector('#status-0 p').innerHTML += "
                  "'<br>note: one more line<br>and another'")
    lines = [box(page, f"#status-{i} p")["height"] for i in (0, 1)]
    assert lines[0] > lines[1] + 20
    assert abs(box(page, "#answer-0")["y"] - box(page, "#answer-1")["y"]) < 1


def test_each_target_keeps_its_colour(page, app: App) -> None:
    open_app(page, app, [NIM, OLLAMA], "Say hello.")
    compare(page)
    page.locator("#chart-ttft_ms svg .mark-rect path").first.wait_for()
    for i, label in enumerate(("nim:phi-3.5-mini", "ollama:phi3.5")):
        want = rgb(colour(i))
        pane = page.locator(f"#answer-{i}").evaluate("e => getComputedStyle(e).borderTopColor")
        status = page.locator(f"#status-{i}").evaluate(
            "e => getComputedStyle(e).borderLeftColor")
        cell = page.locator("#metrics .virtual-row").nth(i).locator("[role=gridcell]").first
        assert cell.inner_text().strip() == (NIM, OLLAMA)[i]
        shadow = cell.evaluate("e => getComputedStyle(e.closest('td') || e).boxShadow")
        assert pane == status == want and want in shadow
        for metric in ("ttft_ms", "total_ms", "decode_tokens_per_s"):
            bar = page.locator(f"#chart-{metric} svg .mark-rect path[aria-label*='{label};']")
            assert bar.count() == 1, f"{metric}: no bar labelled {label}"
            assert rgb(bar.get_attribute("fill")) == want
        axis = [t.text_content() for t in
                page.locator("#chart-ttft_ms svg .role-axis-label text").all()]
        assert label in axis  # short, whole labels: no "…"


def test_every_table_column_is_visible_at_1400_px(browser, app: App) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        open_app(page, app, [NIM, OLLAMA], "Say hello.")
        compare(page)
        table, last = box(page, "#metrics"), box(page, "#metrics thead th >> nth=-1")
        assert page.locator("#metrics thead th").last.inner_text().strip() == TABLE_COLUMNS[-1]
        assert last["x"] + last["width"] <= table["x"] + table["width"] + 1
    finally:
        context.close()


def test_chinese_shows_as_chinese(page, app: App) -> None:
    open_app(page, app)
    page.locator("#preset input").click()
    page.locator("#preset [role=option]", has_text=CHINESE_PRESET).first.click()
    page.wait_for_function("document.querySelector('#prompt textarea').value"
                           ".includes('长沙')")
    compare(page)
    assert "长沙" in page.locator("#answer-0").inner_text()  # the fake echoes the prompt
    for selector in ("#prompt textarea", "#answer-0 .prose", "#preset input"):
        drawn = page.evaluate(GLYPHS_JS, [selector, "你知道长沙吗"])
        tofu = drawn["missing"][0]
        # The detector works: two different missing characters draw the same box.
        assert drawn["missing"][1] == tofu and set(tofu.split(",")) != {"0"}
        assert tofu not in drawn["glyphs"], f"{selector}: a box instead of a character"
        assert len(set(drawn["glyphs"])) == 6, f"{selector}: characters drawn alike"


def test_empty_numbers_stay_empty_and_preset_names_fit(small_page, app: App) -> None:
    page = small_page
    open_app(page, app)
    page.get_by_text("Parameters").click()
    # Empty: the service's default. The page-load step empties them (Gradio would show
    # 0), so wait for it rather than read the first paint.
    for label in ("Temperature", "top_p", "Seed"):
        expect(page.get_by_label(label)).to_have_value("")
    page.locator("#preset input").click()
    names = [o.get_attribute("aria-label") for o in page.locator("#preset [role=option]").all()]
    assert any(name.startswith(CHINESE_PRESET) for name in names), names
    page.keyboard.press("Escape")
    box_input = page.locator("#preset input")
    for name in names:  # each whole name fits the box at 1280 px (measured in the box)
        fits = box_input.evaluate("(e, name) => { const old = e.value; e.value = name;"
                                  " const fits = e.scrollWidth <= e.clientWidth;"
                                  " e.value = old; return fits; }", name)
        assert fits, f"{name!r} does not fit the preset box"
    page.get_by_role("tab", name="Scenarios").click()
    expect(page.locator("#scenario-repeats input")).to_have_value("")
