"""ONNX Runtime GenAI in-process (``onnx:NAME``): Phi-3/3.5 CPU int4 models, text and vision.

NAME is a folder under ``ONNX_MODELS_DIR`` (or a path to a folder) holding
``genai_config.json``. Models load once per process into a shared cache (at most
``ONNX_MAX_LOADED``), in ``prepare()`` so load time never lands in TTFT; every request
generates in its own worker thread (:mod:`providers.threaded`) with its own generator.
Token counts are exact: prompt ids after the chat template (image tokens included) and
one count per generated id, minus the final stop id, which onnxruntime-genai returns but
does not append to the sequence (spike-onnx.md §3).
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

from providers import register
from providers.base import (ChatRequest, Event, Finish, ImageInput, ModelEntry, Notice,
                            Provider, TextDelta, Usage)
from providers.catalog import lookup
from providers.errors import (BadRequestError, BadResponseError, NotFoundError,
                              UnavailableError, UnsupportedInputError)
from providers.settings import EnvVar
from providers.threaded import (ModelCache, Stopped, ThreadSink, load_notice, max_loaded,
                                stream_from_thread, token_budget)

CONFIG_FILE = "genai_config.json"
PHI3V_IMAGE_TOKENS = 2600  # a phi3v image takes at most 2,509 tokens, plus its tag line
# Used only when a model folder ships no chat template ("Empty chat template").
PHI3_TEMPLATE = ("{% for m in messages %}{{'<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n'}}"
                 "{% endfor %}{% if add_generation_prompt %}{{'<|assistant|>\n'}}{% endif %}")
_CACHE: ModelCache[LoadedModel] = ModelCache()


@dataclass
class LoadedModel:
    """One loaded model folder, shared by every request on it."""

    name: str
    model: Any  # og.Model
    tokenizer: Any  # og.Tokenizer
    processor: Any | None  # og.MultiModalProcessor for vision models
    context_length: int
    eos_ids: frozenset[int]
    # Tokenizer and processor calls are serialised; generators run in parallel.
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_config(path: Path) -> dict[str, Any]:
    """The folder's genai_config.json; NotFoundError if it is not a model folder."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        config["model"]["type"]
    except FileNotFoundError:
        raise NotFoundError(f"{path} has no {CONFIG_FILE}, so it is not an onnxruntime-genai "
                            "model (an interrupted download?). Download it again with "
                            f"`python -m playground models download {path.name}`.",
                            provider="onnx") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UnavailableError(f"{path / CONFIG_FILE} is corrupt ({exc}).",
                               provider="onnx") from exc
    return config


def load_model(path: Path) -> LoadedModel:
    """Load model, tokenizer and (vision models) the multimodal processor; blocking."""
    import onnxruntime_genai as og

    config = read_config(path)
    try:
        og_config = og.Config(str(path))
        og_config.clear_providers()  # CPU: GPU variants' provider options would fail here
        model = og.Model(og_config)
        tokenizer = og.Tokenizer(model)
        processor = model.create_multimodal_processor() if is_vision(config) else None
        warm_up(og, model, tokenizer)
    except RuntimeError as exc:
        raise UnavailableError(f"Cannot load the ONNX model in {path}: {exc}. The folder may "
                               "be incomplete or corrupt; download it again.",
                               provider="onnx") from exc
    eos = config["model"].get("eos_token_id", [])
    return LoadedModel(path.name, model, tokenizer, processor,
                       int(config["model"].get("context_length", 4096)),
                       frozenset(eos if isinstance(eos, list) else [eos]))


def warm_up(og: Any, model: Any, tokenizer: Any) -> None:
    """One tiny prefill: the runtime's first run initialises kernels and buffers (0.3 s
    even on the tiny fixture), which belongs in load time, not in the first TTFT."""
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=2)
    generator = og.Generator(model, params)
    generator.append_tokens(tokenizer.encode("Hi")[:1])
    del generator


def is_vision(config: dict[str, Any]) -> bool:
    """Whether the model has an image encoder (Phi-3/3.5-vision: ``phi3v``)."""
    return "vision" in config["model"]


