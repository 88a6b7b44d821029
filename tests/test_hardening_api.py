"""Issue 12, finding 1, where it came from: NaN and infinities sent to the served app's
Gradio HTTP API (``/gradio_api/queue/join``; Python's json writes and reads ``NaN`` and
``Infinity``). Each bad comparison is refused with a clear message and sends nothing;
a normal comparison sent beside them still runs to the end."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from gradio_client import Client

from playground.ui import layout
from tests.ui_support import free_port

NIM = "nim:microsoft/phi-3.5-mini-instruct"
NAN, INF = float("nan"), float("inf")
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

# (max_tokens, temperature, top_p, seed, timeout_s) -> what the refusal says
BAD = [
    ((64, None, None, None, NAN), "idle timeout must be more than 0 and at most 600 seconds, not nan"),
    ((64, None, None, None, INF), "idle timeout must be more than 0 and at most 600 seconds, not inf"),
    ((64, None, None, None, -INF), "not -inf"),
    ((NAN, None, None, None, 10), "Max tokens must be a whole number from 1 to 32,768, not nan"),
    ((INF, None, None, None, 10), "Max tokens must be a whole number from 1 to 32,768, not inf"),
    ((1e20, None, None, None, 10), "Max tokens must be a whole number from 1 to 32,768"),
    ((64, NAN, None, None, 10), "Temperature must be at least 0 and at most 2, not nan"),
    ((64, None, INF, None, 10), "top_p must be more than 0 and at most 1, not inf"),
    ((64, None, None, INF, 10), "Seed must be a whole number from 0 to 4,294,967,295, not inf"),
    ((64, None, None, 1e23, 10), "Seed must be a whole number from 0 to 4,294,967,295"),
    ((64, None, None, None, "ten"), "idle timeout must be more than 0 and at most 600 "
                                    "seconds (got str)"),
]


@pytest.fixture
def app(settings):
    demo = layout.build_demo(settings)
    _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    compare = next(fn for fn in demo.fns.values() if fn.name == "compare")
    try:
        yield url, compare._id
    finally:
        demo.close()


def join_raw(url: str, fn_index: int, session: str, numbers: tuple[Any, ...]) -> None:
    """What the finding did: a queue/join whose JSON body holds NaN or Infinity."""
    data = [[NIM], "Hello?", "", None, *numbers, None]
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session,
                       "event_data": None, "trigger_id": None})  # allow_nan: NaN, Infinity
    reply = httpx.post(f"{url}gradio_api/queue/join", content=body,
                       headers={"Content-Type": "application/json"}, timeout=30)
    reply.raise_for_status()


def completed(url: str, session: str) -> dict[str, Any]:
    """The session's ``process_completed`` message from the queue's event stream."""
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session},
                      timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line.removeprefix("data:"))
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the stream ended without process_completed")


def test_nan_and_inf_are_refused_and_a_normal_run_beside_them_finishes(app, server,
                                                                       behaviours) -> None:
    url, fn_index = app
    behaviours.default.pieces = ["Fine ", "here."]
    outcomes: dict[int, dict[str, Any]] = {}

    def bad(i: int, numbers: tuple[Any, ...]) -> None:
        join_raw(url, fn_index, f"bad{i}", numbers)
        outcomes[i] = completed(url, f"bad{i}")

    threads = [threading.Thread(target=bad, args=(i, case[0])) for i, case in enumerate(BAD)]
    for thread in threads:
        thread.start()
    client = Client(url, verbose=False, analytics_enabled=False)
    normal = client.submit([NIM], "Are you there?", "", None, 64, None, None, None, 10,
                           api_name="/compare")
    answers = normal.result(timeout=120)[6:12]  # raises if the normal run failed
    for thread in threads:
        thread.join(timeout=120)
    assert answers[0] == "Fine here."
    for i, (_, says) in enumerate(BAD):
        message = outcomes[i]
        assert message["success"] is False, message
        error = message["output"]["error"]
        assert says in error and "Nothing was sent" in message["output"].get("title", ""), error
    # Only the normal comparison reached the service.
    posts = server.chat_requests()
    assert len(posts) == 1 and b"Are you there?" in posts[0].raw
