"""SDK modules imported on first use, so that listing providers or checking settings
never pays for an SDK (``openai`` alone takes 0.4-0.9 s to import on a 2-core machine).

:func:`lazy_import` is the standard library's recipe (``importlib.util.LazyLoader``,
"Implementing lazy imports" in the importlib documentation): the module object exists at
once, its code runs at the first attribute access (``openai.AsyncOpenAI``).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """Module ``name``, loaded when first used (at once if it is already loaded)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
