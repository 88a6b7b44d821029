"""Phi ONNX models the playground knows how to download, and the download itself.

Each known model is one sub-folder of a Microsoft ONNX repository on the Hugging Face Hub
(the CPU int4 variants those repositories publish). A download goes into a hidden
``.NAME.partial`` folder next to the target and is renamed to ``ONNX_MODELS_DIR/NAME`` only
when every file is there with its listed size, so an interrupted or failed download never
leaves a folder that looks like a model (a later download resumes from the partial files).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.settings import Settings

CONFIG_FILE = "genai_config.json"
GB = 1_000_000_000
Progress = Callable[[int, int], None]  # (bytes on disk, total bytes)


@dataclass(frozen=True)
class KnownModel:
    """One downloadable model; ``name`` is its folder and its ``onnx:`` id (catalog)."""

    name: str
    title: str
    repo_id: str
    subfolder: str
    approx_bytes: int  # from the Hub's file listing; the exact total is listed at download
    vision: bool = False

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/tree/main/{self.subfolder}"


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel("phi-3-mini-4k", "Phi-3-mini-4k-instruct (int4 RTN, CPU)",
               "microsoft/Phi-3-mini-4k-instruct-onnx",
               "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4", int(2.72 * GB)),
    KnownModel("phi-3.5-mini", "Phi-3.5-mini-instruct (int4 AWQ, CPU)",
               "microsoft/Phi-3.5-mini-instruct-onnx",
               "cpu_and_mobile/cpu-int4-awq-block-128-acc-level-4", int(2.78 * GB)),
    KnownModel("phi-3.5-vision", "Phi-3.5-vision-instruct (int4 RTN, CPU)",
               "microsoft/Phi-3.5-vision-instruct-onnx",
               "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4", int(3.22 * GB), vision=True),
    KnownModel("phi-3-vision-128k", "Phi-3-vision-128k-instruct (int4 RTN, CPU)",
               "microsoft/Phi-3-vision-128k-instruct-onnx",
               "cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4", int(3.22 * GB), vision=True),
)


class DownloadError(Exception):
    """A download that could not be done; the message says why and what to do."""


def known_model(name: str) -> KnownModel:
    """The known model called ``name``; DownloadError listing the names otherwise."""
    for model in KNOWN_MODELS:
        if model.name == name.strip().lower():
            return model
    raise DownloadError(f"Unknown model {name!r}; known: "
                        f"{', '.join(m.name for m in KNOWN_MODELS)}.")


def models_dir(settings: Settings) -> Path:
    """ONNX_MODELS_DIR (default ./models)."""
    return Path(settings.get("ONNX_MODELS_DIR") or "./models").expanduser()


def is_model_folder(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()


def local_models(settings: Settings) -> list[dict[str, Any]]:
    """Every known model and every other model folder, with whether it is present."""
    root = models_dir(settings)
    rows = [{"name": m.name, "title": m.title, "repo_id": m.repo_id, "subfolder": m.subfolder,
             "approx_gb": round(m.approx_bytes / GB, 2), "vision": m.vision,
             "present": is_model_folder(root / m.name), "path": str(root / m.name),
             "partial": (root / f".{m.name}.partial").is_dir(), "known": True}
            for m in KNOWN_MODELS]
    known = {m.name for m in KNOWN_MODELS}
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if folder.name not in known and is_model_folder(folder):
                rows.append({"name": folder.name, "title": "(local folder)", "repo_id": None,
                             "subfolder": None, "approx_gb": round(_size(folder) / GB, 3),
                             "vision": _is_vision(folder), "present": True,
                             "path": str(folder), "partial": False, "known": False})
    return rows


def download(name: str, settings: Settings, progress: Progress | None = None,
             *, endpoint: str | None = None) -> Path:
    """Download known model ``name`` into ONNX_MODELS_DIR/NAME and return that folder.

    Blocking (run it in a thread from async code). ``progress(done, total)`` is called
    about four times a second with bytes on disk. Raises DownloadError.
    """
    from huggingface_hub import constants

    model = known_model(name)
    # HF_ENDPOINT from the environment or .env (huggingface_hub reads the environment only).
    endpoint = endpoint or settings.get("HF_ENDPOINT") or constants.ENDPOINT
    root = models_dir(settings)
    target, partial = root / model.name, root / f".{model.name}.partial"
    if is_model_folder(target):
        return target
    if target.exists():
        raise DownloadError(f"{target} exists but is not a complete model (no {CONFIG_FILE}); "
                            "move or delete it, then download again.")
    commit, files = _listing(model, endpoint)
    total = sum(size for size in files.values())
    root.mkdir(parents=True, exist_ok=True)
    with _Watcher(partial, total, progress):
        _fetch(model, commit, partial, endpoint)
    missing = [path for path, size in files.items()
               if not (partial / path).is_file() or (partial / path).stat().st_size != size]
    if missing:
        raise DownloadError(f"The download of {model.name} is incomplete ({len(missing)} of "
                            f"{len(files)} files missing or cut short: {missing[0]}, ...). "
                            f"Run the download again to resume from {partial}.")
    (partial / model.subfolder).rename(target)
    shutil.rmtree(partial, ignore_errors=True)
    if progress:
        progress(total, total)
    return target


def _listing(model: KnownModel, endpoint: str) -> tuple[str, dict[str, int]]:
    """The commit and the files (path -> bytes) of the model's sub-folder on the Hub."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint)
    try:
        commit = api.model_info(model.repo_id).sha
        files = {f.path: f.size for f in api.list_repo_tree(
            model.repo_id, path_in_repo=model.subfolder, recursive=True, revision=commit)
            if isinstance(f, RepoFile)}
    except Exception as exc:  # every way the Hub can be unreachable or refuse
        raise DownloadError(_hub_failure(model, exc, api.endpoint)) from exc
    if not files or f"{model.subfolder}/{CONFIG_FILE}" not in files:
        raise DownloadError(f"{model.repo_id} has no {model.subfolder}/{CONFIG_FILE} at "
                            f"{api.endpoint}: the repository layout changed ({model.url}).")
    assert commit is not None
    return commit, files


