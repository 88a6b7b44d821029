"""The self-contained HTML export of a saved comparison: escaped, script-free, offline."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from playground import comparison_doc as doc
from playground.conversation import Conversation
from playground.html_export import CSP, answer_html, render_html
from playground.metrics import TargetResult
from playground.svg_charts import Bar, bar_chart
from providers.base import ChatRequest
from tests.support import png

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ALLOWED_TAGS = {"img", "span", "html", "head", "meta", "title", "style", "body", "div", "h1", "h2", "h3",
                "h4", "p", "table", "thead", "tbody", "tr", "th", "td", "svg", "text", "g",
                "rect", "section", "ul", "li", "strong", "em", "code", "pre", "ol",
                "blockquote", "s", "hr", "br"}


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def turn(number: int, user: str, text: str, ttft: float | None, **extra: Any) -> dict[str, Any]:
    """One turn as ``Conversation.to_document`` writes it."""
    return {"turn": number, "user": {"text": user, "images": extra.pop("images", [])},
            "params": extra.pop("params", None), "answer": text, "in_history": bool(text),
            "result": {"status": "ok", "turn": number, "ttft_ms": ttft, "total_ms": 900.0,
                       "prompt_tokens": 10 * number, "completion_tokens": 5,
                       "tokens_source": "reported", "decode_tokens_per_s": 40.0,
                       "notices": [], **extra}}


SHARED = {"system": "Answer briefly.", "temperature": 0.2, "max_tokens": 256}
PIRATE = {"system": "You are a pirate.", "temperature": 1.1}
PNG = base64.b64encode(png()).decode()


def conversation() -> dict[str, Any]:
    """Two panes, three turns; pane 2 unsynced with its own system prompt."""
    return {
        "format": doc.FORMAT, "version": doc.VERSION, "saved_at": "2026-11-30T04:00:00+00:00",
        "shared": SHARED,
        "panes": [
            {"target": "ollama:phi3.5", "synced": True, "overrides": {},
             "turns": [turn(1, "长沙在哪里？", "长沙是**湖南**的省会。", 120.0, params=SHARED),
                       turn(2, "and its food?", "Spicy: 臭豆腐.", 150.0, params=SHARED,
                            images=[{"name": "dish.png", "mime": "image/png", "data": PNG}]),
                       turn(3, "thanks", "You're welcome.", 190.0, params=SHARED)]},
            {"target": "nim:microsoft/phi-3-mini-4k-instruct", "synced": False,
             "overrides": PIRATE,
             "turns": [turn(1, "长沙在哪里？", "Arr, Hunan.", 300.0, params=PIRATE),
                       turn(2, "and its food?", "", None, status="error", params=PIRATE,
                            error="HTTP 429: slow down", error_kind="rate_limit"),
                       turn(3, "thanks", "Aye.", 310.0, params=PIRATE)]},
        ],
    }


def test_model_and_user_text_is_escaped_never_markup() -> None:
    document = conversation()
    document["title"] = EVIL
    document["panes"][0]["target"] = '"><script>alert(2)</script>'
    document["panes"][0]["turns"][0]["user"]["text"] = EVIL
    document["panes"][0]["turns"][0]["answer"] = EVIL + "\n\n<iframe src=//x></iframe>"
    document["panes"][0]["turns"][0]["result"]["notices"] = [EVIL]
    document["panes"][1]["turns"][1]["result"]["error"] = EVIL
    document["panes"][0]["turns"][1]["user"]["images"] = [
        {"name": '" onload="alert(3)', "mime": "image/png", "data": PNG},
        {"name": "x", "mime": 'image/png"><script>', "data": PNG},
        {"name": "y", "mime": "image/png", "data": 'AAAA" onerror="alert(4)'},
        {"name": "z", "mime": "image/svg+xml", "data": PNG}]
    page = render_html(document)
    tags = tags_of(page)
    assert {t for t, _ in tags} <= ALLOWED_TAGS
    assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]
    assert "<script" not in page.lower() and "<iframe" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # shown as text
    sources = [attrs["src"] for tag, attrs in tags if tag == "img"]
    assert sources == [f"data:image/png;base64,{PNG}"]  # only the well-formed image


def test_markdown_is_rendered_but_links_and_images_stay_text() -> None:
    html = answer_html("**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                       "[click](javascript:alert(1)) ![pixel](https://tracker.example/p.png) "
                       "<https://example.com>\n\n```python\nprint('<b>')\n```")
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "print(&#x27;&lt;b&gt;&#x27;)" in html or "print('&lt;b&gt;')" in html
    assert "<a " not in html and "<img" not in html and "href" not in html
    assert "[click](javascript:alert(1))" in html  # the words stay, inert


def test_the_page_is_self_contained_with_no_url_to_fetch() -> None:
    document = conversation()
    document["panes"][0]["turns"][0]["answer"] = (
        "See ![x](https://evil.example/t.png) and [docs](http://evil.example/).")
    page = render_html(document)
    for tag, attrs in tags_of(page):
        assert tag not in ("script", "link", "iframe", "object", "embed", "base")
        for name, value in attrs.items():
            if name == "src":  # base64 may hold "//"
                assert (value or "").startswith("data:image/png;base64,")
            else:
                assert not re.search(r"(?i)(https?:|//|javascript:)", value or ""), (tag, name)
    assert not re.search(r"(?i)url\(|@import", page)  # the style loads nothing either
    assert f'content="{CSP}"' in page and "default-src 'none'" in CSP


def test_cjk_text_is_kept_as_utf8_with_a_cjk_font_list() -> None:
    page = render_html(conversation())
    assert '<meta charset="utf-8">' in page
    assert "长沙是<strong>湖南</strong>的省会。" in page
    assert "Noto Sans CJK SC" in page and "Microsoft YaHei" in page
    page.encode("utf-8")  # no lone surrogate: the file can be written as UTF-8


def test_table_has_one_row_per_target_per_turn_and_overrides_show_on_their_pane() -> None:
    page = render_html(conversation())
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td><td>(\w+)</td>", page)
    assert rows == [("ollama:phi3.5", "1", "ok"), ("ollama:phi3.5", "2", "ok"),
                    ("ollama:phi3.5", "3", "ok"),
                    ("nim:microsoft/phi-3-mini-4k-instruct", "1", "ok"),
                    ("nim:microsoft/phi-3-mini-4k-instruct", "2", "error"),
                    ("nim:microsoft/phi-3-mini-4k-instruct", "3", "ok")]
    pirate, plain = page.split("nim:microsoft/phi-3-mini-4k-instruct</h3>")[1], \
        page.split("ollama:phi3.5</h3>")[1].split("</section>")[0]
    assert "System: You are a pirate." in pirate and "temperature=1.1" in pirate
    assert "System: Answer briefly." in plain and "temperature=0.2" in plain
    assert "HTTP 429: slow down" in page and 'alt="dish.png"' in page
    assert page.count("Unsynced") == 1


def test_charts_have_a_bar_per_measured_turn_and_skip_missing_values() -> None:
    page = render_html(conversation())
    svgs = re.findall(r"<svg.*?</svg>", page)
    assert len(svgs) == 3
    ttft = svgs[0]
    assert "Time to first token" in ttft
    assert ttft.count("<rect") == 5  # the failed turn has no TTFT: no bar, not a zero
    assert "phi3.5 · turn 3" in ttft and "310 ms" in ttft


def test_bar_chart_scales_to_the_largest_value_and_refuses_markup_colours() -> None:
    svg = bar_chart("t", "ms", [Bar("a", 50.0, "#0072B2"), Bar("b", 100.0, '"/><x'),
                                Bar("nan", float("nan"), "#000000")])
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[1] == pytest.approx(2 * widths[0])
    assert 'fill="#888888"' in svg and "<x" not in svg and ">nan<" not in svg
    assert bar_chart("t", "ms", [Bar("a", float("inf"), "#000000")]) == ""


def test_single_turn_record_round_trips_into_the_export() -> None:
    request = ChatRequest(model="", prompt="Hi <b>", system="sys", temperature=0.5)
    results = [TargetResult("ollama:phi3", "ollama", "phi3", status="ok", text="Hello",
                            ttft_ms=12.345, total_ms=99.0, notices=["warm"])]
    document = doc.from_record(request, results)
    Conversation.from_document(document)  # the Compare tab can continue from it
    (pane,) = doc.panes(document)
    (only,) = pane.turns
    assert (only.user, only.answer, only.number, only.notices) == ("Hi <b>", "Hello", 1, ["warm"])
    assert only.parameters == {"system": "sys", "temperature": 0.5}
    assert only.metrics["ttft_ms"] == 12.345
    assert "Hi &lt;b&gt;" in render_html(document)
    saved = doc.for_saving(document, [], saved_at="2026-11-30T05:00:00+00:00")
    assert saved["title"] == "Hi <b>" and "Saved 2026-11-30T05:00:00+00:00" in render_html(saved)


def test_scrubbed_removes_secrets_from_every_string_and_key() -> None:
    secret = "sk-test-0123456789abcdef"
    document = {"panes": [{"target": "x", secret: 1, "turns": [
        {"user": f"my key is {secret}", "result": {"text": f"echo {secret}!",
                                                   "notices": [secret]}}]}]}
    clean = doc.scrubbed(document, [secret])
    assert secret not in repr(clean)
    assert clean["panes"][0]["turns"][0]["result"]["text"] == "echo ***!"


@pytest.mark.parametrize("damaged", [None, [], "text", {"panes": "x"},
                                     {"panes": [None, {"turns": [None, 3]}]},
                                     {"panes": [{"target": 5, "turns": [{"result": []}]}]}])
def test_a_damaged_document_renders_what_it_can(damaged: Any) -> None:
    page = render_html(damaged)
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
