"""The floor for ``bench.engine_fanout``: the same six requests, dispatched the same way in
one asyncio event loop, read by a bare reader (``asyncio`` streams, no SDK, no engine).

Each target gets one kept-alive connection, opened before its clock starts (as the
engine's pre-connect does). The clock runs from writing the request bytes to the first
read that holds the first answer piece; the body is then read to the end of the chunked
response. It compares bytes only: a floor to measure against, not a client.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse

# provider -> (the env variable with its base URL, path, the env variable with its key)
ROUTES = {"nim": ("NIM_BASE_URL", "/chat/completions", "NVIDIA_API_KEY"),
          "azure": ("AZURE_AI_ENDPOINT", "/chat/completions", "AZURE_AI_API_KEY"),
          "openai": ("OPENAI_COMPAT_BASE_URL", "/chat/completions", "OPENAI_COMPAT_API_KEY"),
          "ollama": ("OLLAMA_HOST", "/api/chat", None)}
LAST_CHUNK = b"0\r\n\r\n"  # the end of a chunked HTTP/1.1 body


class RawTarget:
    """One target's bare reader; ``first_piece`` is the bytes of its first answer piece."""

    def __init__(self, env: dict[str, str], target: str, first_piece: bytes) -> None:
        provider, model = target.split(":", 1)
        base_var, path, key_var = ROUTES[provider]
        url = urllib.parse.urlsplit(env[base_var] + path)
        self.host, self.port, self.first_piece = url.hostname or "", url.port, first_piece
        body = json.dumps({"model": model, "stream": True,
                           "messages": [{"role": "user", "content": "benchmark"}]}).encode()
        head = (f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
        if key_var:
            head += f"Authorization: Bearer {env[key_var]}\r\n"
        self.request = head.encode() + b"\r\n" + body
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def first_piece_ms(self) -> tuple[float, float]:
        """(dispatch instant from perf_counter() in s, time to the first piece in ms)."""
        assert self.reader is not None and self.writer is not None, "connect() first"
        started, first = time.perf_counter(), None
        self.writer.write(self.request)
        tail = b""
        while not tail.endswith(LAST_CHUNK):
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("the fake closed the connection")
            if first is None and self.first_piece in data:
                first = time.perf_counter()
            tail = (tail + data)[-len(LAST_CHUNK):]
        assert first is not None, "no answer piece in the stream"
        return started, (first - started) * 1000


async def raw_round(raws: list[RawTarget], turns: int = 16) -> list[tuple[float, float]]:
    """All targets at once, ``turns`` loop turns apart; (dispatch s, TTFT ms) each."""
    tasks = []
    for raw in raws:
        tasks.append(asyncio.create_task(raw.first_piece_ms()))
        for _ in range(turns):
            await asyncio.sleep(0)
    return list(await asyncio.gather(*tasks))


async def close(raws: list[RawTarget]) -> None:
    for raw in raws:
        if raw.writer is not None:
            raw.writer.close()
            await raw.writer.wait_closed()
