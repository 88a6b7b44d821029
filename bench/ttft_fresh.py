"""Benchmark: TTFT on a fast local server, first run included, against a raw-socket floor.

The fakes run in their own process and send the first token 20 ms after each request
arrives (a few more pieces follow). Every figure is "TTFT error" = reported TTFT minus
those 20 ms, in the same run, next to the same figure for a bare ``http.client`` reader
(the floor: no SDK, no engine; it connects inside its clock, as a fresh client must).

* fresh process: N times ``python -m playground compare --target nim:… --target
  ollama:… --format json``, as a user runs it (goals: median <= 10 ms, worst <= 25 ms);
  the floor is a fresh ``python -c`` process reading each route once;
* first comparison after app start: N times ``python app.py`` on a free loopback port,
  one comparison through ``gradio_client``, TTFT from the app's table (goal <= 25 ms);
* steady state, 6 targets at once: ``bench.engine_fanout`` (goal p95 <= 5 ms).

Usage: python -m bench.ttft_fresh [--runs 10] [--app-runs 3] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import engine_fanout  # noqa: E402
from bench.support import REPO, fake_server_process, percentile  # noqa: E402
from fake_services.server import free_port  # noqa: E402
from providers.settings import Settings  # noqa: E402

FIRST_MS = 20.0
SPEC = {"default": {"first_s": FIRST_MS / 1000, "interval_s": 0.005,
                    "pieces": [" w0", " w1", " w2", " w3"]}}
# The ollama model must be one the fake lists (the CLI checks Ollama has it).
TARGETS = ["nim:bench-fresh-a", "ollama:phi3.5"]

# A bare reader in a fresh process: stdlib only, the clock around send and reading up
# to the first line that carries answer text (and around connecting, for the first
# request on each connection). Prints {"cold": [nim, ollama], "warm": [nim...]} in ms.
RAW_READER = r"""
import http.client, json, sys, time, urllib.parse
def first_text_ms(conn, path, body, headers):
    started = time.perf_counter()
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    took = None
    while True:
        line = response.readline()
        if not line:
            return took
        text = line.decode().removeprefix("data: ").strip()
        if took is None and text and text != "[DONE]":
            item = json.loads(text)
            content = (item.get("message") or {}).get("content") if "message" in item else \
                "".join((c.get("delta") or {}).get("content") or ""
                        for c in item.get("choices", []))
            if content:
                took = (time.perf_counter() - started) * 1000
def connect(url):  # http.client connects inside the first request, so inside its clock
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port), parts.path
env, warm = json.loads(sys.argv[1]), int(sys.argv[2])
messages = [{"role": "user", "content": "benchmark"}]
nim, nim_path = connect(env["NIM_BASE_URL"] + "/chat/completions")
nim_args = (nim_path, {"model": "bench-fresh-a", "messages": messages, "stream": True},
            {"Authorization": "Bearer " + env["NVIDIA_API_KEY"],
             "Content-Type": "application/json"})
ollama, ollama_path = connect(env["OLLAMA_HOST"] + "/api/chat")
cold = [first_text_ms(nim, *nim_args),
        first_text_ms(ollama, ollama_path, {"model": "phi3.5", "messages": messages,
                      "stream": True}, {"Content-Type": "application/json"})]
print(json.dumps({"cold": cold, "warm": [first_text_ms(nim, *nim_args) for _ in range(warm)]}))
"""


def child_env(fake_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The user's environment pointed at the fakes (no key of the user's own)."""
    return {**os.environ, **fake_env, "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1", **extra}


def fresh_cli(fake_env: dict[str, str]) -> list[float]:
    """One fresh ``compare`` process; each target's TTFT (ms)."""
    args = [sys.executable, "-m", "playground", "compare", "--prompt", "benchmark",
            "--format", "json"] + [a for t in TARGETS for a in ("--target", t)]
    done = subprocess.run(args, cwd=REPO, env=child_env(fake_env), capture_output=True,
                          text=True, timeout=120, check=False)
    results = json.loads(done.stdout)["results"]
    assert all(r["status"] == "ok" for r in results), [r["error"] for r in results]
    return [r["ttft_ms"] for r in results]


