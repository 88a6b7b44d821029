"""One ONNX model folder in the ``onnx`` worker process: loaded with onnxruntime-genai,
prompted through its chat template, generating one request per call (blocking; the
worker, :mod:`providers.local.onnx_worker`, runs each request in a thread of its own and
says why the runtime lives in a process).

Imports only the standard library and :mod:`providers.local.worker_protocol` at the top;
onnxruntime_genai (and Pillow, for images other than PNG and JPEG) when used.

Token counts are exact: prompt ids after the chat template (image tokens included) and
one per generated id, minus the final stop id, which onnxruntime-genai returns but does
not append to the sequence (onnxruntime-genai 0.18.0's behaviour).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from providers.local import worker_protocol as wire
from providers.local.chat_messages import render_prompt


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
    """Apply the chat template over the conversation, tokenize (or run the image
    processor on every image of it) and prefill."""
    with lm.lock:
        prompt = chat_prompt(lm, spec)
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


def chat_prompt(lm: LoadedModel, spec: wire.Generate) -> str:
    """The model's chat template over the whole conversation: system, every earlier
    turn, the new user turn (``<|image_N|>`` tags first in the turns that had images)."""
    return render_prompt(lm.tokenizer, spec.system, spec.turns())
