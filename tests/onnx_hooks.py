"""Worker hooks for the ``onnx`` tests: :func:`use` makes the next workers start with one
applied (through bench/onnx_worker_hooks.py, which runs in the worker's place).

The hooks run inside the worker process, so this module imports only the standard
library and onnxruntime_genai at the top (never pytest, an SDK or the UI).
What they observe is written to a log file the test reads: perf_counter() is the
system-wide monotonic clock on Linux and macOS, so the test's timestamps and the
worker's compare.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any

import onnxruntime_genai as og

_LOG_LOCK = threading.Lock()
_PLAIN: dict[str, Any] = {}  # the app's own worker_command, kept when first replaced


def use(monkeypatch: Any, function: str | None, **kwargs: Any) -> None:
    """Workers started from now on (in this test) run ``function`` of this module first;
    None: plain workers again."""
    from bench import onnx_worker_hooks
    from providers.local import onnx_process

    plain = _PLAIN.setdefault("worker_command", onnx_process.worker_command)
    if function is None:
        monkeypatch.setattr(onnx_process, "worker_command", plain)
        return
    command = onnx_worker_hooks.command(onnx_process.WORKER_MODULE, f"{__name__}:{function}",
                                        **kwargs)
    monkeypatch.setattr(onnx_process, "worker_command", lambda: command)


def slow_tokens(worker: ModuleType, delay_s: float, log: str) -> None:
    """Every generated token takes ``delay_s`` more; log ``token THREAD START END`` per
    token and ``closed THREAD`` when a generator is released."""
    def write(line: str) -> None:
        with _LOG_LOCK, open(log, "a", encoding="utf-8") as file:
            file.write(line + "\n")

    class SlowGenerator(og.Generator):
        def generate_next_token(self) -> None:
            started = time.perf_counter()
            time.sleep(delay_s)
            super().generate_next_token()
            write(f"token {threading.get_ident()} {started!r} {time.perf_counter()!r}")

        def __del__(self) -> None:
            write(f"closed {threading.get_ident()}")
    og.Generator = SlowGenerator


def slow_load(worker: ModuleType, delay_s: float) -> None:
    """Loading the model takes ``delay_s`` more (a slow disk)."""
    load_model = worker.onnx_model.load_model

    def slow(path):  # type: ignore[no-untyped-def]
        time.sleep(delay_s)
        return load_model(path)
    worker.onnx_model.load_model = slow


def record_modules(worker: ModuleType, log: str) -> None:
    """Write the names of the modules the worker imported, once it has loaded its model."""
    load_model = worker.onnx_model.load_model

    def recording(path):  # type: ignore[no-untyped-def]
        model = load_model(path)
        import sys
        with open(log, "w", encoding="utf-8") as file:
            file.write("\n".join(sorted(name for name in sys.modules if "." not in name)))
        return model
    worker.onnx_model.load_model = recording

