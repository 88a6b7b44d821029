"""Shared fixtures: no network beyond loopback, clean provider settings, fake servers."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator

import pytest

from fake_services.server import FakeServer
from fake_services.services import Behaviours, wire_all
from providers.registry import SPECS
from providers.settings import Settings

_real_connect = socket.socket.connect
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
        raise ConnectionRefusedError(f"tests must not touch the network (tried {address!r})")
    return _real_connect(self, address)


_real_getaddrinfo = socket.getaddrinfo


def _resolve_loopback_only(host: object, *args: object, **kwargs: object) -> object:
    if host not in LOOPBACK and host is not None:
        raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known ({host}; "
                              "tests resolve no names)")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse any connection or name lookup that is not loopback."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_loopback_only)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Remove every provider variable from the environment and leave no .env in sight."""
    for spec in SPECS.values():
        for var in spec.env:
            monkeypatch.delenv(var.name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@pytest.fixture
def behaviours() -> Behaviours:
    return Behaviours()


@pytest.fixture
def fakes(server: FakeServer, behaviours: Behaviours) -> dict[str, str]:
    """Every provider wired to one fake server; returns the env that points at it."""
    return wire_all(server, behaviours)


@pytest.fixture
def settings(fakes: dict[str, str]) -> Settings:
    return Settings.load(dotenv_path=None, environ=fakes)


def run(coro):
    """Run a coroutine in a fresh event loop (tests stay plain functions)."""
    return asyncio.run(coro)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def fresh_readiness_probes() -> Iterator[None]:
    """Each test probes its own servers: no cached answer from an earlier test's port."""
    from providers.readiness import clear_probe_cache

    clear_probe_cache()
    yield
    clear_probe_cache()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[object]:
    """One temporary PostgreSQL cluster for the whole session (tests/pg_support.py)."""
    from tests.pg_support import Cluster, missing_postgres, postgres_bin

    bin_dir = postgres_bin()
    if bin_dir is None:
        missing_postgres()
    cluster = Cluster(bin_dir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_db(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty store database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("postgres_cluster").new_database()