def _fetch(model: KnownModel, commit: str, partial: Path, endpoint: str) -> None:
    from huggingface_hub import snapshot_download
    from tqdm.auto import tqdm

    class Silent(tqdm):  # progress is reported by _Watcher, for the CLI and the UI alike
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "disable": True})

    try:
        snapshot_download(model.repo_id, revision=commit, local_dir=partial,
                          allow_patterns=[f"{model.subfolder}/*"], endpoint=endpoint,
                          tqdm_class=Silent)
    except Exception as exc:
        raise DownloadError(_hub_failure(model, exc, endpoint, partial)) from exc


def _hub_failure(model: KnownModel, exc: Exception, endpoint: str,
                 partial: Path | None = None) -> str:
    from huggingface_hub.errors import OfflineModeIsEnabled, RepositoryNotFoundError

    where = endpoint
    kept = (f" Partial files stay in {partial}; the next download resumes from them."
            if partial is not None and partial.exists() else " Nothing was written.")
    if isinstance(exc, OfflineModeIsEnabled):
        return f"HF_HUB_OFFLINE is set, so downloads are disabled; unset it to download.{kept}"
    if isinstance(exc, RepositoryNotFoundError):
        return f"{where} has no repository {model.repo_id} ({model.url}).{kept}"
    return (f"Cannot download {model.name} from {where} ({type(exc).__name__}: {exc}). "
            f"Downloads need internet access to the Hugging Face Hub.{kept}")


class _Watcher:
    """Calls ``progress(bytes on disk under folder, total)`` every 0.25 s while open."""

    def __init__(self, folder: Path, total: int, progress: Progress | None) -> None:
        self.folder, self.total, self.progress = folder, total, progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-progress", daemon=True)

    def __enter__(self) -> _Watcher:
        if self.progress:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.progress(min(_size(self.folder), self.total), self.total)  # type: ignore[misc]


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*") if folder.exists() else ():
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # renamed or deleted by the downloader meanwhile
            pass
    return total


def _is_vision(folder: Path) -> bool:
    import json

    try:
        return "vision" in json.loads((folder / CONFIG_FILE).read_text())["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
