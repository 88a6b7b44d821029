"""The app as built and served: layout, event wiring, queue settings, and a gradio_client
call through the real HTTP API."""

from __future__ import annotations

import importlib
import sys

import pytest
from gradio_client import Client

from playground.ui import layout
from playground.ui.handlers import COMPARE_OUTPUTS, N_SLOTS
from tests.ui_support import free_port

NIM = "nim:microsoft/phi-3.5-mini-instruct"
# Gradio 6.31's queue uses pandas options that pandas 3 deprecates (a warning only).
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def events(demo) -> dict[str, object]:
    return {fn.name: fn for fn in demo.fns.values()}


def test_layout_wires_the_handlers(settings) -> None:
    demo = layout.build_demo(settings)
    ids = {block.elem_id for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    expected = {"targets", "prompt", "system", "images", "compare-btn", "stop-btn", "metrics",
                "share-link", "dl-csv", "dl-json", "provider", "model", "add-target",
                "local-models", "local-download", "keys-save"}
    expected |= {f"{kind}-{i}" for kind in ("slot", "status", "answer") for i in range(N_SLOTS)}
    assert expected <= ids
    fns = events(demo)
    compare, after, stop = fns["compare"], fns["after_run"], fns["stop"]
    assert compare.api_name == "compare" and len(compare.outputs) == sum(COMPARE_OUTPUTS.values())
    assert compare.concurrency_limit == 24 and compare.concurrency_id == "compare"
    # Charts and downloads only after a run that ended well (not after an error).
    assert after.trigger_only_on_success and after.trigger_after == compare._id
    assert stop.queue is False and not stop.cancels  # the generator shows "stopped" itself
    assert demo._queue.max_size == 100 and demo._queue.default_concurrency_limit == 8
    assert fns["download"].concurrency_limit == 1


def test_queue_settings_come_from_the_environment(settings, monkeypatch) -> None:
    monkeypatch.setenv("PLAYGROUND_CONCURRENCY", "40")
    monkeypatch.setenv("PLAYGROUND_QUEUE_SIZE", "500")
    demo = layout.build_demo(settings)
    assert events(demo)["compare"].concurrency_limit == 40 and demo._queue.max_size == 500


def test_app_module_exposes_demo(monkeypatch, fakes) -> None:
    for name, value in fakes.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("app", None)
    monkeypatch.syspath_prepend(str(__import__("tests.conftest").conftest.REPO))
    app = importlib.import_module("app")
    assert app.demo is not None and callable(app.launch)
    assert "compare" in events(app.demo)


@pytest.fixture
def served(settings):
    demo = layout.build_demo(settings)
    _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()


def test_compare_through_the_http_api(served, behaviours) -> None:
    behaviours.default.pieces = ["Changsha ", "is ", "in ", "Hunan."]
    client = Client(served, verbose=False, analytics_enabled=False)
    job = client.submit([NIM, "ollama:phi3.5"], "你知道长沙吗？", "", None, 64, None, None,
                        None, 10, api_name="/compare")
    out = job.result(timeout=30)  # raises on a handler error
    # Columns and the State are not API outputs: status lines, answers, table, charts...
    status, answers, table = out[:N_SLOTS], out[N_SLOTS:2 * N_SLOTS], out[2 * N_SLOTS]
    assert answers[:2] == ("Changsha is in Hunan.",) * 2
    assert all("done in" in line for line in status[:2])
    rows = {row[0]: dict(zip(table["headers"], row)) for row in table["data"]}
    assert rows[NIM]["status"] == "ok" and rows[NIM]["completion_tokens"] == 4
    assert {"/compare", "/stop", "/run_scenario", "/follow_up", "/retry", "/new_conversation",
            "/arena_battle", "/arena_vote", "/arena_leaderboard"} == set(
        client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_bad_input_through_the_http_api(served, server) -> None:
    client = Client(served, verbose=False, analytics_enabled=False)
    with pytest.raises(Exception, match="The prompt is empty"):
        client.predict([NIM], "", "", None, 64, None, None, None, 10, api_name="/compare")
    assert server.chat_requests() == []  # GETs: readiness probes
