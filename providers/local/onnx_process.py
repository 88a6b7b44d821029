"""The parent's side of an ``onnx`` worker process (:mod:`providers.local.onnx_worker`, whose
docstring says why the model runs in a process of its own).

:meth:`WorkerProcess.start` starts ``python -P -m providers.local.onnx_worker`` with
:mod:`subprocess`, not with multiprocessing's spawn: spawn re-runs the app's main module
in the child (``app.py`` builds the whole Gradio demo at import). Importing the
``providers`` package costs no SDK (the registry is lazy), so the worker is an ordinary
module; ``-P`` keeps the current folder off ``sys.path`` and ``PYTHONPATH`` names the
repository, so it imports the same code as the parent. The two then talk over an
authenticated ``multiprocessing.connection`` (framing, pickling) in the messages of
:mod:`providers.local.worker_protocol`, requests multiplexed by id: one daemon thread per
worker reads it and hands each reply to the event loop of the request it
belongs to (``call_soon_threadsafe``), so the event loop itself never waits on the worker.

A worker ends when its stdin closes: :meth:`WorkerProcess.close`, and the app's exit in
any way (even killed: the OS closes the pipe). :func:`shutdown_all` (atexit) also waits
for them. A worker that dies fails its requests with a clear error and tells the owner
(``on_exit``), so the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any

from providers.errors import BadResponseError, ProviderError, UnavailableError, error_class
from providers.local import onnx_worker
from providers.local import worker_protocol as wire

WORKER_MODULE = onnx_worker.__name__  # providers.local.onnx_worker
REPO_ROOT = Path(onnx_worker.__file__).resolve().parents[2]
_RUNNING: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()
_RUNNING_LOCK = threading.Lock()
_REQUEST_IDS = itertools.count(1)


def provider_error(error: wire.WorkerError) -> ProviderError:
    """The ProviderError a worker's error stands for."""
    return error_class(error.kind)(error.message, provider="onnx")


def worker_command() -> list[str]:
    """The command that starts a worker (tests start it through a hook of theirs)."""
    return [sys.executable, "-P", "-m", WORKER_MODULE]


