"""Session keys live and die with the session (issue 12, findings 3 and 8): their clients
are dropped when the session ends or idles, so 300 sessions with keys leave memory flat;
keys are checked at entry; only exact, long-enough values are redacted; a key echoed
into an answer is shown as ``***``."""

from __future__ import annotations

import asyncio
import gc
import logging

import gradio as gr
import pytest

from fake_services.server import FakeServer
from fake_services.services import KEYS, openai_chat
from playground.logs import RedactingFilter
from playground.policy import Policy
from playground.scrub import AnswerScrubber
from playground.ui.page import PageHandlers
from playground.ui.session import Sessions
from providers.settings import Settings
from tests.test_load import rss_mb
from tests.ui_support import final_results, form, handlers, run_compare, session, shown

NIM = "nim:microsoft/phi-3.5-mini-instruct"
SESSIONS, BATCH = 300, 20


def any_key_nim(server: FakeServer, behaviours, fakes: dict[str, str]) -> Settings:
    """A NIM that takes any key, and a server with no NIM key of its own."""
    server.on("POST", "/open/v1/chat/completions", openai_chat(behaviours, flavour="vllm"))
    env = {k: v for k, v in fakes.items() if k != "NVIDIA_API_KEY"}
    return Settings.load(dotenv_path=None,
                         environ={**env, "NIM_BASE_URL": f"{server.url}/open/v1"})


@pytest.mark.slow
def test_three_hundred_sessions_with_keys_leave_memory_flat(server, behaviours, fakes,
                                                           capsys) -> None:
    """Each session types its own key, compares, and closes its tab. Memory is the
    process's RSS: most of a client's memory is OpenSSL's (its CA store), which Python's
    tracemalloc does not see."""
    behaviours.default.first_s, behaviours.default.interval_s = 0.0, 0.0
    runs = handlers(any_key_nim(server, behaviours, fakes))
    sessions = runs.sessions

    async def one(index: int) -> None:
        request = session(f"visitor-{index:03d}")
        keys = {"NVIDIA_API_KEY": f"nvapi-visitor-{index:03d}-{'x' * 40}"}
        async for _ in runs.compare(*form([NIM], keys=keys), request=request):
            pass
        await runs.end_session(request)  # what demo.unload calls when the tab closes

    async def go() -> tuple[int, list[int], list[float], list[str]]:
        for index in range(BATCH):  # warm-up: imports, SDK caches, the allocator
            await one(index)
        gc.collect()
        baseline, counts, memory = len(sessions.pool()), [], [rss_mb()]
        for start in range(BATCH, SESSIONS, BATCH):
            await asyncio.gather(*(one(i) for i in range(start, start + BATCH)))
            gc.collect()
            counts.append(len(sessions.pool()))
            memory.append(rss_mb())
        await sessions.close_pool()
        return baseline, counts, memory, [k for k in sessions._redaction.secrets
                                          if k.startswith("nvapi-visitor")]

    baseline, counts, memory, redacted = asyncio.run(go())
    assert len(server.chat_requests()) == SESSIONS
    assert counts == [baseline] * len(counts), "every session's clients were dropped"
    # Before: about 0.8 MB per session kept for good (280 sessions: over 200 MB).
    assert memory[-1] - memory[0] < 60, memory
    assert redacted == [], "their keys left the log filter's list"
    with capsys.disabled():
        print(f"\n{SESSIONS} sessions with their own keys: pool {baseline} -> {counts[-1]} "
              f"instances, RSS {memory[0]:.0f} -> {memory[-1]:.0f} MB after they ended")


def test_idle_session_clients_are_swept(server, behaviours, fakes) -> None:
    """A client that never says it left (no heartbeat) loses its clients after idling."""
    runs = handlers(any_key_nim(server, behaviours, fakes))

    async def go() -> list[int]:
        pool = runs.sessions.pool()
        for index in range(3):
            keys = {"NVIDIA_API_KEY": f"nvapi-silent-{index}-{'y' * 30}"}
            async for _ in runs.compare(*form([NIM], keys=keys),
                                        request=session(f"silent-{index}")):
                pass
        sizes = [len(pool)]
        await pool.sweep()  # used since the last sweep: kept
        sizes.append(len(pool))
        await pool.sweep()  # a whole period unused: closed and dropped
        sizes.append(len(pool))
        await runs.sessions.close_pool()
        return sizes

    assert asyncio.run(go()) == [3, 3, 0]


def test_a_client_in_use_is_closed_only_when_its_comparison_ends(server, behaviours,
                                                                 fakes) -> None:
    behaviours.default.first_s = 0.3
    runs = handlers(any_key_nim(server, behaviours, fakes))
    request, keys = session("leaving"), {"NVIDIA_API_KEY": "nvapi-leaving-" + "z" * 30}

    async def go() -> tuple[str, int]:
        async def watch() -> None:  # the page, taking every frame
            async for _ in runs.compare(*form([NIM], keys=keys), request=request):
                pass

        page = asyncio.ensure_future(watch())
        for _ in range(500):  # until the request is at the server (first token 0.3 s later)
            if server.chat_requests():
                break
            await asyncio.sleep(0.01)
        await runs.end_session(request)  # the tab closed mid-run
        await page
        status = runs.sessions.running(request.session_hash)
        size = len(runs.sessions.pool())
        await runs.sessions.close_pool()
        return str(status), size

    status, size = asyncio.run(go())
    assert size == 0 and status == "[]"
    assert len(server.chat_requests()) == 1


