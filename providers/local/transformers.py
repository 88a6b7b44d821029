"""Hugging Face Transformers in-process (``transformers:PATH_OR_ID``), an optional extra.

torch and transformers are imported only when a model is used (``pip install -r
requirements-transformers.txt``; torch is large). PATH_OR_ID is a local model folder or
a Hub id already in the local Hugging Face cache (nothing is downloaded here). Models are
shared through the same cache and worker-thread bridge as the ``onnx`` provider;
``model.generate`` reports each new id to a streamer that counts it and decodes it with
the tokenizers library's stream decoder, and stops at the next token once the run is
stopped (the streamer raises, and a StoppingCriteria checks the stop flag too).
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from providers.base import ChatRequest, Event, Finish, Provider, TextDelta, Usage
from providers.errors import NotFoundError, UnavailableError, UnsupportedInputError
from providers.local.local_rules import load_notice, max_loaded, token_budget
from providers.local.threaded import ModelCache, ThreadSink, stream_from_thread
from providers.public import hub_id, local_refusal
from providers.spec import EnvVar, ProviderSpec

SPEC = ProviderSpec(
    "transformers", "Hugging Face Transformers", "TransformersProvider", local=True,
    status_note="optional extra, CPU torch",
    env=(EnvVar("TRANSFORMERS_MAX_LOADED", "most Transformers models kept loaded at once",
                default="1"),),
    # Not offered as a working route: it is an optional extra most installs lack.
    working=False,
    service="Hugging Face Transformers in-process (optional extra, CPU torch); exact "
            "token counts; images through the model's processor",
    sdk="`transformers` + `torch` (`pip install -r requirements-transformers.txt`)",
    needs="a local model folder (or a Hub id already in the Hugging Face cache)")

INSTALL = "pip install -r requirements-transformers.txt"
# torch's OpenMP threads spin while idle by default. Here generation runs in a worker
# thread next to the event loop, and the spinning threads starve whichever thread holds
# the GIL: measured 53 ms/token instead of 1.1 ms on the tiny fixture (2 cores). Passive
# waiting must be chosen before torch starts OpenMP, so it is set when this module loads
# (an explicit OMP_WAIT_POLICY is kept).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_CACHE: ModelCache[HFModel] = ModelCache()
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")  # transformers 4 / 5
_SEEDED = threading.Lock()  # torch's RNG is process-wide: one seeded sampling run at a time


@dataclass
class HFModel:
    """A loaded model with its tokenizer and, for vision models, its processor."""

    name: str
    model: Any
    tokenizer: Any
    processor: Any | None
    context_length: int
    eos_ids: frozenset[int]


def load_hf_model(source: str, local_only: bool) -> HFModel:
    """Load tokenizer, processor and model on the CPU (blocking)."""
    import transformers as tf

    kwargs = {"local_files_only": local_only}
    try:
        processor = tf.AutoProcessor.from_pretrained(source, **kwargs)
        vision = hasattr(processor, "image_processor")
        tokenizer = processor.tokenizer if vision else processor
        auto = tf.AutoModelForImageTextToText if vision else tf.AutoModelForCausalLM
        model = auto.from_pretrained(source, **kwargs).eval()
    except OSError as exc:
        raise NotFoundError(f"No Transformers model at {source!r}: {exc}",
                            provider="transformers") from exc
    except Exception as exc:  # corrupt weights or config: every library raises its own
        raise UnavailableError(f"Cannot load the Transformers model {source!r}: {exc}",
                               provider="transformers") from exc
    eos = model.generation_config.eos_token_id
    eos_ids = frozenset(eos if isinstance(eos, list) else [] if eos is None else [eos])
    text_config = getattr(model.config, "get_text_config", lambda: model.config)()
    context = getattr(text_config, "max_position_embeddings", None) or 4096
    return HFModel(Path(source).name or source, model, tokenizer,
                   processor if vision else None, int(context), eos_ids)


class TransformersProvider(Provider):
    id = "transformers"
    install_hint = INSTALL

    def __init__(self, settings) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings)
        self._prepared_loads: dict[str, float] = {}

    def missing_packages(self) -> list[str]:
        return [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]

    def max_loaded(self) -> int:
        return max_loaded(self.setting("TRANSFORMERS_MAX_LOADED"), "TRANSFORMERS_MAX_LOADED",
                          self.id)

    def loader(self, name: str) -> tuple[str, Any]:
        """Cache key and loader for ``transformers:NAME`` (a folder, else a cached Hub id)."""
        self.check_configured()
        if self.public:  # the cache's own folder: never a path relative to the server's cwd
            if (snapshot := cached_snapshot(name)) is None:
                raise NotFoundError(self.public_refusal(name) or "", provider=self.id)
            return name, partial(load_hf_model, snapshot, True)
        folder = Path(name).expanduser()
        if _quietly(folder.is_dir):
            if not _quietly((folder / "config.json").is_file):
                raise NotFoundError(f"{folder} has no config.json, so it is not a "
                                    "Transformers model folder.", provider=self.id)
            return str(folder.resolve()), partial(load_hf_model, str(folder.resolve()), True)
        if "/" in name and not name.startswith((".", "/", "~")) and name.count("/") == 1:
            return name, partial(load_hf_model, name, True)
        raise NotFoundError(f"No model folder {name!r} (transformers:PATH expects a local "
                            "folder with config.json, or a Hub id already in the Hugging "
                            "Face cache).", provider=self.id)

    def public_refusal(self, model: str) -> str | None:
        if not self.public or cached_snapshot(model) is not None:
            return None
        return local_refusal(self.title, "a Hub id in the server's Hugging Face cache")

    async def prepare(self, model: str) -> None:
        key, load = self.loader(model)
        _, load_ms = await asyncio.to_thread(_CACHE.load, key, load, self.max_loaded())
        if load_ms is not None:
            self._prepared_loads[key] = load_ms

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        key, load = self.loader(request.model)
        folder = Path(load.args[0])  # the folder loaded (a public server's: the cache's)
        if request.all_images() and _quietly(folder.is_dir) and not any(
                _quietly((folder / name).is_file) for name in PROCESSOR_FILES):
            raise no_images(request.model)
        details: dict[str, float] = {}
        if (load_ms := self._prepared_loads.pop(key, None)) is not None:
            details["load_ms"] = load_ms
            yield load_notice(Path(key).name or key, load_ms, in_run=False)
        produce = partial(self._generate, key, load, request, details)
        async with aclosing(stream_from_thread(produce, name="transformers")) as events:
            async for event in events:
                yield event

    def _generate(self, key: str, load: Any, request: ChatRequest, details: dict[str, float],
                  sink: ThreadSink[Event]) -> None:
        with _CACHE.lease(key, load, self.max_loaded()) as (hf, load_ms):
            if load_ms is not None:
                details["load_ms"] = load_ms
                sink.emit(load_notice(hf.name, load_ms, in_run=True))
            if request.all_images() and hf.processor is None:
                raise no_images(request.model)
            run_generate(hf, request, details, sink)


def cached_snapshot(name: str) -> str | None:
    """The Hugging Face cache's folder for Hub id ``name`` (OWNER/NAME, nothing else),
    or None when it is not a Hub id or not in the cache. Never downloads."""
    if not hub_id(name):
        return None
    from huggingface_hub import snapshot_download
    try:
        return snapshot_download(name, local_files_only=True)
    except Exception:  # not cached, or a name the Hub library refuses: both "not here"
        return None


def _quietly(test: Callable[[], bool]) -> bool:
    """A filesystem test (``path.is_dir``...), False when the path cannot be read
    (EACCES, ENAMETOOLONG, a symlink loop): that is the target's "not found"."""
    try:
        return test()
    except (OSError, RuntimeError):
        return False


