"""The Compare / Stop / after-run handlers, called directly against the fake servers."""

from __future__ import annotations

import json

import gradio as gr
import pandas as pd
import pytest
from PIL import Image

from fake_services.server import json_reply
from fake_services.services import KEYS
from tests.support import png
from tests.ui_support import SKIP, final_results, form, handlers, run_compare, session, shown

NIM = "nim:microsoft/phi-3.5-mini-instruct"


def test_compare_streams_every_target_and_ends_with_the_record(settings, behaviours) -> None:
    behaviours.default.pieces = ["Changsha ", "is ", "the ", "capital."]
    behaviours.set("phi3.5", first_s=0.3, interval_s=0.05)
    runs = handlers(settings)
    frames, _ = run_compare(runs, form([NIM, "ollama:phi3.5"]))
    first = frames[0]
    assert [s["visible"] for s in first["slots"]] == [True, True, False, False, False, False]
    assert "waiting" in first["status"][0] and first["answers"][:2] == ["", ""]
    assert first["record"] is None  # reset: a stopped run must not show old results
    assert all(u == {"__type__": "update", "visible": False} for u in first["charts"])
    results = final_results(frames)
    assert [r.status for r in results] == ["ok", "ok"]
    assert [r.text for r in results] == ["Changsha is the capital."] * 2
    last = shown(frames)
    assert last["answers"][:2] == ["Changsha is the capital."] * 2
    assert frames[-1]["answers"][:2] == last["answers"][:2]  # the final frame is complete
    assert "done in" in last["status"][1] and "first token at" in last["status"][1]
    table = last["table"]
    assert list(table["status"]) == ["ok", "ok"]
    assert list(table["completion_tokens"]) == [4, 4]
    assert 300 <= table["ttft_ms"][1] < 1000  # the fake's schedule: first token at 0.3 s


def test_updates_are_throttled(settings, behaviours) -> None:
    # 400 pieces at 2 ms: unthrottled, that would be ~400 frames in 0.8 s.
    behaviours.default.pieces = [f"t{i} " for i in range(400)]
    behaviours.default.interval_s = 0.002
    frames, seconds = run_compare(handlers(settings), form([NIM, "ollama:phi3.5"]))
    assert len(frames) <= seconds / 0.05 + 4
    tables = [f for f in frames if isinstance(f["table"], pd.DataFrame)]
    assert len(tables) < len(frames)  # the table is sent less often than the panes
    assert final_results(frames)[0].completion_tokens == 400


def test_a_failing_target_never_breaks_the_others(settings, server) -> None:
    server.on("POST", "/compat/v1/chat/completions",
              lambda request: json_reply(500, {"error": {"message": "boom"}}))
    frames, _ = run_compare(handlers(settings), form([NIM, "openai:phi-3.5-mini-instruct"]))
    ok, failed = final_results(frames)
    assert ok.status == "ok" and failed.status == "error"
    page = shown(frames)
    assert "HTTP 500" in page["status"][1] and "boom" in page["status"][1]
    assert page["answers"][1] == "*(no text received)*"
    row = page["table"].set_index("target").loc["openai:phi-3.5-mini-instruct"]
    assert "boom" in row["error"] and row["error"] == failed.error  # the table says why


def test_a_retired_target_is_refused_before_sending(settings, server) -> None:
    with pytest.raises(gr.Error, match="retired by GitHub on 2026-07-30") as refused:
        run_compare(handlers(settings), form([NIM, "github:microsoft/phi-3.5-mini-instruct"]))
    assert "token" not in str(refused.value).lower()
    assert server.chat_requests() == []


def test_stop_ends_every_stream_and_shows_stopped(settings, behaviours) -> None:
    behaviours.default.pieces = [f"w{i} " for i in range(300)]
    behaviours.default.interval_s = 0.05  # 15 s if never stopped
    runs = handlers(settings)
    asked = []

    def stop_after_text(frames):
        if not asked and all(shown(frames)["answers"][:2]):
            asked.append(True)
            return runs.stop(request=session())
    frames, seconds = run_compare(runs, form([NIM, "ollama:phi3.5"]), request=session(),
                                  during=stop_after_text)
    assert asked and seconds < 5
    results = final_results(frames)
    assert [r.status for r in results] == ["stopped", "stopped"]
    assert all(r.text and r.partial for r in results)  # text received so far is kept
    assert all("stopped" in line for line in shown(frames)["status"][:2])
    assert list(shown(frames)["table"]["status"]) == ["stopped", "stopped"]


