"""The ``onnx`` provider's worker process: one model folder loaded with onnxruntime-genai,
generating for any number of requests at once, one thread each.

Why a process (the one telling of this; the README links here): onnxruntime-genai 0.18
holds Python's GIL inside ``generate_next_token``, ``set_inputs`` and the multimodal
processor, for a whole token (a whole prefill) at a time. Run in the app's process, even
in a thread, it froze the event loop, and with it every other target's timestamps and
every visitor's page, for as long as a prefill took: 650-700 ms on the benchmark model
(bench/onnx_decode.py), about 10 ms with the worker. Here only this process waits; the
app's reader thread for it (:mod:`providers.local.onnx_process`) blocks without the GIL.
The ``transformers`` runtime needs no process: torch releases the GIL in its kernels, so
in a thread (:mod:`providers.local.threaded`) the event loop keeps running (a 1 ms sleep
overran by at most 1-5 ms while it generated, as when idle).

Three throttles (the one telling of them; (1) and (2) never stack, one per runtime): (1)
:class:`Outbox` here sends text over the pipe at most every ``MAX_LAG_S`` (20 ms) after the
first: waking the parent for every token cost the 1.45 ms/token benchmark model 3 % of its
speed on two cores at 5 ms, nothing measurable at 20 ms (bench/onnx_decode.py). (2)
:class:`~providers.local.threaded.ThreadSink` does the same for ``transformers`` in a thread
(5 ms): each hand-over waits for the event loop, and waking it for every token cost a fast
model 10-20 % of its speed. These two stay apart: one crosses a pipe without waiting, the
other hands over inside the process with back-pressure, each tuned on its own path. (3) The
page (:mod:`playground.ui.live`) repaints panes at most every 50 ms and the table every
250 ms: above about 20 updates a second the browser falls seconds behind. (1) and (2)
send the first text at once (TTFT is never delayed); (3) acts after the engine has taken
its timestamps, so it delays what a visitor sees, never what is measured.

Started by :mod:`providers.local.onnx_process` as ``python -P -m
providers.local.onnx_worker``, it imports the standard library,
:mod:`providers.local.worker_protocol` and onnxruntime_genai (Pillow for images other than
PNG and JPEG); the ``providers`` package it sits in imports no SDK (its registry is lazy).

Start-up: one JSON line on stdin (``authkey``, ``sys_path``, ``path``); the worker prints
the address of a ``multiprocessing.connection`` Listener after ``ADDRESS_TAG`` and accepts
the parent's authenticated connection. stdin stays open: its end (the parent closing the
worker, or dying in any way) ends the worker at once. The messages that follow are those
of :mod:`providers.local.worker_protocol`.

Token counts are exact: prompt ids after the chat template (image tokens included) and
one per generated id, minus the final stop id, which onnxruntime-genai returns but does
not append to the sequence (onnxruntime-genai 0.18.0's behaviour).
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from providers.local import worker_protocol as wire

ADDRESS_TAG = "onnx-worker-address "
MAX_LAG_S = 0.02  # seconds; the throttles: the module docstring
# Used only when a model folder ships no chat template ("Empty chat template").
PHI3_TEMPLATE = ("{% for m in messages %}{{'<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n'}}"
                 "{% endfor %}{% if add_generation_prompt %}{{'<|assistant|>\n'}}{% endif %}")


class Refused(Exception):
    """A failure the parent raises as the ProviderError of the same ``kind``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.error = wire.WorkerError(kind, message)


class Stopped(Exception):
    """The parent cancelled the request."""


@dataclass
class LoadedModel:
    """The model folder this worker serves."""

    name: str
    model: Any  # og.Model
    tokenizer: Any  # og.Tokenizer
    processor: Any | None  # og.MultiModalProcessor for vision models
    context_length: int
    eos_ids: frozenset[int]
    # Tokenizer and processor calls are serialised; generators run in parallel.
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_model(path: Path) -> LoadedModel:
    """Load model, tokenizer and (vision models) the multimodal processor; blocking."""
    import onnxruntime_genai as og

    try:
        config = json.loads((path / "genai_config.json").read_text(encoding="utf-8"))["model"]
        og_config = og.Config(str(path))
        og_config.clear_providers()  # CPU: GPU variants' provider options would fail here
        model = og.Model(og_config)
        tokenizer = og.Tokenizer(model)
        processor = model.create_multimodal_processor() if "vision" in config else None
        warm_up(og, model, tokenizer)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise Refused("unavailable", f"Cannot load the ONNX model in {path}: {exc}. The "
                      "folder may be incomplete or corrupt; download it again.") from exc
    eos = config.get("eos_token_id", [])
    return LoadedModel(path.name, model, tokenizer, processor,
                       int(config.get("context_length", 4096)),
                       frozenset(eos if isinstance(eos, list) else [eos]))


def warm_up(og: Any, model: Any, tokenizer: Any) -> None:
    """One tiny prefill: the runtime's first run initialises kernels and buffers (0.3 s
    even on the tiny fixture), which belongs in load time, not in the first TTFT."""
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=2)
    generator = og.Generator(model, params)
    generator.append_tokens(tokenizer.encode("Hi")[:1])
    del generator


