"""Public-server mode as the providers see it (``PLAYGROUND_PUBLIC=1``, or a Hugging
Face Space): local runtimes take only model *names*, never paths, and Ollama only when
the server's owner pointed ``OLLAMA_HOST`` somewhere on purpose.

The flag is read from the settings, so the same rule holds for the web UI, the Gradio
API, the CLI and scenario runs; a visitor cannot set it (the browser may set keys only).
"""

from __future__ import annotations

import re
from collections.abc import Callable

PUBLIC_FLAG = "PLAYGROUND_PUBLIC"
_TRUE = ("1", "true", "yes", "on")
# A folder name: letters, digits, "._-", no separators, no "..", at most 100 characters.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# A Hugging Face Hub id: OWNER/NAME, each a folder name.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def is_public(get: Callable[[str], str | None]) -> bool:
    """Whether these settings (``get``: name -> value) describe a public server."""
    flag = (get(PUBLIC_FLAG) or "").lower()
    return flag in _TRUE or (bool(get("SPACE_ID")) and flag not in ("0", "false"))


def plain_name(name: str) -> bool:
    """A bare folder name (no path, no ``..``, bounded length)."""
    return bool(_NAME.fullmatch(name)) and ".." not in name


def hub_id(name: str) -> bool:
    """An ``OWNER/NAME`` Hub id (no other path, no ``..``, bounded length)."""
    return bool(_HUB_ID.fullmatch(name)) and ".." not in name


def local_refusal(title: str, what: str) -> str:
    """The one message every refused local model name gets on a public server: the same
    for a path that exists, one that does not and one that cannot be read, so the answer
    tells a visitor nothing about the server's files."""
    return (f"This public server runs {title} models by name only ({what}), never a path: "
            "pick one from the model list.")
