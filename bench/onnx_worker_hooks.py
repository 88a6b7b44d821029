"""Start ``onnx`` worker processes with a hook applied first (the tests and
bench/onnx_decode.py reshape or slow down generation this way; the app never does).

Run as a script in the worker's place (``python -P bench/onnx_worker_hooks.py WORKER_FILE
HOOK_FILE FUNCTION KWARGS_JSON``), it loads the worker module from its file, calls
``FUNCTION(worker_module, **kwargs)`` from HOOK_FILE, then runs the worker as usual. Like
the worker, it imports only the standard library (and what the hook file imports), never
the ``providers`` package.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


def command(worker_file: str | Path, hook_file: str | Path, function: str,
            **kwargs: Any) -> list[str]:
    """The command that starts a worker with ``function`` of ``hook_file`` applied."""
    return [sys.executable, "-P", str(Path(__file__).resolve()), str(worker_file),
            str(Path(hook_file).resolve()), function, json.dumps(kwargs)]


def exact_length(worker: ModuleType) -> None:
    """Every run generates exactly max_length (prompt + max tokens): a random model would
    otherwise stop at a random <|end|> (bench/onnx_decode.py)."""
    search_options = worker.search_options

    def exact(spec, prompt_tokens, room):  # type: ignore[no-untyped-def]
        options = search_options(spec, prompt_tokens, room)
        return {**options, "min_length": options["max_length"]}
    worker.search_options = exact


def load(name: str, path: str) -> ModuleType:
    """The module in the file ``path``, imported under ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    worker_file, hook_file, function, kwargs = sys.argv[1:5]
    worker = load("onnx_worker", worker_file)
    hooks = sys.modules[__name__] if Path(hook_file) == Path(__file__).resolve() else load(
        "onnx_hooks", hook_file)
    getattr(hooks, function)(worker, **json.loads(kwargs))
    worker.run_as_script()