def no_images(model: str) -> UnsupportedInputError:
    return UnsupportedInputError(f"transformers:{model} has no image processor: remove the "
                                 "images or pick a vision model.", provider="transformers")


def run_generate(hf: HFModel, request: ChatRequest, details: dict[str, float],
                 sink: ThreadSink[Event]) -> None:
    """Tokenize, then ``model.generate`` with a counting streamer (blocking)."""
    import torch
    import transformers as tf

    inputs = model_inputs(hf, request)
    prompt_tokens = int(inputs["input_ids"].shape[-1])
    new_tokens, note = token_budget(request.max_tokens, prompt_tokens, hf.context_length,
                                    hf.name, "transformers")
    if note:
        sink.emit(note)
    streamer = CountingStreamer(hf, sink)
    options = sampling_options(request)
    stop = tf.StoppingCriteriaList([StopFlag(sink)])
    seeded = _SEEDED if options.get("do_sample") and request.seed is not None else None
    with seeded or nullcontext():
        if seeded:
            torch.manual_seed(request.seed)
        with torch.inference_mode():
            hf.model.generate(**inputs, streamer=streamer, stopping_criteria=stop,
                              max_new_tokens=new_tokens, **options)
    reason = "stop" if streamer.stopped_by_eos else "length"
    sink.emit(Usage(prompt_tokens, streamer.completion_tokens, "counted"))
    sink.emit(Finish(reason, hf.name, details))