def worker_environment() -> dict[str, str]:
    """The parent's environment with the repository first on ``PYTHONPATH`` (the worker
    is started by module name, from whatever the current folder is)."""
    paths = [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def how_it_ended(returncode: int | None) -> str:
    """A process's exit, in words: ``exit code 1``, ``killed by SIGKILL``."""
    if returncode is None:
        return "still running"
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    hint = " (for example when the system runs out of memory)" if name == "SIGKILL" else ""
    return f"killed by {name}{hint}"


class WorkerProcess:
    """One running worker: a model loaded in a child process."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], conn: Connection,
                 load_ms: float, on_exit: Callable[[WorkerProcess], None] | None) -> None:
        self.name = name
        self.process = process
        self.load_ms = load_ms  # in the worker: the model and its warm-up (ms)
        self.ended: str | None = None  # how the process ended, once it has
        self._conn = conn
        self._on_exit = on_exit
        self._closing = False
        self._lock = threading.Lock()  # guards _pending and ended
        self._send_lock = threading.Lock()
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[wire.Reply]]] = {}
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        threading.Thread(target=self._read, name=f"onnx-reader-{name}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        """False once the process has ended, even before the reader has noticed."""
        return self.ended is None and self.process.poll() is None

    @classmethod
    def start(cls, path: Path, on_exit: Callable[[WorkerProcess], None] | None = None
              ) -> WorkerProcess:
        """Start a worker for the model folder ``path`` and wait until it has loaded the
        model (blocking); raises the ProviderError the worker reports."""
        authkey = secrets.token_bytes(32)
        setup = {"authkey": authkey.hex(), "sys_path": sys.path, "path": str(path)}
        process = subprocess.Popen(worker_command(), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, env=worker_environment())
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(setup).encode() + b"\n")
            process.stdin.flush()
            conn = Client(read_address(process), authkey=authkey)
            process.stdout.close()
            reply = conn.recv()
        except (OSError, EOFError) as exc:
            raise UnavailableError(
                f"The ONNX worker process for {path.name} ended while starting "
                f"({how_it_ended(abandon(process))}); the app's log shows its errors.",
                provider="onnx") from exc
        except BaseException:
            abandon(process)
            raise
        if isinstance(reply, wire.Failed):
            abandon(process)
            raise provider_error(reply.error)
        return cls(path.name, process, conn, reply.load_ms, on_exit)

    async def run(self, spec: wire.Generate) -> AsyncIterator[wire.Reply]:
        """Send one request (its ``rid`` is set here); yield the worker's replies to it,
        the last one with an outcome (:class:`~providers.local.worker_protocol.Died`, made
        here, if the process ends first). Closing early cancels it."""
        rid = next(_REQUEST_IDS)
        queue: asyncio.Queue[wire.Reply] = asyncio.Queue()
        with self._lock:
            if self.ended is not None:
                raise self.died_error()
            self._pending[rid] = (asyncio.get_running_loop(), queue)
        finished = False
        try:
            message = dataclasses.replace(spec, rid=rid)
            if spec.images:  # megabytes: the pipe may take a moment to take them
                await asyncio.to_thread(self._send, message)
            else:
                self._send(message)
            while not finished:
                reply = await queue.get()
                finished = reply.last
                yield reply
        finally:
            with self._lock:
                self._pending.pop(rid, None)
            if not finished:
                self._cancel(rid)

    def died_error(self) -> BadResponseError:
        ended = self.ended or how_it_ended(self.process.poll())
        return BadResponseError(f"The ONNX worker process for {self.name} stopped ({ended}). "
                                "It is started again on the next request.", provider="onnx")

    def close(self) -> None:
        """Stop the worker (its requests end with an error) without waiting: the reader
        thread reaps it. :func:`shutdown_all` waits."""
        self._closing = True
        close_stdin(self.process)

    def _send(self, message: wire.Generate | wire.Cancel) -> None:
        try:
            with self._send_lock:
                self._conn.send(message)
        except OSError as exc:
            raise self.died_error() from exc

    def _cancel(self, rid: int) -> None:
        # From the event loop: never wait for the lock (another request may be sending
        # its images), hand the cancel to a thread then.
        message = wire.Cancel(rid)
        if self._send_lock.acquire(blocking=False):
            try:
                self._conn.send(message)
            except OSError:
                pass  # the worker is gone: nothing to cancel
            finally:
                self._send_lock.release()
        else:
            threading.Thread(target=self._send, args=(message,), daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                reply: wire.Reply = self._conn.recv()
                with self._lock:
                    target = self._pending.get(reply.rid)
                if target is not None and not post(target, reply):
                    with self._lock:  # its event loop is gone: stop generating for it
                        self._pending.pop(reply.rid, None)
                    self._cancel(reply.rid)
        except (EOFError, OSError):
            pass
        self._conn.close()
        code = abandon(self.process)  # reaps it (and ends it, had it only hung up)
        with self._lock:
            self.ended = "closed by the app" if self._closing else how_it_ended(code)
            pending, self._pending = list(self._pending.items()), {}
        for rid, target in pending:
            post(target, wire.Reply(rid, [], wire.Died()))
        if self._on_exit is not None:
            self._on_exit(self)


def post(target: tuple[asyncio.AbstractEventLoop, asyncio.Queue[wire.Reply]],
         message: wire.Reply) -> bool:
    """Hand ``message`` to a request waiting in its event loop (from the reader thread);
    False if that loop is closed: nobody waits for it any more."""
    loop, queue = target
    try:
        loop.call_soon_threadsafe(queue.put_nowait, message)
    except RuntimeError:
        return False
    return True


def read_address(process: subprocess.Popen[bytes]) -> Any:
    """The worker's listening address, from its stdout (EOFError if it died first)."""
    assert process.stdout is not None
    for line in process.stdout:
        text = line.decode(errors="replace")
        if text.startswith(onnx_worker.ADDRESS_TAG):
            return json.loads(text[len(onnx_worker.ADDRESS_TAG):])
        sys.stderr.write(text)  # something printed at interpreter start-up
    raise EOFError("the worker closed its stdout")


def close_stdin(process: subprocess.Popen[bytes]) -> None:
    """The worker's signal to exit."""
    try:
        assert process.stdin is not None
        process.stdin.close()
    except OSError:
        pass


def abandon(process: subprocess.Popen[bytes]) -> int:
    """Tell a worker process to exit and reap it (killed after 5 s); its exit code."""
    close_stdin(process)
    return stop_process(process)


def stop_process(process: subprocess.Popen[bytes], wait_s: float = 5.0) -> int:
    """Wait up to ``wait_s`` for ``process`` to exit (its stdin closed: it should at
    once), then kill it; returns its exit code."""
    try:
        return process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def running() -> list[WorkerProcess]:
    """The workers started by this process whose process is still running."""
    with _RUNNING_LOCK:
        workers = list(_RUNNING)
    return [worker for worker in workers if worker.process.poll() is None]


def shutdown_all(wait_s: float = 5.0) -> None:
    """Close every worker of this process and wait for them (the app's exit, tests)."""
    workers = running()
    for worker in workers:
        worker.close()
    deadline = time.monotonic() + wait_s
    for worker in workers:
        stop_process(worker.process, max(0.0, deadline - time.monotonic()))


atexit.register(shutdown_all)
