"""A real llama.cpp server (llama-cpp-python's) on loopback, serving the tiny Phi-3 GGUF,
for the ``realserver`` tests; plus a raw-socket TTFT probe to compare the engine with."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_services.server import free_port
from tests.conftest import REPO

GGUF = Path(REPO) / "tests" / "fixtures" / "gguf" / "tiny-phi3.gguf"
ALIAS = "tiny-phi3"
CONTEXT = 512
START_TIMEOUT_S = 120.0
FIRST_CONTENT = re.compile(rb'"content": "[^"]')  # the server's JSON has ": " separators


def require_llama_cpp() -> None:
    """Fail (never skip) when the extra is missing: CI must really run these tests."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is not installed, so the realserver tests cannot run: "
                    "pip install -r requirements-llamacpp.txt (tests/run.sh does).",
                    pytrace=False)


@dataclass
class LlamaServer:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def complete(self, messages: list[dict], **options: object) -> dict:
        """One non-streamed chat completion (the server's own usage is in it)."""
        body = json.dumps({"model": ALIAS, "messages": messages, "temperature": 0,
                           **options}).encode()
        request = urllib.request.Request(f"{self.base_url}/chat/completions", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)


@contextmanager
def llama_server(*, interrupt_requests: bool) -> Iterator[LlamaServer]:
    """Start ``python -m llama_cpp.server`` on a free loopback port; stop it after."""
    require_llama_cpp()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(GGUF),
               "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", str(CONTEXT), "--n_threads", "1",
               "--interrupt_requests", str(interrupt_requests)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONPATH": REPO})
    server = LlamaServer(port, log)
    try:
        wait_until_serving(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.unlink(missing_ok=True)


def wait_until_serving(server: LlamaServer, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({process.returncode}):\n"
                        + server.log.read_text(errors="replace")[-3000:], pytrace=False)
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"llama_cpp.server did not answer within {START_TIMEOUT_S:g} s", pytrace=False)


def raw_ttft_ms(server: LlamaServer, prompt: str) -> float:
    """Milliseconds from sending a streamed request on an open socket to the first byte
    of non-empty content: the floor any client can reach on this machine."""
    body = json.dumps({"model": ALIAS, "messages": [{"role": "user", "content": prompt}],
                       "temperature": 0, "stream": True}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        received = b""
        started = time.perf_counter()
        sock.sendall(head + body)
        while True:
            data = sock.recv(65536)
            if not data:
                raise AssertionError(f"no content in the stream: {received[-500:]!r}")
            received += data
            if FIRST_CONTENT.search(received):
                return (time.perf_counter() - started) * 1000.0