def model_inputs(hf: HFModel, request: ChatRequest) -> Any:
    """input_ids (+ pixel values) from the model's chat template over the whole
    conversation: system, every earlier turn, the new user turn; a vision model's
    images go in the turns that had them."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    if hf.processor is None:
        messages += [{"role": turn.role, "content": turn.text} for turn in request.turns()]
        return hf.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                return_dict=True, return_tensors="pt")
    from PIL import Image

    for turn in request.turns():
        content = [{"type": "image"} for _ in turn.images] + [{"type": "text",
                                                               "text": turn.text}]
        messages.append({"role": turn.role, "content": content})
    text = hf.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    try:
        images = [Image.open(io.BytesIO(i.data)).convert("RGB") for i in request.all_images()]
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedInputError(f"An image cannot be decoded ({exc}).",
                                    provider="transformers") from exc
    return hf.processor(text=text, images=images or None, return_tensors="pt")


def sampling_options(request: ChatRequest) -> dict[str, Any]:
    """generate() options; unset values keep the model's generation_config."""
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["do_sample"] = request.temperature > 0
        if request.temperature > 0:
            options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    return options


class CountingStreamer:
    """A transformers streamer (``put``/``end``): one TextDelta per generated id, text
    from ``tokenizers``' DecodeStream; the final stop id is not counted (as onnx)."""

    def __init__(self, hf: HFModel, sink: ThreadSink[Event]) -> None:
        from tokenizers.decoders import DecodeStream

        self.hf, self.sink = hf, sink
        self.backend = getattr(hf.tokenizer, "backend_tokenizer", None)
        self.decoder = DecodeStream(skip_special_tokens=True)
        self.ids: list[int] = []  # for tokenizers without a tokenizers backend
        self.text = ""
        self.prompt_seen = False
        self.completion_tokens = 0
        self.stopped_by_eos = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first hands over the prompt ids
            self.prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            if token in self.hf.eos_ids:
                self.stopped_by_eos = True
                continue
            self.completion_tokens += 1
            self.sink.emit(TextDelta(self.decode(token), tokens=1))

    def decode(self, token: int) -> str:
        if self.backend is not None:
            return self.decoder.step(self.backend, token) or ""
        self.ids.append(token)
        text = self.hf.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # an incomplete UTF-8 character: wait for its rest
            return ""
        new, self.text = text[len(self.text):], text
        return new

    def end(self) -> None:
        pass


class StopFlag:
    """A StoppingCriteria: true once the run was stopped (backs up the streamer's raise)."""

    def __init__(self, sink: ThreadSink[Event]) -> None:
        self.sink = sink

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.sink.stopped, dtype=torch.bool)