@pytest.mark.parametrize("value, problem", [
    ("nvapi-abc\ndef-12345", "control character"),
    ("nvapi-abc\r\nX-Evil: 1", "control character"),
    ("nvapi-abc def-12345", "contains a space"),
    ("short12", "8 to 4,096 characters"),
    ("n" * 5000, "8 to 4,096 characters"),
])
def test_keys_with_whitespace_control_characters_or_odd_lengths_are_refused(
        settings, value: str, problem: str) -> None:
    setup = PageHandlers(Sessions(settings, Policy()))
    values = ["" for _ in setup.fields]
    values[[f.name for f in setup.fields].index("NVIDIA_API_KEY")] = value
    with pytest.raises(gr.Error) as refused:
        setup.save_keys({}, *values)
    assert problem in refused.value.message and value.strip() not in refused.value.message


def test_a_key_with_a_newline_never_reaches_the_service(settings, server) -> None:
    """Sent through Compare (the API), not only typed into Settings: refused, nothing sent."""
    runs = handlers(settings)
    with pytest.raises(gr.Error, match="control character") as refused:
        run_compare(runs, form([NIM], keys={"NVIDIA_API_KEY": "nvapi-abc\ndef-12345"}))
    assert "nvapi-abc" not in refused.value.message
    assert server.requests == []


def test_an_echoed_key_is_redacted_from_the_answer(server, behaviours, fakes) -> None:
    mine = "nvapi-echoed-by-upstream-" + "q" * 20
    # The upstream repeats the key, split across chunks, and the server's own key too.
    behaviours.default.pieces = ["Your key is nv", "api-echoed-by-up", "stream-" + "q" * 20,
                                 ". Mine is ", KEYS["AZURE_AI_API_KEY"], ". Bearer is a word."]
    runs = handlers(any_key_nim(server, behaviours, fakes))
    frames, _ = run_compare(runs, form([NIM, "azure:Phi-3.5-mini-instruct"],
                                       keys={"NVIDIA_API_KEY": mine}))
    results = final_results(frames)
    assert [r.status for r in results] == ["ok", "ok"]
    for result in results:
        assert mine not in result.text and KEYS["AZURE_AI_API_KEY"] not in result.text
        assert result.text.endswith(". Mine is ***. Bearer is a word.")
    page = shown(frames)
    every_frame = " ".join(str(f["answers"]) for f in frames) + str(page)
    assert "echoed-by" not in every_frame and KEYS["AZURE_AI_API_KEY"] not in every_frame


def test_the_scrubber_holds_a_possible_key_start_until_it_knows() -> None:
    key = "sk-abcdefgh-123456"
    scrub = AnswerScrubber([key])
    assert scrub.feed("Here: sk-ab") == "Here: "  # could be the key: held
    assert scrub.feed("cdefgh-123456 done") == "*** done"
    assert scrub.feed(" sk-a") == " " and scrub.flush() == "sk-a"  # not a key after all
    assert AnswerScrubber([]).feed("anything") == "anything"


def test_short_words_are_never_redacted_for_everyone() -> None:
    settings = Settings({"NVIDIA_API_KEY": "NVIDIA", "AZURE_AI_API_KEY": "a-long-azure-key"},
                        {"NVIDIA_API_KEY", "AZURE_AI_API_KEY"})
    assert settings.secret_values() == ["a-long-azure-key"]
    log_filter = RedactingFilter([])
    log_filter.hold("visitor", ["nvapi-visitor-key-1"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1,
                               "nim:NVIDIA failed for nvapi-visitor-key-1", None, None)
    log_filter.filter(record)
    assert record.getMessage() == "nim:NVIDIA failed for ***"
    log_filter.release("visitor")
    assert log_filter.secrets == []


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_closing_the_tab_ends_the_session(settings, monkeypatch) -> None:
    """demo.unload is wired: a client whose heartbeat ends (the tab closed) reaches
    Sessions.end with its own session id."""
    # The server notices a closed heartbeat when it next writes to it (default 15 s).
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "0.5")
    from gradio_client import Client

    from fake_services.services import wait_for
    from playground.ui import layout
    from tests.ui_support import free_port

    ended: list[str] = []

    async def record(self: Sessions, session_id: str) -> int:
        ended.append(session_id)
        return 0

    monkeypatch.setattr(Sessions, "end", record)
    demo = layout.build_demo(settings)
    _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False, analytics_enabled=False)
        client.predict([NIM], "Hello?", "", None, 64, None, None, None, 10,
                       api_name="/compare")
        mine = client.session_hash
        client.close()
        assert wait_for(lambda: mine in ended, timeout_s=30), ended
    finally:
        demo.close()
