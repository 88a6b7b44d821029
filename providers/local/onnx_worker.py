"""The ``onnx`` provider's worker process: one model folder loaded with onnxruntime-genai
(:mod:`providers.local.onnx_model`), generating for any number of requests at once, one
thread each.

Why a process (the one telling of this; the README links here): onnxruntime-genai 0.18
holds Python's GIL inside ``generate_next_token``, ``set_inputs`` and the multimodal
processor, for a whole token (a whole prefill) at a time. Run in the app's process, even
in a thread, it froze the event loop, and with it every other target's timestamps and
every visitor's page, for as long as a prefill took: 650-700 ms on the benchmark model
(bench/onnx_decode.py), about 10 ms with the worker. Here only this process waits; the
app's reader thread for it (:mod:`providers.local.onnx_process`) blocks without the GIL.
The ``transformers`` runtime needs no process: torch releases the GIL in its kernels, so
in a thread (:mod:`providers.local.threaded`) the event loop keeps running (a 1 ms sleep
overran by at most 1-5 ms while it generated, as when idle). Both hand their text on in
batches, with the same throttle (:mod:`providers.local.pacing`, which says why).

Started by :mod:`providers.local.onnx_process` as ``python -P -m
providers.local.onnx_worker``, it imports the standard library, the ``providers.local``
modules named here and onnxruntime_genai (Pillow for images other than PNG and JPEG); the
``providers`` package it sits in imports no SDK (its registry is lazy).

Start-up: one JSON line on stdin (``authkey``, ``sys_path``, ``path``); the worker prints
the address of a ``multiprocessing.connection`` Listener after ``ADDRESS_TAG`` and accepts
the parent's authenticated connection. stdin stays open: its end (the parent closing the
worker, or dying in any way) ends the worker at once. The messages that follow are those
of :mod:`providers.local.worker_protocol`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection, Listener
from pathlib import Path

from providers.local import onnx_model
from providers.local import worker_protocol as wire
from providers.local.onnx_model import LoadedModel, Refused, Stopped
from providers.local.pacing import Pacer

ADDRESS_TAG = "onnx-worker-address "


class Outbox:
    """One request's replies to the parent. Text goes at once until the first visible
    text (the TTFT), then in batches (:mod:`providers.local.pacing`: why, how often);
    slower models send each token as it comes."""

    def __init__(self, conn: Connection, send_lock: threading.Lock, rid: int) -> None:
        self._conn, self._send_lock, self._rid = conn, send_lock, rid
        self._items: list[wire.Item] = []
        self._pacer = Pacer()

    def emit(self, item: wire.Item) -> None:
        self._items.append(item)
        if isinstance(item, wire.Text) and self._pacer.due():
            # Empty texts (the start of a UTF-8 character) do not start the wait.
            if any(isinstance(held, wire.Text) and held.text for held in self._items):
                self._pacer.went()
            self._send(None)

    def close(self, outcome: wire.Finished | wire.WorkerError) -> None:
        """The request's last reply, with what is still held."""
        self._send(outcome)

    def _send(self, outcome: wire.Finished | wire.WorkerError | None) -> None:
        message = wire.Reply(self._rid, self._items, outcome)
        self._items = []
        with self._send_lock:
            try:
                self._conn.send(message)
            except OSError:  # the parent is gone; the main thread ends this process
                pass


def serve_request(lm: LoadedModel, spec: wire.Generate, stop: threading.Event,
                  out: Outbox) -> None:
    """Run one request to its ``end`` or ``error`` message (nothing once cancelled)."""
    try:
        outcome = onnx_model.generate(lm, spec, stop, out.emit)
    except Stopped:
        return
    except Refused as exc:
        out.close(exc.error)
        return
    except Exception as exc:  # a bug or a runtime failure: say so, keep serving
        traceback.print_exc()
        out.close(wire.WorkerError("bad_response", f"The ONNX worker failed: "
                                                   f"{type(exc).__name__}: {exc}"))
        return
    if not stop.is_set():
        out.close(outcome)


def serve(conn: Connection, lm: LoadedModel) -> None:
    """Read the parent's messages until it goes; one thread per request."""
    send_lock = threading.Lock()
    stops: dict[int, threading.Event] = {}

    def run(spec: wire.Generate, stop: threading.Event) -> None:
        try:
            serve_request(lm, spec, stop, Outbox(conn, send_lock, spec.rid))
        finally:
            stops.pop(spec.rid, None)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if isinstance(message, wire.Generate):
            stop = stops[message.rid] = threading.Event()
            threading.Thread(target=run, args=(message, stop), name=f"request-{message.rid}",
                             daemon=True).start()
        elif isinstance(message, wire.Cancel) and (stop := stops.get(message.rid)) is not None:
            stop.set()


def exit_when_stdin_closes() -> None:
    """The parent keeps our stdin open while it wants us; at its end we go, with
    whatever is still generating (the parent no longer listens)."""
    sys.stdin.buffer.read()
    os._exit(0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the app; it closes us
    setup = json.loads(sys.stdin.buffer.readline())
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    sys.path[:] = setup["sys_path"]  # imports (a hook's) resolve as in the parent
    # Linux: an abstract socket, no file left behind even if we are killed. Elsewhere
    # multiprocessing's default (a named pipe on Windows).
    address = f"\0slm-onnx-{secrets.token_hex(8)}" if sys.platform.startswith("linux") else None
    with Listener(address, authkey=bytes.fromhex(setup["authkey"])) as listener:
        print(ADDRESS_TAG + json.dumps(address or listener.address), flush=True)
        conn = listener.accept()
    os.dup2(2, 1)  # from now on stray output (native libraries) goes to stderr
    started = time.perf_counter()
    try:
        lm = onnx_model.load_model(Path(setup["path"]))
    except Refused as exc:
        conn.send(wire.Failed(exc.error))
        return
    conn.send(wire.Ready((time.perf_counter() - started) * 1000.0))
    serve(conn, lm)


def run_as_script() -> None:
    """The process's whole life: :func:`main`, then exit without waiting for threads."""
    try:
        main()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)  # request threads may still be inside the runtime: do not wait for them


if __name__ == "__main__":
    run_as_script()
