"""Start ``onnx`` worker processes with a hook applied first (the tests and
bench/onnx_decode.py reshape or slow down generation this way; the app never does).

Run in the worker's place (``python -P -m bench.onnx_worker_hooks WORKER_MODULE
MODULE:FUNCTION KWARGS_JSON``), it imports the worker module, calls
``FUNCTION(worker_module, **kwargs)``, then runs the worker as usual. It imports nothing
beyond the standard library itself; a hook's module should do the same (no SDK, no UI).
"""

from __future__ import annotations

import importlib
import json
import sys
from types import ModuleType
from typing import Any


def command(worker_module: str, hook: str, **kwargs: Any) -> list[str]:
    """The command that starts a worker (``worker_module``) with ``hook``
    (``module:function``) applied; it needs the parent's ``worker_environment()``."""
    return [sys.executable, "-P", "-m", "bench.onnx_worker_hooks", worker_module, hook,
            json.dumps(kwargs)]


def exact_length(worker: ModuleType) -> None:
    """Every run generates exactly max_length (prompt + max tokens): a random model would
    otherwise stop at a random <|end|> (bench/onnx_decode.py)."""
    search_options = worker.onnx_model.search_options

    def exact(spec, prompt_tokens, room):  # type: ignore[no-untyped-def]
        options = search_options(spec, prompt_tokens, room)
        return {**options, "min_length": options["max_length"]}
    worker.onnx_model.search_options = exact


def main(worker_module: str, hook: str, kwargs: str) -> None:
    worker = importlib.import_module(worker_module)
    module, _, function = hook.partition(":")
    hooks = sys.modules[__name__] if module == "bench.onnx_worker_hooks" else (
        importlib.import_module(module))
    getattr(hooks, function)(worker, **json.loads(kwargs))
    worker.run_as_script()


if __name__ == "__main__":
    main(*sys.argv[1:4])
