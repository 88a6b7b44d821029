"""SDK modules imported on first use, so that listing providers or checking settings
never pays for an SDK (``openai`` alone takes 0.4-0.9 s to import on a 2-core machine).

:func:`lazy_import` returns a stand-in whose attributes are the real module's: the first
attribute access (``openai.AsyncOpenAI``) imports it with :func:`importlib.import_module`.
That runs under Python's import lock, so two threads that touch the same SDK first at
the same moment (the engine prepares targets in worker threads) both get the whole
module. The standard library's ``importlib.util.LazyLoader`` recipe is not safe for that
on Python 3.11 (fixed in 3.12.3, gh-114763), which is why it is not used here.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


class _OnFirstUse(ModuleType):
    """Forwards every attribute to the module named like it, importing it if needed."""

    def __getattr__(self, attribute: str) -> object:
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_import(name: str) -> ModuleType:
    """Module ``name``, loaded when first used (the module itself if already loaded)."""
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _OnFirstUse(name)
