"""Limits a client cannot choose its way around: who the client is (its network
address, not the session id it sends), how many runs one address may hold at once, and
a server-wide budget of requests made on the server's own keys.

A Gradio ``session_hash`` is the client's choice (one client can send 30 of them), so
per-session caps alone do not stop one client from filling the server. The address is
the socket peer, or, behind a trusted reverse proxy (a Hugging Face Space), the address
that proxy saw and appended to ``X-Forwarded-For``.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager

import providers
from playground.validate import InputError
from providers.errors import RateLimitError
from providers.settings import Settings

ANY_PROXY = "*"  # trust the socket peer as a proxy, whatever its address (one hop)
UNKNOWN_CLIENT = "unknown"


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def parse_proxies(text: str) -> tuple[str, ...]:
    """``PLAYGROUND_TRUSTED_PROXIES``: comma-separated addresses or CIDR networks, or
    ``*``; raises ValueError naming what is not one."""
    items = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in items if p != ANY_PROXY and _network(p) is None]
    if bad:
        raise ValueError(f"PLAYGROUND_TRUSTED_PROXIES: not an address or network: "
                         f"{', '.join(bad)}")
    return items


def _trusted(address: str, proxies: Iterable[str], *, first_hop: bool) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for proxy in proxies:
        if proxy == ANY_PROXY:
            if first_hop:
                return True
            continue
        net = _network(proxy)
        if net is not None and ip.version == net.version and ip in net:
            return True
    return False


def client_address(request: object | None, proxies: Iterable[str] = ()) -> str:
    """The address of the client behind ``request`` (a ``gr.Request``), as far as the
    server can trust it.

    Walk ``X-Forwarded-For`` from the right (the entries each trusted proxy appended)
    while the hop that handed us the request is a trusted proxy; the first untrusted
    hop is the client. Entries to its left are the client's own words and never used.
    ``*`` trusts the socket peer as one proxy hop (a Space: the platform's proxy).
    """
    proxies = tuple(proxies)
    client = getattr(request, "client", None) if request is not None else None
    address = str(getattr(client, "host", "") or "") or UNKNOWN_CLIENT
    headers = {str(k).lower(): str(v) for k, v in
               dict(getattr(request, "headers", None) or {}).items()}
    hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
    first = True
    while hops and proxies and _trusted(address, proxies, first_hop=first):
        address, first = hops.pop(), False
    return address[:64]  # bounded: a key in a dict, shown nowhere


def hold_all(*slots: AbstractContextManager[object]) -> ExitStack:
    """Enter each slot in turn and hold them all (close the stack to free them); when
    one is taken its InputError propagates with nothing held."""
    held = ExitStack()
    try:
        for slot in slots:
            held.enter_context(slot)
    except InputError:
        held.close()
        raise
    return held


class SlotLimiter:
    """Caps how many runs one key (a session, an address) holds at once; thread- and
    task-safe. ``limit`` None means no cap."""

    def __init__(self, limit: int | None, refusal: str) -> None:
        self.limit = limit
        self.refusal = refusal  # formatted with {limit}
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """Hold one slot for ``key``; InputError when all are taken."""
        with self._lock:
            if self.limit is not None and self._running.get(key, 0) >= self.limit:
                raise InputError([self.refusal.format(limit=self.limit)])
            self._running[key] = self._running.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]

    def held(self) -> int:
        """Slots held now, across keys."""
        with self._lock:
            return sum(self._running.values())


class ServerKeyBudget:
    """Requests the server may make on its own keys, per minute and per day (sliding
    windows), across every session of this process. A request on a visitor's own key
    is never counted. ``None`` means no cap for that window.

    Reads ``time.monotonic`` for the windows only: this is admission, not measurement
    (measurements are the engine's, with ``perf_counter``).
    """

    WINDOWS_S = {"minute": 60.0, "day": 86_400.0}

    def __init__(self, server: Settings, per_minute: int | None,
                 per_day: int | None) -> None:
        self._server = server
        self._caps = {"minute": per_minute, "day": per_day}
        self._sent: dict[str, deque[float]] = {w: deque() for w in self.WINDOWS_S}
        self._lock = threading.Lock()

    def on_server_key(self, provider_id: str, settings: Settings) -> bool:
        """True when ``settings`` would send the server's own key to ``provider_id``."""
        names = [v.name for v in providers.PROVIDERS[provider_id].env if v.secret]
        return any(settings.get(n) and settings.get(n) == self._server.get(n) for n in names)

    def charge(self, provider_id: str, settings: Settings) -> None:
        """Count one upstream request, or raise RateLimitError (with when to retry)
        when a window is spent. Requests on a visitor's key pass uncounted."""
        if not self.on_server_key(provider_id, settings):
            return
        with self._lock:
            now = time.monotonic()
            for window, span in self.WINDOWS_S.items():
                sent, cap = self._sent[window], self._caps[window]
                while sent and sent[0] <= now - span:
                    sent.popleft()
                if cap is not None and len(sent) >= cap:
                    wait = math.ceil(sent[0] + span - now) if sent else math.ceil(span)
                    raise RateLimitError(
                        f"This server's shared keys have used their budget ({cap} "
                        f"requests per {window}); try again in about {_duration(wait)}, "
                        "or add your own key in the Settings tab.", provider=provider_id)
            for window in self.WINDOWS_S:
                if self._caps[window] is not None:
                    self._sent[window].append(now)

    def used(self) -> Mapping[str, int]:
        """Requests counted in each window now (tests, status)."""
        with self._lock:
            return {w: len(s) for w, s in self._sent.items()}


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{max(1, seconds)} s"
    if seconds < 7_200:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 3_600)} h"