def fresh_raw(fake_env: dict[str, str], warm: int = 0) -> dict[str, list[float]]:
    """One fresh bare-reader process: its first TTFT per route ("cold", ms), then
    ``warm`` more reads of one route over the kept-alive connection ("warm", ms)."""
    done = subprocess.run([sys.executable, "-c", RAW_READER, json.dumps(fake_env), str(warm)],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def app_first_comparison(fake_env: dict[str, str]) -> list[float]:
    """Start ``app.py``, run one comparison through the HTTP API; each target's TTFT."""
    from gradio_client import Client

    port = free_port()
    app = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=child_env(
                               fake_env, GRADIO_SERVER_NAME="127.0.0.1",
                               GRADIO_SERVER_PORT=str(port)))
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(url, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline and app.poll() is None, "app did not start"
            time.sleep(0.2)
        client = Client(url, verbose=False, analytics_enabled=False)
        out = client.predict(TARGETS, "benchmark", "", None, 64, None, None, None, 30,
                             api_name="/compare")
        table = out[2 * 6]  # status lines (6 slots), answers (6 slots), then the table
        rows = [dict(zip(table["headers"], row)) for row in table["data"]]
        client.close()
        assert all(r["status"] == "ok" for r in rows), rows
        return [float(r["ttft_ms"]) for r in rows]
    finally:
        app.terminate()
        app.wait(30)


def errors(ttfts: list[float]) -> list[float]:
    return [t - FIRST_MS for t in ttfts]


# Events each route sends before the first text: vLLM-style role frame; Ollama none.
LEAD_EVENTS = {"bench-fresh-a": 1, "phi3.5": 0}


def fake_lags(fake_env: dict[str, str]) -> list[float]:
    """How late the fake itself wrote the first text of the latest request per target
    (ms past the 20 ms; the machine's load delays its timer too), from its log on the
    shared monotonic clock."""
    log = requests.get(fake_env["OLLAMA_HOST"] + "/_fake/requests", timeout=10).json()
    lags = []
    for model, lead in LEAD_EVENTS.items():
        entry = [e for e in log if e["model"] == model][-1]
        lags.append((entry["sent_at"][lead] - entry["received_at"]) * 1000 - FIRST_MS)
    return lags


def measured(ttfts: list[float], fake_env: dict[str, str]) -> tuple[list[float], list[float]]:
    """(TTFT errors, the same minus the fake's own lag) for one run's targets."""
    errs = errors(ttfts)
    return errs, [e - lag for e, lag in zip(errs, fake_lags(fake_env))]


def line(label: str, values: list[float], goal: str = "") -> str:
    if not values:
        return f"  {label}: not run"
    return (f"  {label}: median {statistics.median(values):6.2f} ms, worst "
            f"{max(values):6.2f} ms, best {min(values):6.2f} ms (n={len(values)}){goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh CLI processes")
    parser.add_argument("--app-runs", type=int, default=3, help="app starts")
    parser.add_argument("--rounds", type=int, default=20, help="steady-state rounds")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    with fake_server_process(SPEC) as fake_env:
        fresh_cli(fake_env)  # warms the disk cache and the fake; not counted
        figures: dict[str, list[float]] = {}

        def add(name: str, ttfts: list[float]) -> None:
            errs, net = measured(ttfts, fake_env)
            figures.setdefault(name, []).extend(errs)
            figures.setdefault(name + " net", []).extend(net)

        for _ in range(args.runs):  # interleaved: both see the same load
            add("cli", fresh_cli(fake_env))
            add("raw", fresh_raw(fake_env)["cold"])
        for _ in range(args.app_runs):
            add("app", app_first_comparison(fake_env))
            add("app raw", fresh_raw(fake_env)["cold"])
        warm = errors(fresh_raw(fake_env, warm=args.rounds * 3)["warm"])
    print(f"TTFT error = reported TTFT - {FIRST_MS:g} ms (the fake's first token), "
          f"targets {', '.join(TARGETS)}")
    print("(net: minus the fake's own timer lag, read from its log)")
    print("fresh process (python -m playground compare), per target:")
    print(line("playground", figures.get("cli", []), "   (goal: median <= 10, worst <= 25)"))
    print(line("raw http.client floor", figures.get("raw", [])))
    print(line("playground, net", figures.get("cli net", [])))
    print(line("raw http.client floor, net", figures.get("raw net", [])))
    print("first comparison after app start (python app.py + gradio_client), per target:")
    print(line("playground", figures.get("app", []), "   (goal: <= 25)"))
    print(line("raw http.client floor, right after each", figures.get("app raw", [])))
    print(line("playground, net", figures.get("app net", [])))
    print(line("raw http.client floor, net", figures.get("app raw net", [])))
    if args.rounds:
        steady_state(args.rounds)
        print(f"  raw http.client floor, one kept-alive connection, one request at a time: "
              f"p50 {percentile(warm, 0.5):.2f} ms, p95 {percentile(warm, 0.95):.2f} ms "
              f"(n={len(warm)})")
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


def steady_state(rounds: int) -> None:
    """``bench.engine_fanout``'s TTFT error at 6 concurrent targets."""
    models = {t.split(":", 1)[1]: {"pieces": [f" w{i}" for i in range(n)], "first_s": first,
                                   "interval_s": interval}
              for t, first, interval, n in engine_fanout.SCHEDULE}
    with fake_server_process({"models": models}) as env:
        runs, floor = asyncio.run(engine_fanout.alternated(Settings(env), env, rounds))
        log = requests.get(env["OLLAMA_HOST"] + "/_fake/requests", timeout=10).json()
    parts = engine_fanout.split_errors(runs, log, stride=2)
    bare = engine_fanout.split_errors(floor, log, stride=2, offset=1)["ttft_error"]
    values = parts["ttft_error"]
    print(f"steady state, {len(engine_fanout.SCHEDULE)} targets at once x {rounds} rounds "
          "(bench.engine_fanout):")
    print(f"  TTFT - scheduled: p50 {percentile(values, 0.5):.2f} ms, "
          f"p95 {percentile(values, 0.95):.2f} ms   (goal: p95 <= 5)")
    transit = parts["transit"]
    print(f"  of which request transit: p50 {percentile(transit, 0.5):.2f}, "
          f"p95 {percentile(transit, 0.95):.2f} ms")
    print(f"  bare asyncio reader, the same 6 requests at once (bench.raw_fanout), alternated: "
          f"p50 {percentile(bare, 0.5):.2f} ms, p95 {percentile(bare, 0.95):.2f} ms")


if __name__ == "__main__":
    main()
