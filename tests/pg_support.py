"""A real, temporary PostgreSQL for the tests: Debian's ``postgresql`` package, one
cluster per test session on loopback, a fresh database per test.

``initdb`` makes a cluster in a temporary folder with trust authentication on loopback
only; ``pg_ctl`` starts it on a free port and stops it at the end, and the folder is
removed. PostgreSQL refuses to run as root, so as root both run as the package's
``postgres`` user (``runuser``). Without the package the tests that need it FAIL with a
message saying how to install it, unless ``PLAYGROUND_TEST_NO_POSTGRES`` says that
tests/run.sh tried and could not (then they are skipped, with that reason).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

WHERE = "/usr/lib/postgresql/*/bin"
START_WAIT_S = 60  # pg_ctl -w waits this long for the server to accept connections


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (with initdb and pg_ctl), or None."""
    found = [Path(d) for d in glob.glob(WHERE)
             if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()]
    return max(found, key=lambda d: int(d.parent.name), default=None) if found else None


def missing_postgres() -> None:
    """Fail (or skip, when run.sh could not install it) because PostgreSQL is absent."""
    reason = os.environ.get("PLAYGROUND_TEST_NO_POSTGRES")
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    pytest.fail(f"PostgreSQL is not installed (no initdb/pg_ctl under {WHERE}): "
                "install Debian's `postgresql` package (tests/run.sh does, as root).",
                pytrace=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    """A running temporary cluster; :meth:`new_database` gives each test its own."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin_dir = bin_dir
        self.durable = durable  # fsync on (a benchmark's fair figure); tests need no disk sync
        self.as_root = os.geteuid() == 0
        # As root the postgres user owns the cluster, in /tmp (which it can reach; a
        # TMPDIR under /root it could not).
        self.root = Path(tempfile.mkdtemp(prefix="playground-pg-",
                                          dir="/tmp" if self.as_root else None))
        self.data, self.log = self.root / "data", self.root / "server.log"
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = _free_port()
        self.databases = 0

    def _run(self, *command: str) -> None:
        argv = [str(self.bin_dir / command[0]), *command[1:]]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=START_WAIT_S + 30)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command[:2])} failed: {done.stderr.strip()}\n{log}")

    def start(self) -> Cluster:
        """initdb (trust on loopback, no other listener) and start on a free port."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.root} "
                   f"-c fsync={'on' if self.durable else 'off'}")
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", str(START_WAIT_S), "-o", options)
        return self

    def stop(self) -> None:
        """Stop the server (fast: rolls back what is open) and remove its folder."""
        try:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database; returns its ``postgresql://`` URL."""
        self.databases += 1
        name = f"test_{self.databases}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)
