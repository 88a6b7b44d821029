"""Quick probes of the local servers readiness asks about: Ollama and an OpenAI-compatible
server (:mod:`providers.readiness` turns what they find into a state and a sentence).

A probe is one GET with :data:`PROBE_CONNECT_S` to connect and :data:`PROBE_TIMEOUT_S`
to answer, cached :data:`PROBE_TTL_S` per address, however many pickers ask. A server
that answered within :data:`BUSY_GRACE_S` and is now only slow to answer counts as busy,
not down: a loaded classroom server (or an app whose own threads are starved) must not
have its comparisons refused. httpx is imported on the first probe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

# Connecting is quick or refused on a machine that runs the server; answering can take a
# loaded server (or this app, with its threads starved by a classroom) a few seconds.
PROBE_CONNECT_S = 0.5  # seconds to connect
PROBE_TIMEOUT_S = 2.0  # seconds to answer, once connected
PROBE_TTL_S = 5.0  # one probe per address this often, however many pickers ask
BUSY_GRACE_S = 60.0  # an answer this recent makes a later slow probe "busy", not "down"


@dataclass(frozen=True)
class Probe:
    """What one probe of a server found."""

    up: bool
    detail: str = ""  # why it is down
    tags: tuple[str, ...] | None = None  # Ollama's model names, when it listed them
    slow: bool = False  # connected, but no answer within the probe's timeout

    def down_message(self, what: str, where: str) -> str:
        """"Ollama is not running at URL", or that it did not answer in time."""
        if self.detail.startswith("no answer"):
            return f"{what} at {where} gave {self.detail}"
        return f"{what} is not running at {where}"


_CACHE: dict[str, tuple[float, Probe]] = {}
_LAST_ANSWER: dict[str, tuple[float, Probe]] = {}  # url -> the last probe that got an answer
_CACHE_LOCK = threading.Lock()


def clear_probe_cache() -> None:
    """Forget every cached probe (tests; a user who just started a server)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _LAST_ANSWER.clear()


def cached(url: str, probe: Callable[[], Probe],
           clock: Callable[[], float] = time.monotonic) -> Probe:
    """``probe()``'s finding for ``url``, at most one per :data:`PROBE_TTL_S` seconds of
    ``clock``; a slow answer within :data:`BUSY_GRACE_S` of a real one keeps that one."""
    # The clock only ages the cache; no measurement is taken here.
    with _CACHE_LOCK:
        hit = _CACHE.get(url)
        if hit is not None and clock() - hit[0] < PROBE_TTL_S:
            return hit[1]
    result = probe()
    with _CACHE_LOCK:
        now = clock()
        if result.up:
            _LAST_ANSWER[url] = (now, result)
        elif result.slow and url in _LAST_ANSWER and now - _LAST_ANSWER[url][0] < BUSY_GRACE_S:
            result = _LAST_ANSWER[url][1]  # busy, not gone: keep what it last said
        _CACHE[url] = (now, result)
    return result


_CLIENT: httpx.Client | None = None


def _http() -> httpx.Client:
    # One client for every probe: a new one builds an SSL context each time (about 50 ms
    # of CPU, measured), which would stall a page's event loop for nothing.
    import httpx

    global _CLIENT
    with _CACHE_LOCK:
        if _CLIENT is None:
            _CLIENT = httpx.Client(timeout=httpx.Timeout(PROBE_TIMEOUT_S, connect=PROBE_CONNECT_S))
        return _CLIENT


def get(url: str, headers: dict[str, str] | None = None) -> tuple[Probe, httpx.Response | None]:
    """One GET of ``url`` (not cached): what it found, and the response if one came."""
    import httpx

    try:
        response = _http().get(url, headers=headers)
    except httpx.TimeoutException as exc:
        if isinstance(exc, httpx.ConnectTimeout):
            return Probe(False, f"no answer within {PROBE_CONNECT_S:g} s"), None
        return Probe(False, f"no answer within {PROBE_TIMEOUT_S:g} s", slow=True), None
    except (httpx.HTTPError, OSError) as exc:
        return Probe(False, type(exc).__name__), None
    return Probe(True), response


def ollama(host: str) -> Probe:
    """Ollama at ``host`` (cached): up or not, and its model tags when it lists them."""
    return cached(f"{host}/api/tags", lambda: _ollama_tags(host))


def _ollama_tags(host: str) -> Probe:
    probe, response = get(f"{host}/api/tags")
    if response is None or response.status_code != 200:
        return probe  # up but not listing (an old or unusual server): cannot tell tags
    try:
        tags = tuple(str(m.get("model") or m.get("name") or "")
                     for m in response.json().get("models") or [])
    except (ValueError, AttributeError):
        return probe
    return Probe(True, tags=tags)


def openai_server(base: str, key: str | None) -> Probe:
    """The OpenAI-compatible server at ``base`` (cached): its ``/models`` answers or not."""
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return cached(f"{base}/models", lambda: get(f"{base}/models", headers)[0])


def same_ollama_model(listed: str, wanted: str) -> bool:
    """Whether Ollama's tag ``listed`` is model ``wanted`` (``:latest`` is implied)."""
    return listed.lower().removesuffix(":latest") == wanted.lower().removesuffix(":latest")