@register
class OnnxGenAIProvider(Provider):
    id = "onnx"
    title = "ONNX Runtime GenAI"
    local = True
    env = (
        EnvVar("ONNX_MODELS_DIR", "folder holding one sub-folder per ONNX model",
               default="./models"),
        EnvVar("ONNX_MAX_LOADED", "most ONNX models kept loaded at once", default="2"),
    )

    def __init__(self, settings) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings)
        self._prepared_loads: dict[str, float] = {}

    @property
    def models_dir(self) -> Path:
        return Path(self.setting("ONNX_MODELS_DIR") or "./models").expanduser()

    def max_loaded(self) -> int:
        return max_loaded(self.setting("ONNX_MAX_LOADED"), "ONNX_MAX_LOADED", self.id)

    def available(self) -> list[str]:
        """Names of the model folders in ONNX_MODELS_DIR."""
        if not self.models_dir.is_dir():
            return []
        return sorted(d.name for d in self.models_dir.iterdir() if (d / CONFIG_FILE).is_file())

    def resolve(self, name: str) -> Path:
        """The folder behind ``onnx:NAME``; NotFoundError listing what is available."""
        candidate = Path(name).expanduser()
        path = candidate if "/" in name or "\\" in name else self.models_dir / name
        if path.is_dir():
            return path.resolve()
        found = ", ".join(self.available()) or "none"
        how = (f"Download it with `python -m playground models download {name}`."
               if lookup(self.id, name) else
               "See `python -m playground models list` for models you can download.")
        raise NotFoundError(f"No ONNX model {name!r} in {self.models_dir} (ONNX_MODELS_DIR). "
                            f"Available: {found}. {how}", provider=self.id)

    async def prepare(self, model: str) -> None:
        path = self.resolve(model)
        read_config(path)
        _, load_ms = await asyncio.to_thread(
            _CACHE.load, str(path), partial(load_model, path), self.max_loaded())
        if load_ms is not None:
            self._prepared_loads[str(path)] = load_ms

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        path = self.resolve(request.model)
        if request.images and not is_vision(read_config(path)):
            raise UnsupportedInputError(f"onnx:{request.model} is a text-only model: remove the "
                                        "images or pick a vision model.", provider=self.id)
        details: dict[str, float] = {}
        if (load_ms := self._prepared_loads.pop(str(path), None)) is not None:
            details["load_ms"] = load_ms
            yield load_notice(path.name, load_ms, in_run=False)
        generate = partial(self._generate, path, request, details)
        async with aclosing(stream_from_thread(generate, name=f"onnx-{path.name}")) as events:
            async for event in events:
                yield event

    def _generate(self, path: Path, request: ChatRequest, details: dict[str, float],
                  sink: ThreadSink[Event]) -> None:
        with _CACHE.lease(str(path), partial(load_model, path), self.max_loaded()) as (lm, ms):
            if ms is not None:
                details["load_ms"] = ms
                sink.emit(load_notice(lm.name, ms, in_run=True))
            generate_tokens(lm, request, details, sink)

    async def list_models(self) -> list[ModelEntry]:
        entries = []
        for name in self.available():
            config = read_config(self.models_dir / name)
            phi = lookup(self.id, name)
            context = config["model"].get("context_length") or 4096
            # Outside the catalog: as many images as the context holds (phi3v turns any
            # image into at most 2,509 tokens, spike-onnx.md section 4).
            images = max(1, context // PHI3V_IMAGE_TOKENS) if is_vision(config) else 0
            entries.append(ModelEntry(
                id=name, family=phi.name if phi else None, vision=is_vision(config),
                max_images=phi.images_on(self.id) if phi else images,
                context_length=context, source="local"))
        return entries


def generate_tokens(lm: LoadedModel, request: ChatRequest, details: dict[str, float],
                    sink: ThreadSink[Event]) -> None:
    """The blocking generation loop: one TextDelta per generated id, then Usage, Finish."""
    import onnxruntime_genai as og

    generator, prompt_tokens = start_generator(og, lm, request, sink)
    try:
        stream, completion, reason = lm.tokenizer.create_stream(), 0, "length"
        while not generator.is_done() and not sink.stopped:
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            if token in lm.eos_ids and generator.is_done():
                reason = "stop"  # returned, not appended: not a completion token
                break
            completion += 1
            sink.emit(TextDelta(stream.decode(token), tokens=1))
    except RuntimeError as exc:
        raise BadResponseError(f"ONNX Runtime GenAI failed mid-generation: {exc}",
                               provider="onnx") from exc
    finally:
        del generator  # before the lease ends: the model must outlive its generators
    sink.emit(Usage(prompt_tokens, completion, "counted"))
    sink.emit(Finish(reason, lm.name, details))


def start_generator(og: Any, lm: LoadedModel, request: ChatRequest,
                    sink: ThreadSink[Event]) -> tuple[Any, int]:
    """Apply the chat template, tokenize (or run the image processor) and prefill."""
    with lm.lock:
        prompt = chat_prompt(lm, request)
        if request.images:
            images = og.Images.open_bytes(*(decodable(image) for image in request.images))
            inputs = lm.processor(prompt, images=images)
            prompt_tokens = int(inputs["input_ids"].as_numpy().shape[-1])
        else:
            ids = lm.tokenizer.encode(prompt)
            prompt_tokens = len(ids)
    if sink.stopped:  # stopped while loading or waiting for the lock: skip the prefill
        raise Stopped
    params = og.GeneratorParams(lm.model)
    options, note = search_options(request, prompt_tokens, lm)
    params.set_search_options(**options)
    if note:
        sink.emit(note)
    try:
        generator = og.Generator(lm.model, params)
        if request.images:
            generator.set_inputs(inputs)
        else:
            generator.append_tokens(ids)
    except RuntimeError as exc:
        raise BadRequestError(f"ONNX Runtime GenAI refused the prompt: {exc}",
                              provider="onnx") from exc
    return generator, prompt_tokens


def decodable(image: ImageInput) -> bytes:
    """PNG or JPEG bytes for the runtime's image decoder, which handles only those two
    and, given WEBP, GIF or BMP, aborts the whole process from inside libjpeg ("Not a
    JPEG file", measured with 0.18.0). Anything else is re-encoded to PNG first."""
    try:
        with Image.open(io.BytesIO(image.data)) as img:
            img.load()  # a corrupt file fails here, not in the native decoder
            if img.format in ("PNG", "JPEG"):
                return image.data
            buffer = io.BytesIO()
            img.convert("RGB").save(buffer, "PNG")
            return buffer.getvalue()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsupportedInputError(f"Image {image.name!r} cannot be decoded ({exc}).",
                                    provider="onnx") from exc


def chat_prompt(lm: LoadedModel, request: ChatRequest) -> str:
    """The model's chat template applied to system + user (``<|image_N|>`` tags first)."""
    messages = [{"role": "system", "content": request.system}] if request.system else []
    tags = "".join(f"<|image_{n}|>\n" for n in range(1, len(request.images) + 1))
    messages.append({"role": "user", "content": tags + request.prompt})
    try:
        return lm.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
    except RuntimeError as exc:
        if "Empty chat template" not in str(exc):
            raise
        return lm.tokenizer.apply_chat_template(json.dumps(messages), template_str=PHI3_TEMPLATE,
                                                add_generation_prompt=True)


def search_options(request: ChatRequest, prompt_tokens: int,
                   lm: LoadedModel) -> tuple[dict[str, Any], Notice | None]:
    """onnxruntime-genai search options (``max_length`` counts prompt + new tokens)."""
    new_tokens, note = token_budget(request.max_tokens, prompt_tokens, lm.context_length,
                                    lm.name, "onnx")
    options: dict[str, Any] = {"max_length": prompt_tokens + new_tokens}
    if request.temperature is not None:
        options["do_sample"] = request.temperature > 0
        if request.temperature > 0:
            options["temperature"] = float(request.temperature)
    if request.top_p is not None:
        options["top_p"] = float(request.top_p)
    if request.seed is not None:
        options["random_seed"] = int(request.seed)
    return options, note
