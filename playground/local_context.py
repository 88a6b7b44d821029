"""The context window and the model's own tokenizer of a local target (``onnx``,
``transformers``), for :mod:`playground.context_fit`: the prompt counted exactly as the
runtime will build it, without loading the weights.

Blocking (reads files, builds tokenizers): call it from a worker thread. Tokenizers are
kept per folder, a few at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import providers
from providers import Target
from providers.base import ChatRequest
from providers.errors import UnavailableError
from providers.settings import Settings

Count = Callable[[ChatRequest], int]
PHI3V_IMAGE_TOKENS = 2509  # phi3v's HD grid of at most 16 tiles (onnxruntime-genai 0.18.0)
_KEPT = 4  # tokenizers kept (a Phi-3 tokenizer is a few MB)


@dataclass(frozen=True)
class LocalCounter:
    """A local model's window and a function counting a request's prompt tokens."""

    context_tokens: int
    counted_by: str
    count: Count
    image_note: str = ""  # how images are counted when not exactly (their maximum)


def counter_for(target: Target, settings: Settings) -> LocalCounter | None:
    """The counter for a local target; None for any other route. Raises ProviderError
    when the model cannot be found or read (the comparison would fail the same way)."""
    if target.provider == "onnx":
        return onnx_counter(target.model, settings)
    if target.provider == "transformers":
        return transformers_counter(target.model, settings)
    return None


def onnx_counter(model: str, settings: Settings) -> LocalCounter:
    """``genai_config.json``'s context and the folder's tokenizer over its chat template
    (the worker's own :func:`providers.local.chat_messages.render_prompt`); images at
    the phi3v maximum, :data:`PHI3V_IMAGE_TOKENS` each, on top of their tags."""
    from providers.local.chat_messages import render_prompt
    from providers.local.onnx import read_config

    provider = providers.create("onnx", settings)
    path = provider.resolve(model)  # type: ignore[attr-defined]
    config = read_config(path)
    # The worker's own default when the config names no context (onnx_model.load_model).
    context = int(config["model"].get("context_length", 4096))
    tokenizer = _onnx_tokenizer(str(path))

    def count(request: ChatRequest) -> int:
        generate = _worker_turns(request)
        prompt = render_prompt(tokenizer, request.system, generate)
        return len(tokenizer.encode(prompt)) + PHI3V_IMAGE_TOKENS * len(request.all_images())

    return LocalCounter(context, "counted by the model's tokenizer", count,
                        image_note=f"images at most {PHI3V_IMAGE_TOKENS:,} tokens each")


def _worker_turns(request: ChatRequest) -> tuple[tuple[str, str, int], ...]:
    from providers.local.onnx import generate_message

    return generate_message(request).turns()


@lru_cache(maxsize=_KEPT)
def _onnx_tokenizer(path: str) -> Any:
    """onnxruntime-genai's tokenizer built from the folder alone (no weights loaded)."""
    import onnxruntime_genai as og

    try:
        return og.Tokenizer(path)
    except RuntimeError as exc:
        raise UnavailableError(f"The tokenizer in {path} cannot be read ({exc}).",
                               provider="onnx") from exc


def transformers_counter(model: str, settings: Settings) -> LocalCounter:
    """``config.json``'s ``max_position_embeddings`` and the very inputs the provider
    builds (:func:`providers.local.transformers_run.model_inputs`), images included."""
    from providers.local.transformers import cached_snapshot
    from providers.local.transformers_run import model_inputs

    provider = providers.create("transformers", settings)
    provider.check_configured()
    _, load = provider.loader(model)  # type: ignore[attr-defined]
    source = load.args[0]  # a folder, or a Hub id whose files are in the local cache
    if not Path(source).is_dir():
        source = cached_snapshot(source) or source
    hf = _hf_tokenizer(source)
    return LocalCounter(hf.context_length, "counted by the model's tokenizer",
                        lambda request: int(model_inputs(hf, request)["input_ids"].shape[-1]))


@lru_cache(maxsize=_KEPT)
def _hf_tokenizer(source: str) -> Any:
    """The provider's HFModel without weights: tokenizer, processor and context."""
    import transformers as tf

    from providers.local.transformers_run import HFModel

    try:
        processor = tf.AutoProcessor.from_pretrained(source, local_files_only=True)
        config = json.loads((Path(source) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnavailableError(f"The tokenizer of {source} cannot be read ({exc}).",
                               provider="transformers") from exc
    vision = hasattr(processor, "image_processor")
    text_config = config.get("text_config") or config
    context = int(text_config.get("max_position_embeddings") or 4096)
    return HFModel(Path(source).name or source, None, processor.tokenizer if vision
                   else processor, processor if vision else None, context, frozenset())
