"""What the page shows, as data: one colour per target in the table and charts, short
chart labels, hidden charts when no target has a number, and the attached images."""

from __future__ import annotations

import pytest

from playground.metrics import TargetResult
from playground.ui import attach, render, style
from playground.validate import MAX_IMAGES
from tests.ui_support import form, handlers, run_compare

NIM = "nim:microsoft/phi-3.5-mini-instruct"
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def test_short_labels_are_readable_and_unique() -> None:
    assert style.short_labels(["nim:microsoft/phi-3-mini-4k-instruct",
                               "azure:Phi-3.5-mini-instruct", "ollama:phi3.5",
                               "onnx:tiny-phi3"]) == [
        "nim:phi-3-mini-4k", "azure:Phi-3.5-mini", "ollama:phi3.5", "onnx:tiny-phi3"]
    # The same model through two organisations would clash: the slot number tells them apart.
    assert style.short_labels(["nim:a/phi-3-mini", "nim:b/phi-3-mini"]) == [
        "1. nim:phi-3-mini", "2. nim:phi-3-mini"]
    long = style.short_labels(["openai:" + "x" * 60 + "-end"])[0]
    assert len(long) == style.LABEL_LIMIT and long.startswith("openai:") and "…" in long
    assert long.endswith("-end")


def test_every_slot_has_its_own_colour_in_the_css() -> None:
    assert len(set(style.PALETTE)) == len(style.PALETTE) == 6
    css = style.css(6)
    for i in range(6):
        assert f"#slot-{i} {{--pane-colour: {style.colour(i)}}}" in css


def test_table_and_charts_take_the_pane_colours(settings, behaviours) -> None:
    runs = handlers(settings)
    frames, _ = run_compare(runs, form([NIM, "ollama:phi3.5"], "Hello?"))
    styled = frames[-1]["table_style"]
    cells = styled._compute().ctx  # (row, column) -> CSS properties
    for row in range(2):
        assert ("box-shadow", f"inset 6px 0 0 {style.colour(row)}") in cells[(row, 0)]
    assert "<NA>" not in styled.to_html() and "None" not in styled.to_html()
    *charts, _, _ = runs.after_run(frames[-1]["record"])
    for chart in charts:
        assert chart["visible"] is True
        assert chart["color_map"] == {"nim:phi-3.5-mini": style.colour(0),
                                      "ollama:phi3.5": style.colour(1)}
        assert list(chart["value"]["label"]) == ["nim:phi-3.5-mini", "ollama:phi3.5"]
        assert chart["sort"] == ["nim:phi-3.5-mini", "ollama:phi3.5"]


def test_no_empty_chart_when_every_target_failed(settings) -> None:
    runs = handlers(settings)
    frames, _ = run_compare(runs, form([NIM, "nim:microsoft/phi-3-mini-4k-instruct"],
                                       keys={"NVIDIA_API_KEY": "nvapi-wrong-key-0000"}))
    record = frames[-1]["record"]
    assert {r.status for r in record.results} == {"error"}
    *charts, csv_update, _ = runs.after_run(record)
    assert [c["visible"] for c in charts] == [False, False, False]
    assert csv_update["visible"] is True  # the errors can still be downloaded


def test_chart_frame_keeps_only_targets_with_the_number() -> None:
    done = TargetResult(NIM, "nim", "microsoft/phi-3.5-mini-instruct", status="ok",
                        ttft_ms=120.04, total_ms=800.0)
    failed = TargetResult("ollama:phi3.5", "ollama", "phi3.5", status="error")
    frame = render.chart_frame([done, failed], "ttft_ms")
    assert frame.to_dict("records") == [{"label": "nim:phi-3.5-mini", "target": NIM,
                                         "ttft_ms": 120.0, "status": "ok"}]
    assert render.chart_frame([failed], "ttft_ms").empty
    failed.total_ms = 35.0  # the time it took to fail is not a model's speed
    assert render.chart_frame([failed], "total_ms").empty


def test_column_widths_cover_the_table() -> None:
    widths = render.column_widths()
    assert len(widths) == len(render.TABLE_COLUMNS)
    assert sum(float(w.rstrip("%")) for w in widths) == pytest.approx(100, abs=0.5)


def test_attached_images_accumulate_and_clear(tmp_path) -> None:
    first, second = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    thumbnails, row = attach.add_images(None, [first])
    assert thumbnails["value"] == [first] and row["visible"] is True
    shown = [(first, None)]  # what the gallery hands back: (path, caption) pairs
    thumbnails, _ = attach.add_images(shown, [second, first])
    assert thumbnails["value"] == [first, second]  # no duplicates, order kept
    assert attach.image_paths([(first, None), second]) == [first, second]
    thumbnails, row = attach.clear_images()
    assert thumbnails["value"] is None and row["visible"] is False


def test_attaching_more_than_the_limit_keeps_the_first(tmp_path) -> None:
    many = [str(tmp_path / f"{i}.png") for i in range(MAX_IMAGES + 3)]
    with pytest.warns(UserWarning):
        thumbnails, _ = attach.add_images(None, many)
    assert thumbnails["value"] == many[:MAX_IMAGES]
