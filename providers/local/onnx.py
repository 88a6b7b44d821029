"""ONNX Runtime GenAI (``onnx:NAME``): Phi-3/3.5 CPU int4 models, text and vision, each
loaded in a worker process of its own.

NAME is a folder under ``ONNX_MODELS_DIR`` (or a path to a folder) holding
``genai_config.json``. Each loaded model lives in a worker process
(:mod:`providers.local.onnx_worker`, whose docstring says why; driven by
:mod:`providers.local.onnx_process`) that serves every session of the app: at most
``ONNX_MAX_LOADED`` of them, least recently used first out, never one with a generation in
flight. Models load in ``prepare()``, so load time (the process's start-up included)
never lands in TTFT. A worker that dies fails its requests with a clear error and is
started again by the next request. ``aclose()`` leaves the workers running: other
sessions share them; they stop with the app (or :func:`shutdown`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from functools import partial
from pathlib import Path
from typing import Any

from providers.base import ChatRequest, Event, Finish, ModelEntry, Provider, TextDelta, Usage
from providers.catalog import lookup
from providers.errors import NotFoundError, UnavailableError, UnsupportedInputError
from providers.local import worker_protocol as wire
from providers.local.local_rules import load_notice, max_loaded, token_budget
from providers.local.onnx_process import WorkerProcess, provider_error, shutdown_all
from providers.local.threaded import ModelCache
from providers.public import local_refusal, plain_name
from providers.spec import EnvVar, ProviderSpec

SPEC = ProviderSpec(
    "onnx", "ONNX Runtime GenAI", "OnnxGenAIProvider", local=True,
    env=(EnvVar("ONNX_MODELS_DIR", "folder holding one sub-folder per ONNX model",
                default="./models"),
         EnvVar("ONNX_MAX_LOADED", "most ONNX models kept loaded at once", default="2")),
    route_hint="local ONNX Runtime GenAI",
    service="ONNX Runtime GenAI in-process: Phi-3/3.5 CPU int4, text and vision; exact "
            "token counts from ids",
    sdk="`onnxruntime-genai`",
    needs="a model folder (`python -m playground models download NAME`)")

CONFIG_FILE = "genai_config.json"
PHI3V_IMAGE_TOKENS = 2600  # a phi3v image takes at most 2,509 tokens, plus its tag line
_CACHE: ModelCache[WorkerProcess] = ModelCache(on_evict=WorkerProcess.close)


def read_config(path: Path) -> dict[str, Any]:
    """The folder's genai_config.json; NotFoundError if it is not a model folder."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
        config["model"]["type"]
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"{path} has no {CONFIG_FILE}, so it is not an onnxruntime-genai "
                            "model (an interrupted download?). Download it again with "
                            f"`python -m playground models download {path.name}`.",
                            provider="onnx") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UnavailableError(f"{path / CONFIG_FILE} is corrupt ({exc}).",
                               provider="onnx") from exc
    except OSError as exc:  # unreadable: the target's error, not the comparison's
        raise UnavailableError(f"{path / CONFIG_FILE} cannot be read "
                               f"({exc.strerror or type(exc).__name__}).",
                               provider="onnx") from exc
    return config


def is_vision(config: dict[str, Any]) -> bool:
    """Whether the model has an image encoder (Phi-3/3.5-vision: ``phi3v``)."""
    return "vision" in config["model"]


def start_worker(path: Path) -> WorkerProcess:
    """A worker process with ``path`` loaded (blocking); one that dies leaves the cache."""
    return WorkerProcess.start(path, on_exit=partial(_CACHE.discard, str(path)))


def shutdown() -> None:
    """Stop every worker process and wait for them (the app's exit does this too)."""
    _CACHE.close()
    shutdown_all()


