"""A loopback HTTP server for tests and benchmarks, speaking providers' exact bytes.

It runs aiohttp in its own thread and event loop, so its timing is independent of the
client under test. Each route maps to a *responder*: a function from the recorded
request to a :class:`Reply` (status, headers, body events, when to send each, and an
optional fault). Every request is recorded (path, query, headers, JSON body) together
with the ``time.perf_counter()`` instant each body event was handed to the socket,
which lets tests compare the engine's timestamps with the server's.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """What the server sends back.

    ``events`` are body parts written one by one; ``at`` gives each part's send time
    in seconds after the request arrived (missing entries: right after the previous
    one). Faults: ``headers_after`` delays the status line; ``stall_after`` stops
    sending after that many events (holding the connection ``stall_s``);
    ``reset_after`` aborts the TCP connection after that many events.
    """

    events: Sequence[bytes] = ()
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    at: Sequence[float] = ()
    headers_after: float = 0.0
    stall_after: int | None = None
    stall_s: float = 3600.0
    reset_after: int | None = None


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    received_at: float
    sent_at: list[float] = field(default_factory=list)  # perf_counter as each write began

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


Responder = Callable[[Recorded], Reply]


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    """A plain JSON (or text, if ``body`` is str/bytes) response."""
    data = body if isinstance(body, bytes) else (
        body.encode() if isinstance(body, str) else json.dumps(body).encode())
    return Reply([data], status=status, headers=headers or {})


def timed(n_events: int, *, lead: int = 1, first_s: float = 0.0,
          interval_s: float = 0.0, tail: int = 0) -> list[float]:
    """Send times: ``lead`` events at once, the first content event at ``first_s``,
    one more every ``interval_s``; ``tail`` closing events right after the last."""
    content = n_events - lead - tail
    times = [0.0] * lead + [first_s + i * interval_s for i in range(content)]
    last = times[-1] if times else 0.0
    return times + [last] * tail


def free_port() -> int:
    """A free loopback TCP port for a server started by a test or a benchmark."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeServer:
    """``with FakeServer() as server:`` serves on ``server.url`` until the block ends."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Responder] = {}
        self.requests: list[Recorded] = []
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, method: str, path: str, responder: Responder) -> None:
        """Serve ``method path`` (exact path, query ignored) with ``responder``."""
        self.routes[(method.upper(), path)] = responder

    def chat_requests(self) -> list[Recorded]:
        """What was sent to a model: the POSTs (pre-connects are HEADs, readiness probes
        GETs, and neither sends a prompt)."""
        return [r for r in self.requests if r.method == "POST"]

    def last(self, path: str | None = None) -> Recorded:
        """The latest request (to ``path`` if given)."""
        matching = [r for r in self.requests if path is None or r.path == path]
        assert matching, f"no request to {path or 'any path'}; got {[r.path for r in self.requests]}"
        return matching[-1]

    def __enter__(self) -> FakeServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_get("/_fake/requests", self._log)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        # Handlers still stalling on purpose (fault tests) end here, not at exit.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _log(self, request: web.Request) -> web.Response:
        """The request log with perf_counter() times (CLOCK_MONOTONIC: comparable across
        processes on Linux), for benchmarks that run the fakes in another process."""
        return web.json_response([
            {"path": r.path, "model": (r.json or {}).get("model") if r.method == "POST" else None,
             "received_at": r.received_at, "sent_at": r.sent_at} for r in self.requests])

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        received = time.perf_counter()
        recorded = Recorded(request.method, request.path, dict(request.query),
                            dict(request.headers), await request.read(), received)
        self.requests.append(recorded)
        responder = self.routes.get((request.method, request.path))
        if responder is None:
            return web.json_response({"error": f"no fake route {request.method} {request.path}"},
                                     status=404)
        reply = responder(recorded)
        if reply.headers_after:
            await asyncio.sleep(reply.headers_after)
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.content_type = reply.content_type
        response.enable_chunked_encoding()
        await response.prepare(request)
        return await self._send(request, response, reply, recorded)

    async def _send(self, request: web.Request, response: web.StreamResponse, reply: Reply,
                    recorded: Recorded) -> web.StreamResponse:
        for index, event in enumerate(reply.events):
            if index == reply.reset_after:
                request.transport.abort()  # type: ignore[union-attr]
                return response
            if index == reply.stall_after:
                await asyncio.sleep(reply.stall_s)
                return response
            if index < len(reply.at):
                wait = recorded.received_at + reply.at[index] - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
            # Stamped before the write: a stamp taken after it can lag the client's own
            # receipt when the machine is loaded (seen: engine TTFT 4 ms "before" the write).
            writing_at = time.perf_counter()
            try:
                await response.write(event)
            except ConnectionError:  # the client went away (stop, timeout): as real servers see it
                return response
            recorded.sent_at.append(writing_at)
        try:
            await response.write_eof()
        except ConnectionError:
            pass
        return response