def generate(lm: LoadedModel, spec: wire.Generate, stop: threading.Event,
             emit: Callable[[wire.Item], None]) -> wire.Finished:
    """The blocking generation loop: ``emit`` one item per generated id; returns the
    finish reason and the prompt and completion token counts."""
    import onnxruntime_genai as og

    generator, prompt_tokens = start_generator(og, lm, spec, stop, emit)
    try:
        stream, completion, reason = lm.tokenizer.create_stream(), 0, "length"
        while not generator.is_done():
            if stop.is_set():
                raise Stopped
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            if token in lm.eos_ids and generator.is_done():
                reason = "stop"  # returned, not appended: not a completion token
                break
            completion += 1
            emit(wire.Text(stream.decode(token)))
    except RuntimeError as exc:
        raise Refused("bad_response",
                      f"ONNX Runtime GenAI failed mid-generation: {exc}") from exc
    finally:
        del generator
    return wire.Finished(reason, prompt_tokens, completion)


def start_generator(og: Any, lm: LoadedModel, spec: wire.Generate, stop: threading.Event,
                    emit: Callable[[wire.Item], None]) -> tuple[Any, int]:
    """Apply the chat template, tokenize (or run the image processor) and prefill."""
    with lm.lock:
        prompt = chat_prompt(lm, spec.system, spec.prompt, len(spec.images))
        if spec.images:
            images = og.Images.open_bytes(*(decodable(*image) for image in spec.images))
            inputs = lm.processor(prompt, images=images)
            prompt_tokens = int(inputs["input_ids"].as_numpy().shape[-1])
        else:
            ids = lm.tokenizer.encode(prompt)
            prompt_tokens = len(ids)
    emit(wire.PromptSize(prompt_tokens, lm.context_length))
    room = lm.context_length - prompt_tokens
    if room < 1:  # the parent words this from the prompt item (local_rules.token_budget)
        raise Refused("bad_request", f"The prompt is {prompt_tokens} tokens; {lm.name}'s "
                      f"context is {lm.context_length} tokens.")
    if stop.is_set():  # cancelled while waiting for the lock: skip the prefill
        raise Stopped
    params = og.GeneratorParams(lm.model)
    params.set_search_options(**search_options(spec, prompt_tokens, room))
    try:
        generator = og.Generator(lm.model, params)
        if spec.images:
            generator.set_inputs(inputs)
        else:
            generator.append_tokens(ids)
    except RuntimeError as exc:
        raise Refused("bad_request", f"ONNX Runtime GenAI refused the prompt: {exc}") from exc
    return generator, prompt_tokens


def search_options(spec: wire.Generate, prompt_tokens: int, room: int) -> dict[str, Any]:
    """onnxruntime-genai search options (``max_length`` counts prompt + new tokens):
    ``max_tokens``, or all the room the context leaves, capped by that room."""
    new_tokens = min(spec.max_tokens or room, room)
    options: dict[str, Any] = {"max_length": prompt_tokens + new_tokens}
    if spec.temperature is not None:
        options["do_sample"] = spec.temperature > 0
        if spec.temperature > 0:
            options["temperature"] = float(spec.temperature)
    if spec.top_p is not None:
        options["top_p"] = float(spec.top_p)
    if spec.seed is not None:
        options["random_seed"] = int(spec.seed)
    return options


def decodable(data: bytes, name: str) -> bytes:
    """PNG or JPEG bytes for the runtime's image decoder, which handles only those two
    and, given WEBP, GIF or BMP, aborts the whole process from inside libjpeg ("Not a
    JPEG file", measured with 0.18.0). Anything else is re-encoded to PNG first."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # a corrupt file fails here, not in the native decoder
            if img.format in ("PNG", "JPEG"):
                return data
            buffer = io.BytesIO()
            img.convert("RGB").save(buffer, "PNG")
            return buffer.getvalue()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Refused("unsupported_input", f"Image {name!r} cannot be decoded ({exc}).") from exc


def chat_prompt(lm: LoadedModel, system: str | None, prompt: str, images: int) -> str:
    """The model's chat template applied to system + user (``<|image_N|>`` tags first)."""
    messages = [{"role": "system", "content": system}] if system else []
    tags = "".join(f"<|image_{n}|>\n" for n in range(1, images + 1))
    messages.append({"role": "user", "content": tags + prompt})
    try:
        return lm.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
    except RuntimeError as exc:
        if "Empty chat template" not in str(exc):
            raise
        return lm.tokenizer.apply_chat_template(json.dumps(messages), template_str=PHI3_TEMPLATE,
                                                add_generation_prompt=True)


class Outbox:
    """One request's replies to the parent. Text goes at once until the first visible
    text (the TTFT), then at most every ``MAX_LAG_S`` (why: the module docstring); slower
    models send each token as it comes."""

    def __init__(self, conn: Connection, send_lock: threading.Lock, rid: int) -> None:
        self._conn, self._send_lock, self._rid = conn, send_lock, rid
        self._items: list[wire.Item] = []
        self._sent_at = -math.inf  # when visible text last went

    def emit(self, item: wire.Item) -> None:
        self._items.append(item)
        if not isinstance(item, wire.Text):
            return
        now = time.perf_counter()
        if now - self._sent_at >= MAX_LAG_S:
            # Empty texts (the start of a UTF-8 character) do not start the clock.
            if any(isinstance(held, wire.Text) and held.text for held in self._items):
                self._sent_at = now
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
        outcome = generate(lm, spec, stop, out.emit)
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
        lm = load_model(Path(setup["path"]))
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