def test_stop_of_another_session_changes_nothing(settings, behaviours) -> None:
    behaviours.default.pieces = ["a", "b", "c"]
    runs = handlers(settings)
    frames, _ = run_compare(runs, form([NIM]), request=session("mine"),
                            during=lambda f: runs.stop(request=session("other")))
    assert final_results(frames)[0].status == "ok"


def test_after_run_charts_and_downloads(settings, behaviours, tmp_path) -> None:
    behaviours.default.pieces = ["长沙", "是", "省会。"]
    runs = handlers(settings)
    frames, _ = run_compare(runs, form([NIM, "ollama:phi3.5"], "你知道长沙吗？",
                                       system="用中文回答。", seed=7, temperature=0.2))
    record = frames[-1]["record"]
    *charts, csv_update, json_update = runs.after_run(record)
    assert [c["visible"] for c in charts] == [True, True, True]
    ttft = charts[0]["value"]
    assert list(ttft["target"]) == [NIM, "ollama:phi3.5"] and (ttft["ttft_ms"] > 0).all()
    csv = pd.read_csv(csv_update["value"])
    assert list(csv["text"]) == ["长沙是省会。"] * 2
    assert set(csv["prompt"]) == {"你知道长沙吗？"} and set(csv["seed"]) == {7}
    document = json.loads(open(json_update["value"], encoding="utf-8").read())
    assert document["parameters"]["temperature"] == 0.2
    assert [r["completion_tokens"] for r in document["results"]] == [3, 3]
    for path in (csv_update["value"], json_update["value"]):
        text = open(path, encoding="utf-8").read()
        assert not any(key in text for key in KEYS.values())
    assert runs.after_run(None) == [SKIP] * 5  # nothing ran: leave the page alone



@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("case, expected", [
    ("empty prompt", "The prompt is empty"),
    ("no target", "No target selected"),
    ("text-only target with an image", "text-only model"),
    ("not an image", "not an image"),
    ("huge image", "megapixels"),
    ("unknown provider", "Unknown provider"),
    ("zero timeout", "idle timeout must be more than 0"),
])
def test_bad_input_is_refused_and_nothing_is_sent(settings, server, tmp_path, case,
                                                  expected) -> None:
    def file(name: str, data: bytes) -> list[str]:
        (tmp_path / name).write_bytes(data)
        return [str(tmp_path / name)]
    vision = "nim:microsoft/phi-3.5-vision-instruct"
    inputs = {
        "empty prompt": lambda: form([NIM], "   "),
        "no target": lambda: form([]),
        "text-only target with an image": lambda: form([NIM], files=file("w.png", png(32, 32))),
        "not an image": lambda: form([vision], files=file("notes.png", b"not a picture")),
        # 48 MP: over the 40 MP limit
        "huge image": lambda: form([vision], files=file("huge.png", png(8000, 6000))),
        "unknown provider": lambda: form(["nowhere:model"]),
        "zero timeout": lambda: form([NIM], timeout_s=0),
    }[case]()
    with pytest.raises(gr.Error) as caught:
        run_compare(handlers(settings), inputs)
    assert expected in caught.value.message and caught.value.title == "Nothing was sent"
    assert server.requests == []


def test_oversized_image_is_downscaled_with_a_note(settings, server, tmp_path) -> None:
    # Noise does not compress: far over NIM's 180,000-character inline image limit.
    import os
    big = tmp_path / "noise.png"
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(big)
    frames, _ = run_compare(handlers(settings),
                            form(["nim:microsoft/phi-3-vision-128k-instruct"], "Describe it.",
                                 files=[str(big)]))
    assert final_results(frames)[0].status == "ok"
    status = shown(frames)["status"][0]
    assert "downscaled" in status and "180,000" in status
    body = server.last("/nim/v1/vlm/microsoft/phi-3-vision-128k-instruct").raw
    assert len(body) < 200_000


def test_old_export_folders_are_removed(settings, behaviours, tmp_path) -> None:
    import os
    import time as clock

    from playground.ui.exports import write_exports
    behaviours.default.pieces = ["ok"]
    frames, _ = run_compare(handlers(settings), form([NIM]))
    old = tmp_path / "run-old"
    old.mkdir()
    stale = clock.time() - 7200
    os.utime(old, (stale, stale))
    csv_path, json_path = write_exports(frames[-1]["record"], tmp_path)
    assert not old.exists() and csv_path.parent.parent == tmp_path and json_path.is_file()
