"""Limits a client cannot choose its way around (issue 12, findings 2 and 5): the client's
address as the server can trust it, runs per address through Gradio's HTTP API (30
session ids from one address), the budget of requests on the server's own keys, and
the upload size limit."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import gradio as gr
import pytest
import requests
from gradio_client import Client

from fake_services.server import FakeServer
from fake_services.services import KEYS
from playground.limits import ServerKeyBudget, client_address
from playground.policy import Policy
from playground.ui import layout
from playground.ui.scenarios_tab import ScenarioTab
from playground.ui.session import Sessions
from providers.errors import RateLimitError
from providers.settings import Settings
from tests.ui_support import final_results, form, free_port, handlers, run_compare, session

NIM = "nim:microsoft/phi-3.5-mini-instruct"
AZURE = "azure:Phi-3.5-mini-instruct"
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def request(peer: str, forwarded: str | None = None, name: str = "s1") -> SimpleNamespace:
    """Stands for gr.Request: the socket peer and the headers."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return SimpleNamespace(session_hash=name, client=SimpleNamespace(host=peer),
                           headers=headers)


def test_the_client_address_is_the_first_hop_the_server_trusts() -> None:
    # No proxy trusted: the socket peer, whatever the client writes in its headers.
    assert client_address(request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    # A Space (any peer is the platform's proxy): the entry that proxy appended, never
    # the client's own entries to its left.
    assert client_address(request("10.0.0.2", "1.2.3.4, 198.51.100.7"), ("*",)) == \
        "198.51.100.7"
    assert client_address(request("10.0.0.2", "198.51.100.7"), ("*",)) == "198.51.100.7"
    # Named proxies: walk right to left while the hop is one of them.
    chain = request("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3")
    assert client_address(chain, ("10.0.0.0/24",)) == "198.51.100.7"
    assert client_address(chain, ("10.0.0.2",)) == "10.0.0.3"
    # A peer that is not a trusted proxy: its header means nothing.
    assert client_address(request("203.0.113.9", "1.2.3.4"), ("10.0.0.0/8",)) == "203.0.113.9"
    assert client_address(None) == "unknown"


def test_policy_reads_the_limits_from_the_environment() -> None:
    public = Policy.from_env({"PLAYGROUND_PUBLIC": "1"})
    assert (public.max_runs_per_address, public.max_scenarios_per_address) == (4, 1)
    assert (public.server_key_budget_per_min, public.server_key_budget_per_day) == (60, 1000)
    assert public.trusted_proxies == () and public.max_upload_mb == 20
    space = Policy.from_env({"SPACE_ID": "me/space", "PLAYGROUND_SERVER_KEY_BUDGET_PER_DAY": "off",
                             "PLAYGROUND_MAX_RUNS_PER_ADDRESS": "7"})
    assert space.trusted_proxies == ("*",) and space.server_key_budget_per_day is None
    assert space.max_runs_per_address == 7
    private = Policy.from_env({})
    assert private.max_runs_per_address is None and private.server_key_budget_per_min is None
    assert Policy.from_env({"PLAYGROUND_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}
                           ).trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    for name, value in (("PLAYGROUND_SERVER_KEY_BUDGET_PER_MIN", "nan"),
                        ("PLAYGROUND_MAX_RUNS_PER_ADDRESS", "-1"),
                        ("PLAYGROUND_TRUSTED_PROXIES", "not-an-address"),
                        ("PLAYGROUND_MAX_UPLOAD_MB", "0")):
        with pytest.raises(ValueError, match=name):
            Policy.from_env({name: value})


def test_budget_counts_server_keys_only_and_says_when_spent() -> None:
    server = Settings({"NVIDIA_API_KEY": "nvapi-server-key-1234"}, {"NVIDIA_API_KEY"})
    visitor = server.with_overrides({"NVIDIA_API_KEY": "nvapi-visitor-key-5678"})
    budget = ServerKeyBudget(server, per_minute=2, per_day=None)
    budget.charge("nim", server)
    budget.charge("nim", server)
    for _ in range(5):
        budget.charge("nim", visitor)  # the visitor's own key: never counted
    budget.charge("ollama", server)  # no key at all: nothing of the server's is spent
    with pytest.raises(RateLimitError) as spent:
        budget.charge("nim", server)
    assert "budget (2 requests per minute)" in spent.value.message
    assert "try again in about" in spent.value.message and "own key" in spent.value.message
    assert budget.used()["minute"] == 2


@pytest.fixture
def slow_nim(behaviours):
    """Answers that take seconds: runs from one client overlap."""
    behaviours.default.first_s, behaviours.default.interval_s = 4.0, 0.0
    behaviours.default.pieces = ["Slow ", "answer."]


def serve(settings: Settings, policy: Policy):
    demo = layout.build_demo(settings, policy)
    _, url, _ = demo.launch(server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **layout.launch_options(policy))
    return demo, url


def compare_via_api(url: str, forwarded: str) -> str:
    """One comparison from a fresh session id; "ok" or the refusal's text."""
    client = Client(url, verbose=False, analytics_enabled=False,
                    headers={"X-Forwarded-For": forwarded})
    try:
        client.predict([NIM], "Hello?", "", None, 64, None, None, None, 30,
                       api_name="/compare")
        return "ok"
    except Exception as exc:  # gradio_client raises AppError with the handler's message
        return str(exc)
    finally:
        client.close()


def test_thirty_session_ids_from_one_address_hit_the_address_limit(settings, slow_nim,
                                                                   server: FakeServer) -> None:
    # The test client stands for a trusted proxy on loopback; each Client is a new
    # session id. Visitor A sends 30 at once; visitor B's one comparison still runs.
    policy = Policy(public=True, max_runs_per_address=3, trusted_proxies=("127.0.0.1",))
    demo, url = serve(settings, policy)
    try:
        with ThreadPoolExecutor(31) as pool:
            mine = [pool.submit(compare_via_api, url, "203.0.113.5") for _ in range(30)]
            other = pool.submit(compare_via_api, url, "198.51.100.7")
            outcomes = [f.result(timeout=120) for f in mine]
            assert other.result(timeout=120) == "ok"
    finally:
        demo.close()
    refused = [o for o in outcomes if "Your address already runs 3" in o]
    assert outcomes.count("ok") + len(refused) == 30, outcomes
    # Generous: a refused id may arrive after the first three finished (a loaded machine),
    # but the 4 s answers make the many run together, and most are refused.
    assert 3 <= outcomes.count("ok") <= 9 and len(refused) >= 21
    assert len(server.chat_requests()) == outcomes.count("ok") + 1, "refused runs sent nothing"


def test_server_key_budget_refuses_cleanly_when_spent(settings, server: FakeServer) -> None:
    policy = Policy(public=True, server_key_budget_per_min=3)
    demo, url = serve(settings, policy)
    try:
        client = Client(url, verbose=False, analytics_enabled=False)
        first = client.predict([NIM, AZURE], "Hello?", "", None, 64, None, None, None, 30,
                               api_name="/compare")
        second = client.predict([NIM, AZURE], "Hello?", "", None, 64, None, None, None, 30,
                                api_name="/compare")
        client.close()
    finally:
        demo.close()
    rows = lambda out: [dict(zip(out[12]["headers"], r)) for r in out[12]["data"]]  # noqa: E731
    assert [r["status"] for r in rows(first)] == ["ok", "ok"]
    second_rows = rows(second)
    assert [r["status"] for r in second_rows] == ["ok", "error"]
    assert second_rows[1]["error_kind"] == "rate_limit"
    assert "shared keys have used their budget (3 requests per minute)" in second[1]
    assert len(server.chat_requests()) == 3, "the refused target sent nothing"


def test_the_visitors_own_key_is_not_charged(fakes) -> None:
    server_side = Settings.load(dotenv_path=None, environ={k: v for k, v in fakes.items()
                                                             if k != "NVIDIA_API_KEY"})
    runs = handlers(server_side, Policy(public=True, server_key_budget_per_min=1))
    own = {"NVIDIA_API_KEY": KEYS["NVIDIA_API_KEY"]}
    for _ in range(3):  # three requests on the visitor's key: the budget is untouched
        frames, _ = run_compare(runs, form([NIM], keys=own), request=session("v"))
        assert final_results(frames)[0].status == "ok"
    frames, _ = run_compare(runs, form([AZURE, "azure:Phi-4"]), request=session("v"))
    assert [r.status for r in final_results(frames)] == ["ok", "error"]
    assert runs.sessions.budget.used()["minute"] == 1


def test_uploads_over_the_limit_are_refused(settings) -> None:
    demo, url = serve(settings, Policy())
    try:
        upload = f"{url.rstrip('/')}/gradio_api/upload"
        big = requests.post(upload, files={"files": ("big.png", b"\0" * (21 * 2**20))},
                            timeout=60)
        small = requests.post(upload, files={"files": ("small.png", b"\0" * 1024)},
                              timeout=60)
    finally:
        demo.close()
    assert big.status_code == 413, big.text
    assert small.status_code == 200


def test_gradio_gets_the_upload_limit_at_launch(monkeypatch) -> None:
    monkeypatch.setenv("PLAYGROUND_MAX_UPLOAD_MB", "5")
    assert layout.launch_options()["max_file_size"] == 5 * 2**20
    assert layout.launch_options(Policy())["max_file_size"] == 20 * 2**20


def test_one_scenario_per_address_whatever_the_session_id(fakes, behaviours, monkeypatch,
                                                          tmp_path) -> None:
    from tests.scenario_support import answering

    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "history.db"))
    answering(behaviours)
    behaviours.default.interval_s = 0.05
    tab = ScenarioTab(Sessions(Settings(fakes), Policy(public=True,
                                                       max_scenarios_per_address=1)))

    async def go() -> str:
        first = tab.run("chinese-qa", 1, {}, request=request("203.0.113.5", name="a"))
        await anext(first)
        try:
            # Same address, a new session id: refused with a message in the progress line
            # (the other outputs left as they are), not an error overlay.
            refused = await anext(tab.run("chinese-qa", 1, {},
                                          request=request("203.0.113.5", name="b")))
            assert refused[1:] == [gr.skip()] * 3
            other = tab.run("chinese-qa", 1, {}, request=request("198.51.100.7", name="c"))
            await anext(other)  # another address is not limited
            await other.aclose()
            return refused[0]
        finally:
            await first.aclose()

    assert "Your address already runs 1 scenario" in asyncio.run(go())


def test_a_scenario_run_is_charged_per_upstream_request(fakes, behaviours, monkeypatch,
                                                        tmp_path) -> None:
    from tests.scenario_support import answering

    monkeypatch.setenv("PLAYGROUND_DB", str(tmp_path / "history.db"))
    answering(behaviours)
    sessions = Sessions(Settings.load(dotenv_path=None, environ=fakes),
                        Policy(public=True, server_key_budget_per_min=4))
    tab = ScenarioTab(sessions)

    async def go() -> list:
        return [out async for out in tab.run("chinese-qa", 1, {}, request=request("10.1.1.1"))]

    progress, table, _, _ = asyncio.run(go())[-1]
    statuses = list(table["status"])
    assert statuses.count("ok") == 4 and sessions.budget.used()["minute"] == 4
    assert statuses.count("error") == len(statuses) - 4
    assert progress.startswith("Done:")
