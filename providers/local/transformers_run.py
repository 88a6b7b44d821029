"""A loaded Transformers model (:class:`HFModel`) and one generation on it: the chat
template over the whole conversation, ``model.generate`` with a streamer that counts
and decodes each new id, and a stop flag. Blocking: the ``transformers`` provider
(``providers.local.transformers``) runs it in a worker thread.

torch and transformers are imported only inside these functions (an optional extra).
"""

from __future__ import annotations

import io
import os
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.base import ChatRequest, Event, Finish, TextDelta, Usage
from providers.errors import NotFoundError, UnavailableError, UnsupportedInputError
from providers.local.local_rules import token_budget
from providers.local.threaded import ThreadSink

# torch's OpenMP threads spin while idle by default. Here generation runs in a worker
# thread next to the event loop, and the spinning threads starve whichever thread holds
# the GIL: measured 53 ms/token instead of 1.1 ms on the tiny fixture (2 cores). Passive
# waiting must be chosen before torch starts OpenMP, so it is set when this module loads
# (an explicit OMP_WAIT_POLICY is kept).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
