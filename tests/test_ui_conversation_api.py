"""Follow-ups through the served app's Gradio HTTP API: a client's session keeps its
conversation; every value is checked server-side and a bad one sends nothing (NaN: the handler
tests; gradio_client refuses to send it)."""

from __future__ import annotations

import pytest
from gradio_client import Client

from playground.ui import layout
from playground.ui.handlers import N_SLOTS
from tests.ui_support import free_port

VISION, AZURE = "nim:microsoft/phi-3.5-vision-instruct", "azure:Phi-3.5-vision-instruct"
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.fixture
def client(settings):
    demo = layout.build_demo(settings)
    _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False, analytics_enabled=False)
    finally:
        demo.close()


def panes(own: dict[int, tuple] | None = None) -> list:
    values = []
    for index in range(N_SLOTS):
        values += [False, *own[index]] if own and index in own else \
            [True, "", None, None, None, None]
    return values


def follow_up(client: Client, text: str, pane: int = -1, own=None):
    return client.predict({"text": text, "files": []}, pane, "", 64, None, None, None, 10,
                          *panes(own), api_name="/follow_up")


def test_follow_ups_through_the_api(client, server) -> None:
    client.predict([VISION, AZURE], "Hi", "", None, 64, None, None, None, 10,
                   api_name="/compare")
    sent = len(server.chat_requests())
    with pytest.raises(Exception, match=r"Pane 2 \(azure:Phi-3.5-vision-instruct\): "
                                        "Temperature must be at least 0 and at most 2, not 5"):
        follow_up(client, "Next?", own={1: ("", None, 5, None, None)})
    with pytest.raises(Exception, match="Pane must be -1"):
        follow_up(client, "Next?", pane=7)
    assert len(server.chat_requests()) == sent
    out = follow_up(client, "Next?", own={1: ("Answer in French.", 32, 0.3, None, None)})
    answers = out[N_SLOTS:2 * N_SLOTS]
    assert all("fake answer to: Next?" in a for a in answers[:2])
    azure = [r.json for r in server.chat_requests() if r.path.startswith("/azure")][-1]
    assert azure["messages"][0]["content"] == "Answer in French." and len(azure["messages"]) == 4
    table = out[2 * N_SLOTS]
    assert [row[1] for row in table["data"]] == [1, 1, 2, 2]  # the turn column
