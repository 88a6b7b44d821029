"""Download local models when the app starts: a server owner's keyless demo.

``PLAYGROUND_PRELOAD_MODELS=phi-3-mini-4k,phi-3.5-mini`` (names from
``python -m playground models list``, separated by commas or spaces) makes the app
download those ONNX models into ``ONNX_MODELS_DIR`` in one background thread, one model
after the other, through the same resumable download as ``python -m playground models
download`` (:func:`playground.local_models.download`). The page serves at once; each
model becomes runnable (``onnx:NAME``) when its folder is complete. Progress goes to the
``playground.preload`` log (INFO, about every 10 %; failures at ERROR) and to a
:class:`PreloadState` the page can poll. Public mode turns visitors' downloads off; a
preload is the server owner's own choice and runs there too.

API::

    state = start_preload(settings)   # None when the variable is unset or empty
    state.snapshot()                  # [{"name", "title", "bytes_done", "bytes_total",
                                      #   "status", "error"}, ...] in the order given
    state.finished                    # True once every model is done or failed
    current()                         # the latest started state (None if never started)

``status`` is ``waiting``, ``downloading``, ``done`` (downloaded now), ``present``
(already there, nothing downloaded) or ``error`` (``error`` says why and what to do);
``bytes_done`` / ``bytes_total`` are bytes on disk and the listed total (``None`` until
the Hub has listed the files).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playground.local_models import (
    DownloadError,
    Progress,
    download,
    is_model_folder,
    known_model,
    models_dir,
)
from providers.settings import Settings

PRELOAD_VAR = "PLAYGROUND_PRELOAD_MODELS"
TERMINAL = ("done", "present", "error")
log = logging.getLogger("playground.preload")
Downloader = Callable[[str, Settings, Progress], Path]

_LOCK = threading.Lock()
_CURRENT: PreloadState | None = None


class PreloadState:
    """Thread-safe progress of one preload, one entry per requested model."""

    def __init__(self, names: list[str]) -> None:
        self._lock = threading.Lock()
        self._items = {name: {"name": name, "title": name, "bytes_done": 0, "bytes_total": None,
                              "status": "waiting", "error": None} for name in names}
        self._thread: threading.Thread | None = None

    def snapshot(self) -> list[dict[str, Any]]:
        """A copy of every entry (see the module docstring for the fields)."""
        with self._lock:
            return [dict(item) for item in self._items.values()]

    def update(self, name: str, **fields: Any) -> None:
        with self._lock:
            self._items[name].update(fields)

    @property
    def finished(self) -> bool:
        with self._lock:
            return all(item["status"] in TERMINAL for item in self._items.values())

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the background thread (tests, shutdown); True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True


def requested(settings: Settings) -> list[str]:
    """The names in PLAYGROUND_PRELOAD_MODELS, lower-cased, each once, in order."""
    names = re.split(r"[\s,]+", (settings.get(PRELOAD_VAR) or "").strip().lower())
    return list(dict.fromkeys(name for name in names if name))


def start_preload(settings: Settings, downloader: Downloader = download) -> PreloadState | None:
    """Start downloading the models PLAYGROUND_PRELOAD_MODELS names, in a daemon thread.

    Returns at once: None when the variable is unset, else the state to poll. While a
    preload runs in this process, starting another returns the running one (two
    downloads into one folder would fight). Never raises for a bad name: that entry
    is marked ``error`` and the log says which names are known.
    """
    global _CURRENT
    names = requested(settings)
    if not names:
        return None
    with _LOCK:
        if _CURRENT is not None and not _CURRENT.finished:
            log.info("A preload is already running; not starting another.")
            return _CURRENT
        state = _CURRENT = PreloadState(names)
    for name in names:
        try:
            state.update(name, title=known_model(name).title)
        except DownloadError as exc:
            state.update(name, status="error", error=f"{PRELOAD_VAR}: {exc}")
            log.error("%s: %s Nothing is downloaded for it.", PRELOAD_VAR, exc)
    state._thread = threading.Thread(target=_run, args=(state, settings, downloader),
                                     name="preload-models", daemon=True)
    state._thread.start()
    return state


def current() -> PreloadState | None:
    """The state of the latest preload started in this process, if any."""
    return _CURRENT


def _run(state: PreloadState, settings: Settings, downloader: Downloader) -> None:
    root = models_dir(settings)
    for item in state.snapshot():
        if item["status"] != "waiting":
            continue
        name = item["name"]
        folder = root / name
        if is_model_folder(folder):
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            state.update(name, status="present", bytes_done=size, bytes_total=size)
            log.info("Preload: %s is already in %s.", name, folder)
            continue
        state.update(name, status="downloading")
        log.info("Preload: downloading %s into %s.", name, folder)
        try:
            downloader(name, settings, _reporter(state, name))
        except DownloadError as exc:
            state.update(name, status="error", error=str(exc))
            log.error("Preload of %s failed: %s", name, exc)
        except Exception as exc:  # a bug must not take the app down with it
            state.update(name, status="error", error=f"{type(exc).__name__}: {exc}")
            log.exception("Preload of %s failed unexpectedly.", name)
        else:
            state.update(name, status="done")
            log.info("Preload: %s is ready (onnx:%s).", name, name)


def _reporter(state: PreloadState, name: str) -> Progress:
    """Record progress; log it when it crosses each further 10 %."""
    logged = [-1]

    def progress(done: int, total: int) -> None:
        state.update(name, bytes_done=done, bytes_total=total)
        tenth = done * 10 // total if total else 0
        if tenth > logged[0]:
            logged[0] = tenth
            log.info("Preload: %s %d%% (%.2f of %.2f GB).", name, tenth * 10, done / 1e9,
                     total / 1e9)

    return progress
