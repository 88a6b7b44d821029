"""Helpers for the arena tests: fake targets with names found nowhere else, and a battle
driven through the handlers directly."""

from __future__ import annotations

import asyncio
from typing import Any

from fake_services.server import FakeServer, Recorded, json_reply
from fake_services.services import KEYS, Behaviours, openai_chat
from playground.policy import Policy
from playground.store import Store
from playground.ui.arena_handlers import ArenaHandlers
from playground.ui.session import Sessions
from providers.settings import Settings

# Model ids that appear in no catalog, preset or fake listing: a hit is a leak.
OWL, LYNX, BROKEN = "nim:zoo/arena-owl-7b", "openai:arena-lynx-3b", "openai:arena-broken-1b"
SECRET_WORDS = ["arena-owl", "arena-lynx", "arena-broken", "zoo/"]


def failing_compat(behaviours: Behaviours) -> Any:
    """The OpenAI-compatible fake, except that model ``arena-broken-1b`` answers HTTP 500."""
    ok = openai_chat(behaviours, key=KEYS["OPENAI_COMPAT_API_KEY"])

    def respond(request: Recorded) -> Any:
        if request.json.get("model") == "arena-broken-1b":
            return json_reply(500, {"error": {"message": "arena-broken-1b crashed"}})
        return ok(request)
    return respond


def arena_env(server: FakeServer, fakes: dict[str, str], behaviours: Behaviours,
              pool: str = f"{OWL},{LYNX}", **extra: str) -> dict[str, str]:
    server.on("POST", "/compat/v1/chat/completions", failing_compat(behaviours))
    return {**fakes, "PLAYGROUND_ARENA_TARGETS": pool, **extra}


def arena_handlers(env: dict[str, str], db: str, policy: Policy | None = None) -> ArenaHandlers:
    settings = Settings.load(dotenv_path=None, environ=env)
    return ArenaHandlers(Sessions(settings, policy or Policy()), Store(db))


def request(name: str = "s1") -> Any:
    from types import SimpleNamespace
    return SimpleNamespace(session_hash=name, query_params={}, headers={}, client=None)


def battle_frames(handlers: ArenaHandlers, prompt: str = "Hello?", *, session: str = "s1",
                  class_text: str = "", category: str = "") -> list[list[Any]]:
    """Every frame of one battle (the last carries the recorded battle)."""
    async def go() -> list[list[Any]]:
        try:
            return [frame async for frame in handlers.battle(class_text, category, prompt,
                                                              {}, request(session))]
        finally:
            await handlers.sessions.close_pool()
    return asyncio.run(go())


def vote(handlers: ArenaHandlers, battle: Any, choice: str, session: str = "s1") -> list[Any]:
    return asyncio.run(handlers.vote(choice, battle, request(session)))


class Replica:
    """``python app.py`` in its own process on a free loopback port, with ``env`` (the
    fakes, the shared ``PLAYGROUND_DB``); a context manager that stops it."""

    def __init__(self, env: dict[str, str], workdir: Any) -> None:
        import os
        import sys

        from tests.conftest import REPO
        from tests.ui_support import free_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        self.env = {**base, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                    **env, "GRADIO_SERVER_PORT": str(self.port)}
        self.command = [sys.executable, os.path.join(REPO, "app.py")]
        self.workdir = workdir
        self.log = workdir / f"replica-{self.port}.log"

    def __enter__(self) -> Replica:
        import subprocess
        import time

        import httpx
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.workdir,
                                        stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120  # importing Gradio on a loaded 2-core machine
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"replica exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "config", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise AssertionError(f"replica did not start: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:
            self.process.kill()
            self.process.wait()