class OnnxGenAIProvider(Provider):
    id = "onnx"

    def __init__(self, settings) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings)
        # Loads done by prepare(): total ms and the worker's own model load ms.
        self._prepared_loads: dict[str, tuple[float, float]] = {}

    @property
    def models_dir(self) -> Path:
        return Path(self.setting("ONNX_MODELS_DIR") or "./models").expanduser()

    def max_loaded(self) -> int:
        return max_loaded(self.setting("ONNX_MAX_LOADED"), "ONNX_MAX_LOADED", self.id)

    def available(self) -> list[str]:
        """Names of the model folders in ONNX_MODELS_DIR (none if it cannot be read)."""
        try:
            if not self.models_dir.is_dir():
                return []
            return sorted(d.name for d in self.models_dir.iterdir()
                          if (d / CONFIG_FILE).is_file())
        except OSError:
            return []

    def public_refusal(self, model: str) -> str | None:
        if not self.public or (plain_name(model) and model in self.available()):
            return None
        return local_refusal(self.title, "a folder in its ONNX_MODELS_DIR")

    def resolve(self, name: str) -> Path:
        """The folder behind ``onnx:NAME``; NotFoundError listing what is available (a
        name alone on a public server; a path that cannot be read is not found)."""
        if why := self.public_refusal(name):
            raise NotFoundError(why, provider=self.id)
        candidate = Path(name).expanduser()
        path = candidate if "/" in name or "\\" in name else self.models_dir / name
        try:
            if path.is_dir():
                return path.resolve()
        except (OSError, RuntimeError):  # EACCES, ENAMETOOLONG, a symlink loop...
            pass
        found = ", ".join(self.available()) or "none"
        how = (f"Download it with `python -m playground models download {name}`."
               if lookup(self.id, name) else
               "See `python -m playground models list` for models you can download.")
        raise NotFoundError(f"No ONNX model {name!r} in {self.models_dir} (ONNX_MODELS_DIR). "
                            f"Available: {found}. {how}", provider=self.id)

    async def prepare(self, model: str) -> None:
        path = self.resolve(model)
        read_config(path)
        worker, load_ms = await asyncio.to_thread(
            _CACHE.load, str(path), partial(start_worker, path), self.max_loaded())
        if load_ms is not None:
            self._prepared_loads[str(path)] = (load_ms, worker.load_ms)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        path = self.resolve(request.model)
        if request.all_images() and not is_vision(read_config(path)):
            raise UnsupportedInputError(f"onnx:{request.model} is a text-only model: remove the "
                                        "images or pick a vision model.", provider=self.id)
        details: dict[str, float] = {}
        if (prepared := self._prepared_loads.pop(str(path), None)) is not None:
            yield loaded(path.name, *prepared, details, in_run=False)
        worker, load_ms = await self._lease(path)
        try:
            if load_ms is not None:
                yield loaded(path.name, load_ms, worker.load_ms, details, in_run=True)
            async with aclosing(worker.run(generate_message(request))) as replies:
                async for reply in replies:
                    for event in self._events(reply, request, worker, details):
                        yield event
        finally:
            _CACHE.release(str(path), worker, self.max_loaded())

    async def _lease(self, path: Path) -> tuple[WorkerProcess, float | None]:
        """A lease on ``path``'s worker, started if needed (in a thread: it takes the
        model's load time). Returns it and the load time in ms if this call loaded it."""
        key, load_ms = str(path), None
        for _ in range(2):  # a worker found dead is replaced once
            worker = _CACHE.acquire_loaded(key)
            if worker is None:
                acquiring = asyncio.ensure_future(asyncio.to_thread(
                    _CACHE.acquire, key, partial(start_worker, path), self.max_loaded()))
                try:
                    worker, load_ms = await asyncio.shield(acquiring)
                except asyncio.CancelledError:  # stopped while loading: drop the lease
                    acquiring.add_done_callback(partial(self._release_later, key))
                    raise
            if worker.alive:
                break
            _CACHE.release(key, worker, self.max_loaded())
            _CACHE.discard(key, worker)
        return worker, load_ms

    def _release_later(self, key: str, acquiring: asyncio.Future[Any]) -> None:
        if not acquiring.cancelled() and acquiring.exception() is None:
            _CACHE.release(key, acquiring.result()[0], self.max_loaded())

    def _events(self, reply: wire.Reply, request: ChatRequest, worker: WorkerProcess,
                details: dict[str, float]) -> Iterator[Event]:
        """The events one worker reply stands for (see providers.local.worker_protocol)."""
        for item in reply.items:
            if isinstance(item, wire.Text):
                yield TextDelta(item.text, tokens=1)
            else:  # BadRequestError if the prompt fills the context
                _, note = token_budget(request.max_tokens, item.prompt_tokens,
                                       item.context_length, worker.name, self.id)
                if note:
                    yield note
        outcome = reply.outcome
        if isinstance(outcome, wire.Finished):
            yield Usage(outcome.prompt_tokens, outcome.completion_tokens, "counted")
            yield Finish(outcome.reason, worker.name, details)
        elif isinstance(outcome, wire.WorkerError):
            raise provider_error(outcome)
        elif isinstance(outcome, wire.Died):
            raise worker.died_error()

    async def list_models(self) -> list[ModelEntry]:
        entries = []
        for name in self.available():
            config = read_config(self.models_dir / name)
            phi = lookup(self.id, name)
            context = config["model"].get("context_length") or 4096
            # Outside the catalog: as many images as the context holds (phi3v turns any
            # image into at most 2,509 tokens with onnxruntime-genai 0.18.0).
            images = max(1, context // PHI3V_IMAGE_TOKENS) if is_vision(config) else 0
            entries.append(ModelEntry(
                id=name, family=phi.name if phi else None, vision=is_vision(config),
                max_images=phi.images_on(self.id) if phi else images,
                context_length=context, source="local"))
        return entries


def generate_message(request: ChatRequest) -> wire.Generate:
    """The worker's message for ``request``, the whole conversation (its request id is
    set when sent)."""
    history = tuple((turn.role, turn.text, len(turn.images)) for turn in request.history)
    return wire.Generate(0, request.prompt, request.system, request.max_tokens,
                         request.temperature, request.top_p, request.seed,
                         tuple((image.data, image.name) for image in request.all_images()),
                         history)


def loaded(name: str, load_ms: float, model_ms: float, details: dict[str, float],
           in_run: bool) -> Event:
    """Record a load in ``details`` (``load_ms``: the worker's start-up and the model's
    load, ``worker_start_ms``: the start-up alone) and say so in a notice."""
    details["load_ms"] = load_ms
    details["worker_start_ms"] = max(0.0, load_ms - model_ms)
    return load_notice(name, load_ms, in_run, detail=f"{details['worker_start_ms']:.0f} ms "
                       "of it starting the worker process")
