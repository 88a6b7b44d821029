"""A conversation read from a JSON file (``compare --conversation FILE.json``).

The file holds OpenAI-style chat messages, either as ``{"messages": [...]}`` or as the
list itself: an optional ``system`` message first, then ``user`` and ``assistant``
messages alternating, from a user message to the user message to answer now. A
message's ``content`` is a string or a list of parts: ``{"type": "text", "text": ...}``
and, in user messages, ``{"type": "image_url", "image_url": {"url": ...}}`` whose URL is
a ``data:`` URL or an image file path (relative to the JSON file's folder). Everything
is checked before anything is sent; every problem is listed (:class:`InputError`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.validate import MAX_HISTORY_TURNS, MAX_IMAGES, InputError
from providers.base import ChatRequest, ImageInput, Turn
from providers.errors import UnsupportedInputError
from providers.images import MAX_FILE_BYTES, check_image, load_image

MAX_FILE_MB = 64  # 20 images of up to 20 MB would not fit anyway: the images' limit is per image
MAX_MESSAGES = MAX_HISTORY_TURNS + 2  # the history, the new question and a system message


@dataclass(frozen=True)
class Conversation:
    """What the file says: the system prompt, the earlier turns and the new user turn."""

    system: str | None
    history: tuple[Turn, ...]
    prompt: str
    images: tuple[ImageInput, ...]

    def request(self, **options: Any) -> ChatRequest:
        """The ChatRequest for every target (``options``: sampling keywords)."""
        return ChatRequest("", self.prompt, system=self.system, images=self.images,
                           history=self.history, **options)


def load_conversation(path: str | Path) -> Conversation:
    """Read and check ``path``; raise InputError listing every problem."""
    path = Path(path)
    name = f"--conversation {path}"
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError([f"{name} is not a file."])
        if size > MAX_FILE_MB * 2**20:
            raise InputError([f"{name} is {size / 2**20:.0f} MB; the limit is {MAX_FILE_MB} MB."])
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError([f"{name} cannot be read ({exc.strerror or type(exc).__name__})."]) from None
    except (ValueError, RecursionError) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise InputError([f"{name} is not valid JSON ({str(exc)[:200]})."]) from None
    return parse_messages(data, path.parent, name)


def parse_messages(data: Any, folder: Path, name: str = "the conversation") -> Conversation:
    """A Conversation from parsed JSON; image paths are relative to ``folder``."""
    messages = data.get("messages") if isinstance(data, dict) else data
    if not isinstance(messages, list) or not messages:
        raise InputError([f"{name} must hold a non-empty list of messages "
                          '(a list, or {"messages": [...]}).'])
    if len(messages) > MAX_MESSAGES:
        raise InputError([f"{name} has {len(messages)} messages; the limit is {MAX_MESSAGES}."])
    problems: list[str] = []
    system = None
    if isinstance(messages[0], dict) and messages[0].get("role") == "system":
        system, _ = _content(messages[0], folder, "message 1", problems, images_ok=False)
        messages = messages[1:]
    turns: list[Turn] = []
    offset = 1 if system is not None else 0
    for index, message in enumerate(messages):
        where = f"message {index + 1 + offset}"
        expected = "user" if index % 2 == 0 else "assistant"
        role = message.get("role") if isinstance(message, dict) else None
        if role != expected:
            problems.append(f"{where}: expected a {expected} message, not {role!r} (a system "
                            "message comes first; then user and assistant alternate).")
            continue
        text, images = _content(message, folder, where, problems, images_ok=role == "user")
        turns.append(Turn(role, text, images))
    if not problems and (not turns or turns[-1].role != "user"):
        problems.append(f"{name} must end with the user message to answer now.")
    if sum(len(t.images) for t in turns) > MAX_IMAGES:
        problems.append(f"{name} has more than {MAX_IMAGES} images.")
    if problems:
        raise InputError([f"{name}: {p}" for p in problems])
    last = turns[-1]
    return Conversation(system, tuple(turns[:-1]), last.text, last.images)


def _content(message: dict[str, Any], folder: Path, where: str, problems: list[str], *,
             images_ok: bool) -> tuple[str, tuple[ImageInput, ...]]:
    """A message's text and images; problems are appended, never raised."""
    content = message.get("content")
    if isinstance(content, str):
        return content, ()
    if not isinstance(content, list):
        problems.append(f"{where}: content must be a string or a list of parts.")
        return "", ()
    texts: list[str] = []
    images: list[ImageInput] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and images_ok:
            if (image := _image(part.get("image_url"), folder, where, problems)) is not None:
                images.append(image)
        elif kind == "image_url":
            problems.append(f"{where}: only user messages may carry images.")
        else:
            problems.append(f"{where}: a part must be text or image_url, not {str(kind)[:40]!r}.")
    return "\n".join(texts), tuple(images)


def _image(value: Any, folder: Path, where: str, problems: list[str]) -> ImageInput | None:
    """An ``image_url`` part's image: a data URL or a file path, checked."""
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        problems.append(f"{where}: image_url needs a url (a data: URL or a file path).")
        return None
    try:
        if url.startswith("data:"):
            return _data_url(url, where)
        if "://" in url:
            raise UnsupportedInputError(f"{where}: {url[:60]!r} is a web address; give a "
                                        "file path or a data: URL (nothing is downloaded).")
        return load_image(folder / url)
    except UnsupportedInputError as exc:
        problems.append(exc.message)
        return None


def _data_url(url: str, where: str) -> ImageInput:
    head, _, payload = url.partition(",")
    if not head.endswith(";base64") or not payload:
        raise UnsupportedInputError(f"{where}: a data URL must be base64 "
                                    "(data:image/png;base64,...).")
    if len(payload) > 4 * MAX_FILE_BYTES // 3 + 4:
        raise UnsupportedInputError(f"{where}: an image is over {MAX_FILE_BYTES // 2**20} MB.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UnsupportedInputError(f"{where}: the data URL is not valid base64.") from None
    return check_image(data, f"{where} image")
