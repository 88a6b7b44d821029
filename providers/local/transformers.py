"""Hugging Face Transformers in-process (``transformers:PATH_OR_ID``), an optional extra.

torch and transformers are imported only when a model is used (``pip install -r
requirements-transformers.txt``; torch is large). PATH_OR_ID is a local model folder or
a Hub id already in the local Hugging Face cache (nothing is downloaded here). Models are
shared through the same cache and worker-thread bridge as the ``onnx`` provider;
``model.generate`` reports each new id to a streamer that counts it and decodes it with
the tokenizers library's stream decoder, and stops at the next token once the run is
stopped (the streamer raises, and a StoppingCriteria checks the stop flag too): that
part is ``transformers_run``.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from functools import partial
from pathlib import Path
from typing import Any

from providers.base import ChatRequest, Event, Provider
from providers.errors import NotFoundError, UnsupportedInputError
from providers.local.local_rules import load_notice, max_loaded
from providers.local.threaded import ModelCache, ThreadSink, stream_from_thread
from providers.local.transformers_run import HFModel, load_hf_model, run_generate
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
_CACHE: ModelCache[HFModel] = ModelCache()
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")  # transformers 4 / 5


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
